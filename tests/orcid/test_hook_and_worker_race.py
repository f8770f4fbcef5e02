"""An event that changes a work while a worker is writing the work's placement (or about to).

Found by the chaos run with RabbitMQ as the broker (seed 19: "withdrawn but still on the
record", "the record does not hold version 3"): the messages held back by the broker's restart
came in a burst, and an event's hook and a worker's ``orcid.place`` met on one placement row.

- The hook read the row while the worker held it (pending, the worker's write in flight),
  decided from that, and its update, which waited for the worker's commit, wrote only the
  columns it changed: the worker's "placed" stood, and the newer version or the withdrawal was
  never sent (the hook's message then found nothing pending).
- A worker that waited for the event's lock on the row read the row as committed but its work
  as it was before the event (PostgreSQL re-reads only the rows a statement locks), and wrote
  the older version over the event's intent.

Both are run for real: two connections on the committing database, the sandbox holding the
worker's ORCID answer back (or the event's transaction held open) at the racing moment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import make_runtime
from tests.helpers import SOURCE, in_thread, process_event, until, waiting_on_a_lock, work
from tests.orcid.helpers import authorize, record_works
from tests.orcid.sections_helpers import funding, items, record_items
from tests.orcid.sections_helpers import settings as settings  # noqa: PLC0414 - the fixture
from worker.models import OrcidItem, OrcidPlacement, PlacementState, ReceivedEvent
from worker.orcid import placements
from worker.orcid.sections import placement as item_placement

#: How long the sandbox holds back the worker's ORCID answer (the write applied): long enough
#: for the event to reach the row meanwhile.
HELD_MS = 1500


@pytest.fixture
def live(settings, committed_database, broker, database_url, redis_url, cipher):
    """The booted runtime over the committing database (the event hooks read it)."""
    return make_runtime(settings, committed_database, broker, cipher, database_url, redis_url)


_numbers = iter(range(1, 10_000))


def _event(database: Any, event_type: str, data: dict[str, Any]) -> int:
    number = next(_numbers)
    with database.session() as session:
        row = ReceivedEvent(
            source=SOURCE, event_id=f"race-{number}", type=event_type, client_id="cris",
            correlation_id=f"corr-race-{number}", data=data,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def _process(database: Any, event_type: str, data: dict[str, Any]) -> None:
    event_id = _event(database, event_type, data)
    with database.session() as session:
        outcome = process_event(session, event_id)
        assert outcome.status.value == "done", outcome


def _version(key: str, version: int, title: str, orcid: str) -> dict[str, Any]:
    people = [{"given": "Ada", "family": "Lovelace", "orcid": orcid}]
    return work(key, version=version, title=title, contributors=people)


def _place_all(database: Any, deps: Any, run: Callable[..., Any], model: Any) -> None:
    """Every pending row's message, each in its own unit of work (until none is pending)."""
    for _ in range(5):
        with database.session() as session:
            ids = list(
                session.execute(select(model.id).where(model.state == PlacementState.PENDING))
                .scalars()
                .all()
            )
        if not ids:
            return
        for row_id in ids:
            with database.session() as session:
                run(session, deps, row_id)


def _worker_writing(sandbox: Any, database: Any, deps: Any, run: Any, row_id: int) -> Any:
    """A worker's message for the row, its ORCID write applied and its answer held back: the
    row stays locked by the worker's transaction meanwhile. Returns the thread."""
    sandbox.set_faults("orcid", answer_delay_ms=HELD_MS)

    def place() -> None:
        with database.session() as session:
            run(session, deps, row_id)

    thread, errors = in_thread(place)
    until("the worker's write reached ORCID", lambda: bool(sandbox.ctx.faults.answering()))
    sandbox.set_faults("orcid", answer_delay_ms=0)
    return thread, errors


def _placement(database: Any) -> OrcidPlacement:
    with database.session() as session:
        row = session.execute(select(OrcidPlacement)).scalar_one()
        session.expunge(row)
        return row


def _consenting(database: Any, sandbox: Any, cipher: Any, client_id: str) -> str:
    """A researcher who authorised this ORCID client to write, committed: their iD."""
    orcid = sandbox.add_researcher(given_names="Ada", family_name="Lovelace")
    with database.session() as session:
        authorize(session, sandbox, cipher, orcid, client_id)
    return orcid


def _version_two_queued(
    database: Any, deps: Any, sandbox: Any, cipher: Any, client_id: str
) -> tuple[str, OrcidPlacement]:
    """A consenting researcher, a work's version 1 on their record and its version 2 queued:
    the researcher's iD and the pending placement."""
    orcid = _consenting(database, sandbox, cipher, client_id)
    _process(database, "work.published", _version("w-1", 1, "Version one", orcid))
    _place_all(database, deps, placements.place, OrcidPlacement)
    _process(database, "work.updated", _version("w-1", 2, "Version two", orcid))
    return orcid, _placement(database)


def _version_three(change: str, orcid: str) -> tuple[str, dict[str, Any]]:
    """The next event for the work: its withdrawal, or its version 3."""
    if change == "the withdrawal":
        return "work.withdrawn", {"id": "w-1", "version": 3}
    return "work.updated", _version("w-1", 3, "Version three", orcid)


def _ours(sandbox: Any, orcid: str, client_id: str) -> list[dict[str, Any]]:
    return [w for w in record_works(sandbox, orcid) if w["source_client_id"] == client_id]


