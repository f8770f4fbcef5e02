"""A state machine over ORCID placements: works and grants arrive as events, the placement
messages are delivered, redelivered, lost, run by two workers at once or by a worker that dies
after ORCID answered; ORCID answers 2xx, 409, 404, 401, 5xx or loses its answer; the
researcher revokes at ORCID or deletes our work there.

Invariants: never two works of ours on the record for one of our works (one ORCID work per
(record, source-work-id, client)), after every step; and once the messages, sweeps and the
record's reconciliation have run to quiescence, every placement says what the record holds
(its put-code, our title on it), and nothing of ours is on the record that no placement
tracks.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from tests.helpers import SOURCE, process_event
from tests.helpers import work as base_work
from tests.model.conftest import EXAMPLES, Message, World
from worker.db import enqueue_after_commit
from worker.models import (
    GrantStatus,
    OrcidGrant,
    OrcidPlacement,
    PlacementState,
    ReceivedEvent,
    Work,
)
from worker.orcid import backfill, payload, placements, reconcile, revocation, settled, sweep
from worker.orcid.grants import can_write, seal_token_response
from worker.registrars import reconcile as registrars_reconcile
from worker.registrars.datacite import service as datacite

#: This machine's share of the examples (the DOI machine's steps cost more), and steps per
#: example.
EXAMPLES = max(1, EXAMPLES * 55 // 100)
STEPS = 8
WORKS = ("w-1", "w-2")
TITLES = ("Ocean temperatures", "Deep currents")
#: What a work's next event says.
CHANGES = (*TITLES, "not naming them", "withdrawn")
#: How a message can go wrong (hypothesis draws the first ones more often: the costliest
#: mishaps first).
MISHAPS = ("crash after the call", "two at once", "again", "lost")
#: What ORCID answers the next write (POST/PUT/DELETE of a work) with, besides the real
#: answers its state gives (2xx, 409 for a duplicate, 404 for a deleted work, 401 for a revoked
#: token): a scripted answer without effect, or the real one lost on the way back.
ANSWERS = {
    "500": {"answer": 500},
    "503": {"answer": 503},
    "lost": {"answer": "lost"},
    "401": {"answer": 401, "body": {"error": "invalid_token", "error_description": "scripted"}},
    "409": {
        "answer": 409,
        "body": {"response-code": 409, "developer-message": "scripted", "error-code": 9021},
    },
}
#: Messages whose effects are outside this model (webhooks to the emitting system, ORCID's
#: webhook registration, id suggestions): taken off the bag, not run.
IGNORED = {"notify.deliver", "orcid.register_webhook", "orcid.unregister_webhook", "orcid.suggest"}
#: Rounds of settling before the model calls the system stuck.
SETTLE_ROUNDS = 12

_events = itertools.count(1)


def run_message(world: World, message: Message, session: Any) -> float | None:
    """What the message's actor calls, in ``session``: the delay it postpones the message by
    (None: done)."""
    name, args = message
    deps = world.runtime.orcid
    if name == "orcid.place":
        return placements.place(session, deps, *args).delay
    if name == "orcid.backfill":
        return backfill.backfill(session, deps, *args).delay
    if name == "orcid.revoke_token":
        return revocation.revoke_at_orcid(session, deps, *args).delay
    if name == "orcid.check_grant":
        return reconcile.check_grant(session, deps, *args).delay
    if name == "orcid.reconcile":
        return reconcile.reconcile_record(session, deps, *args).delay
    if name == "orcid.doi_settled":
        # The actor places the works it wakes itself after this unit of work, each in a unit of
        # its own (worker.orcid.settled): modelled as orcid.place messages, which the model
        # delivers, redelivers, crashes and loses like any other.
        result, here = placements.settle_doi(session, world.settings, *args, inline=settled.INLINE)
        for placement_id in here:
            enqueue_after_commit(session, "orcid.place", placement_id)
        return result.delay
    registrars = world.runtime.registrars
    if name == "registrars.datacite.sync":
        return datacite.sync_registration(session, registrars, *args)
    if name == "registrars.reconcile":
        finding = registrars_reconcile.reconcile_registration(session, registrars, *args)
        return finding.retry_in if finding else None
    raise AssertionError(f"the model has no delivery for {name}")


class OrcidMachine(RuleBasedStateMachine):
    world: World  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.world.reset()
        sandbox = self.world.sandbox
        self.client_id = sandbox.ctx.accounts.orcid_clients[0].client_id
        self.orcid = sandbox.add_researcher(given_names="Ada", family_name="Lovelace")
        self.bag: list[Message] = []
        self.versions: dict[str, int] = {}
        self.tokens: list[str] = []  # access tokens issued (the researcher may revoke one)
        self.deleted: set[int] = set()  # put-codes the researcher deleted at ORCID

    # --- helpers ------------------------------------------------------------------------------

    def _event(self, event_type: str, data: dict[str, Any]) -> None:
        def step(session: Any) -> Any:
            row = ReceivedEvent(
                source=SOURCE,
                event_id=f"m-{next(_events)}",
                type=event_type,
                client_id="cris",
                correlation_id="model",
                data=data,
            )
            session.add(row)
            session.flush()
            return process_event(session, row.id)

        outcome, messages = self.world.unit(step)
        assert outcome.status.value in ("done", "stale", "failed"), outcome
        self._keep(messages)

    def _keep(self, messages: list[Message]) -> None:
        self.bag.extend(m for m in messages if m[0] not in IGNORED and m[0] != "events.process")

    def _deliver(self, message: Message) -> None:
        delay, messages = self.world.unit(lambda s: run_message(self.world, message, s))
        self._keep(messages)
        if delay is not None:  # the actor postpones the message: it comes again
            self.bag.append(message)

    def work_data(
        self, key: str, version: int, title: str, contributor: dict[str, str]
    ) -> dict[str, Any]:
        """The event's Work (here without a DOI of ours to register)."""
        return base_work(
            key, version=version, title=title, url=f"https://repo.example.edu/{key}",
            contributors=[contributor],
        )  # fmt: skip

    # --- rules: what arrives ------------------------------------------------------------------

    @rule(key=st.sampled_from(WORKS), change=st.sampled_from(CHANGES))
    def work_event(self, key: str, change: str) -> None:
        """A new version of a work (naming the researcher, or no longer), or its withdrawal."""
        if change == "withdrawn" and key not in self.versions:
            # A withdrawal of a work never sent waits for its publication, then fails after its
            # tries (tests/events cover it): it would only stall the settling, so the first
            # event of a work is always its publication.
            change = TITLES[0]
        version = self.versions.get(key, 0) + 1
        self.versions[key] = version
        if change == "withdrawn":
            self._event("work.withdrawn", {"id": key, "version": version})
        else:
            contributor = {"given": "Ada", "family": "Lovelace"}
            if change != "not naming them":
                contributor["orcid"] = self.orcid
            title = change if change in TITLES else "Untitled elsewhere"
            data = self.work_data(key, version, title, contributor)
            self._event("work.updated" if version > 1 else "work.published", data)
        self.world.count(f"work: {change}")

    @rule(change=st.sampled_from(("grant", "read-only grant", "researcher.revoked")))
    def consent(self, change: str) -> None:
        """The researcher consents (read-only: to nothing we can use), or the emitting system
        withdraws their consent."""
        if change == "researcher.revoked":
            self._event("researcher.revoked", {"orcid": self.orcid})
        else:
            scope = "/read-limited" if change == "read-only grant" else ""
            token = self.world.sandbox.issue_token(self.orcid, self.client_id, scope)
            self.tokens.append(token["access_token"])
            sealed = seal_token_response(self.world.runtime.cipher, token, self.client_id)
            self._event("researcher.authorized", sealed)
        self.world.count(f"consent: {change}")

    @rule(what=st.sampled_from((*sorted(ANSWERS), "researcher deletes", "researcher revokes")))
    def at_orcid(self, what: str) -> None:
        """ORCID's answer to the next write (POST/PUT/DELETE of a work) is this one, instead
        of one scripted before; or the researcher deletes one of our works from the record (a
        later PUT: a real 404), or revokes the newest token there (a real 401)."""
        sandbox = self.world.sandbox
        if what == "researcher deletes":
            ours = [
                w["put_code"] for w in self._record() if w["source_client_id"] == self.client_id
            ]
            if not ours:
                return
            sandbox.delete_work(self.orcid, ours[0])
            self.deleted.add(ours[0])
        elif what == "researcher revokes":
            if not self.tokens:
                return
            sandbox.revoke_token(self.tokens[-1])
        else:
            sandbox.set_faults("orcid", script=[{**ANSWERS[what], "path": "/work"}])
        self.world.count(f"ORCID: {what}")

    # --- rules: how messages are delivered ----------------------------------------------------

    @precondition(lambda self: self.bag)
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        message = self.bag.pop(data.draw(st.integers(0, len(self.bag) - 1), label="message"))
        self._deliver(message)
        self.world.count("delivered")

    @precondition(lambda self: self.bag)
    @rule(how=st.sampled_from(MISHAPS), data=st.data())
    def misdeliver(self, how: str, data: st.DataObject) -> None:
        """Delivered again (the broker redelivers: the message stays), lost with the worker
        that died before the call (the sweeps must find it), run by a worker that died after
        ORCID answered and before its commit (the message stays), or run by two workers at
        the same moment."""
        index = data.draw(st.integers(0, len(self.bag) - 1), label="message")
        message = self.bag[index]
        if how == "again":
            self._deliver(message)
        elif how == "lost":
            self.bag.pop(index)
        elif how == "crash after the call":
            self.world.crashed(lambda s: run_message(self.world, message, s))
        else:
            self.bag.pop(index)
            results = self.world.together(lambda s: run_message(self.world, message, s))
            for delay, messages in results:
                self._keep(messages)
                if delay is not None:
                    self.bag.append(message)
        self.world.count(f"delivery: {how}")

    # --- invariants ---------------------------------------------------------------------------

    def _record(self) -> list[dict[str, Any]]:
        return list(self.world.sandbox.state()["orcid"]["records"][self.orcid]["works"])

    @invariant()
    def one_remote_work_per_key(self) -> None:
        seen: dict[tuple[str, str], int] = {}
        for work in self._record():
            for ext in work["external_ids"]:
                if ext["type"] == "source-work-id" and ext["relationship"] == "self":
                    key = (ext["value"], work["source_client_id"])
                    assert key not in seen, (key, seen[key], work["put_code"])
                    seen[key] = work["put_code"]

    def step_invariants(self) -> None:
        """The step invariants, also checked between the deliveries of settling."""
        self.one_remote_work_per_key()

    def teardown(self) -> None:
        try:
            self._settle()
            self._converged()
        finally:
            self.world.sandbox.set_faults("orcid", script=[])

    def _settle(self) -> None:
        """Deliver everything, run the sweeps and read the record back, until nothing moves."""
        world = self.world
        world.sandbox.set_faults("orcid", script=[])
        for _ in range(SETTLE_ROUNDS):
            moved = bool(self.bag)
            while self.bag:
                # Newest first: the order least kind to a gate (a placement queued after its
                # DOI's sync runs before it), and the invariants hold after each one.
                self._deliver(self.bag.pop())
                self.step_invariants()
            moved |= sweep.resend_stalled_placements(world.database, world.settings) > 0
            moved |= sweep.heal_waiting_placements(world.database, world.settings) > 0
            moved |= self.sweep_more() > 0
            self._keep(world.broker_messages())
            before = self._local()
            self._deliver(("orcid.reconcile", (self.orcid,)))
            moved |= bool(self.bag) or self._local() != before
            if not moved:
                return
        raise AssertionError(f"not settled after {SETTLE_ROUNDS} rounds: {self._local()}")

    def sweep_more(self) -> int:
        """Other sweeps to settle with (the DOI machine's): how many rows they moved."""
        return 0

    def _local(self) -> list[tuple[Any, ...]]:
        with self.world.database.session() as session:
            rows = session.execute(select(OrcidPlacement).order_by(OrcidPlacement.id)).scalars()
            return [(r.id, r.state, r.put_code, r.in_doubt, r.confirmed_hash) for r in rows]

    def _converged(self) -> None:
        record = {w["put_code"]: w for w in self._record()}
        with self.world.database.session() as session:
            active = session.execute(
                select(OrcidGrant).where(OrcidGrant.client_id == self.client_id)
            ).scalar_one_or_none()
            usable = active is not None and can_write(active)
            # Any active grant reads the record, a read-only one too.
            readable = active is not None and active.status == GrantStatus.ACTIVE
            tracked: set[int] = set()
            doubts = 0
            for row in session.execute(select(OrcidPlacement)).scalars():
                doubts += row.in_doubt and row.put_code is None
                work = session.get_one(Work, row.work_id)
                where = (row.state, row.put_code, row.last_error)
                # In doubt only while no grant lets pidsync read the record to find out.
                assert not row.in_doubt or not readable, where
                assert row.state != PlacementState.PENDING, where
                if row.put_code is not None:
                    tracked.add(row.put_code)
                if not readable and row.put_code in self.deleted:
                    # Deleted by the researcher at ORCID, then no grant left to read the record
                    # with: pidsync cannot see it; the next grant's read-back does.
                    continue
                if row.state == PlacementState.PLACED:
                    # Placed: on the record under its put-code, from our client, our content.
                    remote = record.get(row.put_code)
                    assert remote is not None, where
                    assert remote["source_client_id"] == row.client_id, where
                    assert remote["title"] == work.work_metadata["title"], where
                    assert row.confirmed_hash == payload.digest(payload.orcid_work(work)), where
                    assert work.withdrawn_at is None, where
                elif row.state in (PlacementState.DELETED, PlacementState.REMOVED_BY_RESEARCHER):
                    assert row.put_code is None or row.put_code not in record, where
                elif row.put_code is not None:
                    # Kept waiting (consent gone) or refused: what it names is still there.
                    assert row.put_code in record, where
                if row.state == PlacementState.AWAITING_CONSENT:
                    assert not usable, where  # a usable grant would have taken it
        # Nothing of ours on the record that no placement tracks (a duplicate in waiting); only
        # while no grant lets pidsync read the record may a placement in doubt stand for a work
        # it cannot see (a read-only grant reads: the doubt is resolved, the work adopted).
        ours = {c for c, w in record.items() if w["source_client_id"] == self.client_id}
        if readable:
            assert ours <= tracked, (ours, tracked)
        else:
            assert len(ours - tracked) <= doubts, (ours, tracked, doubts)


def test_orcid_placements_model(world: World) -> None:
    OrcidMachine.world = world
    run_state_machine_as_test(
        OrcidMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
    print("\nORCID model steps:", dict(sorted(world.counts.items())))