@pytest.mark.parametrize("change", ["a newer version", "the withdrawal"])
def test_an_event_during_a_workers_write_is_not_lost(
    live, committed_database, committed_deps, sandbox, cipher, client_id, change
):
    database, deps = committed_database, committed_deps
    # Given a work on a consenting researcher's record, and its version 2 queued for placing
    orcid, pending = _version_two_queued(database, deps, sandbox, cipher, client_id)
    assert pending.state == PlacementState.PENDING

    # When a worker writes version 2 (ORCID applied it, its answer still on the way) and
    # meanwhile the next event for the work is processed
    worker, errors = _worker_writing(sandbox, database, deps, placements.place, pending.id)
    _process(database, *_version_three(change, orcid))
    worker.join(timeout=30)
    assert not errors, errors
    # And the messages that event queued are run
    _place_all(database, deps, placements.place, OrcidPlacement)

    # Then the record holds what the newest event asks for, and so does pidsync's row
    ours = _ours(sandbox, orcid, client_id)
    row = _placement(database)
    if change == "the withdrawal":
        assert ours == []
        assert row.state == PlacementState.DELETED
    else:
        assert [w["title"] for w in ours] == ["Version three"]
        assert row.state == PlacementState.PLACED


@pytest.mark.parametrize("change", ["a newer version", "the withdrawal"])
def test_a_worker_that_waited_for_an_event_writes_what_the_event_committed(
    live, committed_database, committed_deps, sandbox, cipher, client_id, change
):
    database, deps = committed_database, committed_deps
    # Given a work on a consenting researcher's record, and its version 2 queued for placing
    orcid, pending = _version_two_queued(database, deps, sandbox, cipher, client_id)

    # When the next event is being processed (its transaction holding the placement) as a
    # worker takes version 2's message, and waits for the event's commit
    event_id = _event(database, *_version_three(change, orcid))
    with database.session() as session:
        assert process_event(session, event_id).status.value == "done"

        def place() -> None:
            with database.session() as worker_session:
                placements.place(worker_session, deps, pending.id)

        worker, errors = in_thread(place)
        until("the worker waits for the event's lock", lambda: waiting_on_a_lock(database))
    worker.join(timeout=30)
    assert not errors, errors
    _place_all(database, deps, placements.place, OrcidPlacement)

    # Then the record holds what the event asked for
    ours = _ours(sandbox, orcid, client_id)
    if change == "the withdrawal":
        assert ours == []
        assert _placement(database).state == PlacementState.DELETED
    else:
        assert [w["title"] for w in ours] == ["Version three"]


def test_a_withdrawal_during_a_workers_write_of_an_item_takes_it_off(
    live, committed_database, committed_deps, sandbox, cipher, client_id
):
    database, deps = committed_database, committed_deps
    # Given a funding on a consenting researcher's record, and its version 2 queued
    orcid = _consenting(database, sandbox, cipher, client_id)
    _process(database, "funding.published", {**funding(orcid), "version": 1})
    _place_all(database, deps, item_placement.place, OrcidItem)
    _process(database, "funding.updated", {**funding(orcid), "version": 2, "title": "Two"})
    pending = _item(database)
    assert pending.state == PlacementState.PENDING

    # When a worker writes version 2 and the withdrawal is processed meanwhile
    worker, errors = _worker_writing(sandbox, database, deps, item_placement.place, pending.id)
    _process(database, "funding.withdrawn", {"id": funding(orcid)["id"], "version": 3})
    worker.join(timeout=30)
    assert not errors, errors
    _place_all(database, deps, item_placement.place, OrcidItem)

    # Then the funding is off the record
    assert record_items(sandbox, orcid, "funding") == []
    assert _item(database).state == PlacementState.DELETED


def _item(database: Any) -> OrcidItem:
    with database.session() as session:
        row = items(session, "funding", "fund-1")[0]
        session.expunge(row)
        return row


@pytest.mark.timeout(60)  # without the fix the worker waits for the hook: a hang
def test_a_worker_without_a_write_grant_never_waits_in_a_circle_with_an_events_hook(
    live, committed_database, committed_deps, sandbox, cipher, client_id
):
    from worker.errors import Postpone
    from worker.models import OrcidGrant
    from worker.orcid.repository import lock_researchers

    database, deps = committed_database, committed_deps
    # Given a placement queued while its researcher's grant lost its write scope
    orcid = _consenting(database, sandbox, cipher, client_id)
    _process(database, "work.published", _version("w-1", 1, "Version one", orcid))
    with database.session() as session:
        session.execute(select(OrcidGrant)).scalar_one().scope = "/read-limited"
    pending = _placement(database)
    assert pending.state == PlacementState.PENDING

    # When an event's hook holds the researcher's lock and waits for the placement's row, and
    # a worker holding that row then needs the researcher's lock (to see a grant being stored)
    hook = database.session()
    hook_session = hook.__enter__()
    try:
        lock_researchers(hook_session, [orcid])
        started = time.monotonic()
        with database.session() as session, pytest.raises(Postpone) as postponed:
            placements.place(session, deps, pending.id)
        waited = time.monotonic() - started
    finally:
        hook.__exit__(None, None, None)

    # Then the worker steps back at once (its message comes back shortly), instead of waiting
    # in a circle that PostgreSQL would break by aborting one of the two a second later
    assert waited < 0.9, waited
    assert "being stored" in postponed.value.reason
    assert _placement(database).state == PlacementState.PENDING  # nothing changed meanwhile
    # And once the hook is done, the worker's next try settles the placement
    _place_all(database, deps, placements.place, OrcidPlacement)
    assert _placement(database).state != PlacementState.PENDING
