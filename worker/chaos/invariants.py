"""The chaos run's verdict: what must hold once the system is quiet, read from the sandbox's
own records (``GET /_sandbox/state``: what DataCite and ORCID really hold), from the database
and from the broker, never from pidsync's own claims alone.

Each check returns the violations it found, one line each (so a report can show examples);
:func:`check` counts them, 0 when fine:

- ``duplicate_dois``: a landing page with more than one DOI at the agency, a DOI the agency
  holds that pidsync's database does not know (minted twice, the first one lost), or two works
  sharing one DOI in the database;
- ``duplicate_orcid_works``: a second item on one ORCID record, in one section, from one
  client, sharing a ``self`` external id with an earlier one;
- ``lost_events``: an accepted event that is not done, stale, or failed with a reason (missing
  from the inbox, or still waiting);
- ``looping_messages``: a message or a row tried far more often than any retry model allows,
  or a broker message retried past dramatiq's bound without becoming a dead letter;
- ``unconverged_works``: an item whose final state (database, DOI at the agency, the item on
  each usable researcher's ORCID record) is not what its newest version asks for, withdrawn
  items removed from ORCID and their DOIs no longer findable (DESIGN §3, §7);
- ``stranded_placements``: a placement of a live item not placed while its researcher holds a
  usable grant (active in pidsync's eyes and not revoked at ORCID);
- ``orcid_dois_unknown_to_agency``: a ``self`` DOI on an ORCID work the agency does not hold
  (or holds only as a draft, which does not resolve);
- ``rejected_events``, ``unconfirmed_events``: the traffic's own sends that pidsync refused
  (4xx) or never answered;
- ``cross_tenant_writes``: tenant B's write to tenant A's source accepted, or a row of one
  tenant's source owned by the other.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import Engine, create_engine, func, select

from worker.models import (
    CrossrefDeposit,
    DepositStatus,
    DoiRegistration,
    DoiState,
    EventStatus,
    NotificationStatus,
    OrcidAssertion,
    OrcidGrantAttempt,
    OrcidItem,
    OrcidPlacement,
    OutboundNotification,
    PlacementState,
    ReceivedEvent,
    Work,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from worker.chaos.traffic import Expected, Target, Traffic

#: Placement states that need nothing more while the researcher can be written to.
SETTLED = (
    PlacementState.PLACED,
    PlacementState.FOLDED,
    PlacementState.REMOVED_BY_RESEARCHER,
    PlacementState.DELETED,
    PlacementState.SKIPPED,
)
#: Rows tried more often than this are looping: every retry model allows at most 12 tries
#: (worker.config), so three times that is no retry schedule but a message going round.
LOOP_LIMIT = 36
#: dramatiq's own retries (PIDSYNC_MAX_RETRIES' default); past it a message is a dead letter.
MAX_RETRIES = 8
_UNFINISHED_DEPOSITS = (
    DepositStatus.PREPARED,
    DepositStatus.SUBMITTED,
    DepositStatus.QUEUED,
    DepositStatus.IN_PROCESS,
)


@contextlib.contextmanager
def _connect(database_url: str) -> Iterator[Connection]:
    engine: Engine = create_engine(database_url, pool_size=1, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def sandbox_state(target: Target) -> dict[str, Any]:
    answer = requests.get(target.control_url.rstrip("/") + "/state", timeout=120)
    answer.raise_for_status()
    state: dict[str, Any] = answer.json()
    return state


# --- quiescence ---------------------------------------------------------------------------------


def pending(target: Target) -> dict[str, int]:
    """What is still to do, by kind: events, DOI changes, placements, items, grant effects,
    deposits, webhooks, broker messages (ready, delayed or in flight)."""
    with _connect(target.database_url) as db:

        def count(model: Any, *where: Any) -> int:
            return int(
                db.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
            )

        out = {
            "events": count(ReceivedEvent, ReceivedEvent.status == EventStatus.RECEIVED),
            "doi_changes": count(
                DoiRegistration,
                DoiRegistration.pending_hash.is_not(None),
                DoiRegistration.state.not_in((DoiState.FAILED, DoiState.ON_HOLD)),
            ),
            "placements": count(OrcidPlacement, OrcidPlacement.state == PlacementState.PENDING),
            "items": count(OrcidItem, OrcidItem.state == PlacementState.PENDING),
            "grant_effects": count(OrcidGrantAttempt, OrcidGrantAttempt.failed_at.is_(None)),
            "deposits": count(CrossrefDeposit, CrossrefDeposit.status.in_(_UNFINISHED_DEPOSITS)),
            "webhooks": count(
                OutboundNotification, OutboundNotification.status == NotificationStatus.PENDING
            ),
        }
    out["messages"] = broker_messages(target.broker_url)
    return out


def waiting(target: Target, limit: int = 20) -> list[str]:
    """The rows still pending, one line each (at most ``limit`` of each kind): what a run that
    never got quiet reports."""
    with _connect(target.database_url) as db:
        lines = [
            f"event {row.id} {row.type} {row.event_id}: {row.outcome or 'not tried yet'}"
            for row in db.execute(
                select(ReceivedEvent.id, ReceivedEvent.type, ReceivedEvent.event_id,
                       ReceivedEvent.outcome)
                .where(ReceivedEvent.status == EventStatus.RECEIVED).limit(limit)
            )
        ]  # fmt: skip
        models: tuple[tuple[Any, str], ...] = (
            (OrcidPlacement, "placement"),
            (OrcidItem, "ORCID item"),
        )
        for model, name in models:
            lines += [
                f"{name} {row.id} on {row.orcid}: attempts {row.attempts}, enqueued "
                f"{row.enqueued_at}, next {row.next_attempt_at}, in doubt {row.in_doubt}, "
                f"last error {row.last_error}"
                for row in db.execute(
                    select(model).where(model.state == PlacementState.PENDING).limit(limit)
                ).all()
            ]
        lines += [
            f"DOI {row.doi} {row.state}: attempts {row.attempts}, next {row.next_attempt_at}, "
            f"last error {row.last_error}"
            for row in db.execute(
                select(DoiRegistration)
                .where(
                    DoiRegistration.pending_hash.is_not(None),
                    DoiRegistration.state.not_in((DoiState.FAILED, DoiState.ON_HOLD)),
                )
                .limit(limit)
            ).all()
        ]
    return lines


def quiescent(target: Target) -> bool:
    """Nothing pending in the database or the broker. False, not an error, while a server is
    down (the caller bounds the wait)."""
    try:
        return not any(pending(target).values())
    except Exception:
        return False


def broker_messages(broker_url: str) -> int:
    """Messages on pidsync's queues (dead letters aside): Redis counts those being processed
    too; RabbitMQ only the ready ones (the database shows what is in flight)."""
    if not broker_url:
        return 0
    if urlsplit(broker_url).scheme.startswith("amqp"):
        return _amqp_messages(broker_url)
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        return sum(
            int(client.hlen(key))
            for key in client.scan_iter(match="pidsync:*.msgs")
            if not key.endswith(b".XQ.msgs")
        )
    finally:
        client.close()


def _amqp_messages(broker_url: str) -> int:
    """Ready and delayed messages of every queue ``worker.queues`` reads (the one reader
    of queue depths, so a queue added there is counted here too)."""
    from worker.broker import build_broker
    from worker.queues import queue_depths

    broker = build_broker(broker_url, record_dead_letter=lambda *_: None)
    try:
        return sum(d.depth for d in queue_depths(broker) if d.kind != "dead")
    finally:
        broker.close()


def _redis_looping(broker_url: str, max_retries: int) -> list[str]:
    if not broker_url or urlsplit(broker_url).scheme.startswith("amqp"):
        return []  # RabbitMQ's messages cannot be read without taking them
    import redis

    client = redis.Redis.from_url(broker_url)
    found = []
    try:
        for key in client.scan_iter(match="pidsync:*.msgs"):
            if key.endswith(b".XQ.msgs"):
                continue
            for message_id, raw in client.hgetall(key).items():
                message = json.loads(raw)
                retries = int(message.get("options", {}).get("retries", 0))
                if retries > max_retries:
                    found.append(
                        f"message {message_id!r} ({message.get('actor_name')}) "
                        f"retried {retries} times, past {max_retries}"
                    )
    finally:
        client.close()
    return found


# --- the checks ----------------------------------------------------------------------------------


def check(target: Target, traffic: Traffic) -> dict[str, int]:
    """Each invariant's count of violations (0 when it holds)."""
    return {name: len(found) for name, found in violations(target, traffic).items()}


def violations(
    target: Target,
    traffic: Traffic,
    *,
    loop_limit: int = LOOP_LIMIT,
    max_retries: int = MAX_RETRIES,
) -> dict[str, list[str]]:
    """Each invariant's violations, one line each."""
    state = sandbox_state(target)
    dois = {d["doi"].lower(): d for d in state["datacite"]["dois"]}
    records: dict[str, Any] = state["orcid"]["records"]
    usable = _usable(state, traffic)
    # pidsync's ORCID clients: those the researchers consented to.
    ours = {t["client_id"] for t in state["orcid"]["tokens"]}
    with _connect(target.database_url) as db:
        return {
            "duplicate_dois": _duplicate_dois(db, dois),
            "duplicate_orcid_works": _duplicate_orcid_items(records),
            "lost_events": _lost_events(db, traffic),
            "looping_messages": _looping(db, loop_limit)
            + _redis_looping(target.broker_url, max_retries),
            "unconverged_works": _unconverged(db, traffic, dois, records, usable, ours),
            "stranded_placements": _stranded(db, usable),
            "orcid_dois_unknown_to_agency": _unknown_dois(records, dois, ours),
            "rejected_events": list(traffic.rejections),
            "unconfirmed_events": [f"event {n} never answered" for n in range(traffic.unconfirmed)],
            "cross_tenant_writes": _cross_tenant(db, target, traffic),
        }


def _usable(state: dict[str, Any], traffic: Traffic) -> set[str]:
    """ORCID iDs whose researcher holds a usable grant: the traffic's last token for them was
    accepted, not revoked through the CRIS since, and ORCID has not revoked it either."""
    tokens = {t["access_token"]: t for t in state["orcid"]["tokens"]}
    return {
        orcid
        for orcid, token in traffic.usable_grants().items()
        if token in tokens and not tokens[token]["revoked"]
    }


def _self_ids(entry: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    for ext in entry.get("external_ids", []):
        if ext.get("relationship") in ("self", None) and ext.get("value"):
            value = str(ext["value"]).strip()
            if ext.get("type") == "doi":
                value = _bare_doi(value)
            out.add((str(ext.get("type")), value))
    return out


def _bare_doi(value: str) -> str:
    lowered = value.strip().lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        lowered = lowered.removeprefix(prefix)
    return lowered


def _record_items(record: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(section, entry) of every work and activity on a record."""
    for work in record.get("works", []):
        yield "works", work
    for activity in record.get("activities", []):
        yield str(activity.get("section")), activity


def _duplicate_dois(db: Connection, dois: dict[str, dict[str, Any]]) -> list[str]:
    """Each DOI too many, once: one the agency holds and the database does not know (every DOI
    is stored before it is sent, so it was minted a second time), a second DOI the database
    knows for one landing page, or two works sharing one DOI."""
    known = {d.lower() for d in db.execute(select(DoiRegistration.doi)).scalars()}
    found = [
        f"{doi} (for {held['metadata'].get('url')}) at the agency, unknown to the database"
        for doi, held in sorted(dois.items())
        if doi not in known
    ]
    pages = Counter(
        str(held["metadata"]["url"])
        for doi, held in dois.items()
        if doi in known and held["metadata"].get("url")
    )
    found += [f"{n} DOIs for {url}" for url, n in pages.items() for _ in range(n - 1)]
    shared = db.execute(
        select(Work.doi, func.count()).where(Work.doi.is_not(None)).group_by(Work.doi)
        .having(func.count() > 1)
    ).all()  # fmt: skip
    found += [f"{n} works share {doi}" for doi, n in shared for _ in range(n - 1)]
    return found


def _duplicate_orcid_items(records: dict[str, Any]) -> list[str]:
    found = []
    for orcid, record in sorted(records.items()):
        seen: dict[tuple[str, str], set[tuple[str, str]]] = {}
        entries = sorted(_record_items(record), key=lambda pair: pair[1]["put_code"])
        for section, entry in entries:
            keys = _self_ids(entry)
            bucket = seen.setdefault((section, str(entry.get("source_client_id"))), set())
            if keys & bucket:
                shared = ", ".join(f"{t}:{v}" for t, v in sorted(keys & bucket))
                found.append(f"{orcid} {section} put-code {entry['put_code']} repeats {shared}")
            bucket |= keys
    return found


def _lost_events(db: Connection, traffic: Traffic) -> list[str]:
    rows = {
        (source, event_id): (status, outcome)
        for source, event_id, status, outcome in db.execute(
            select(
                ReceivedEvent.source,
                ReceivedEvent.event_id,
                ReceivedEvent.status,
                ReceivedEvent.outcome,
            )
        )
    }
    found = [
        f"{event_id} from {source} accepted but not in the inbox"
        for source, event_id in traffic.accepted_ids()
        if (source, event_id) not in rows
    ]
    for (source, event_id), (status, outcome) in sorted(rows.items()):
        if status == EventStatus.RECEIVED:
            found.append(f"{event_id} from {source} still waiting")
        elif status == EventStatus.FAILED and not (outcome or "").strip():
            found.append(f"{event_id} from {source} failed without a reason")
    return found


def _looping(db: Connection, limit: int) -> list[str]:
    found = []
    for model, name in (
        (ReceivedEvent, "event"),
        (DoiRegistration, "DOI registration"),
        (OrcidPlacement, "placement"),
        (OrcidItem, "ORCID item"),
        (OrcidGrantAttempt, "grant effect"),
        (OutboundNotification, "webhook"),
    ):
        for row_id, attempts in db.execute(
            select(model.id, model.attempts).where(model.attempts > limit)
        ):
            found.append(f"{name} {row_id} tried {attempts} times")
    return found


def _stranded(db: Connection, usable: set[str]) -> list[str]:
    found = []
    works = db.execute(
        select(OrcidPlacement.id, OrcidPlacement.orcid, OrcidPlacement.state, Work.external_id,
               OrcidPlacement.last_error)
        .join(Work, Work.id == OrcidPlacement.work_id)
        .where(Work.withdrawn_at.is_(None), OrcidPlacement.state.not_in(SETTLED))
    ).all()  # fmt: skip
    items = db.execute(
        select(OrcidItem.id, OrcidItem.orcid, OrcidItem.state, OrcidAssertion.external_id,
               OrcidItem.last_error)
        .join(OrcidAssertion, OrcidAssertion.id == OrcidItem.assertion_id)
        .where(OrcidAssertion.withdrawn_at.is_(None), OrcidItem.state.not_in(SETTLED))
    ).all()  # fmt: skip
    for what, rows in (("placement", works), ("item", items)):
        for row_id, orcid, state, external_id, error in rows:
            if orcid in usable:
                why = f": {error}" if error else ""
                found.append(f"{what} {row_id} of {external_id} on {orcid} is {state}{why}")
    return found


def _unknown_dois(
    records: dict[str, Any], dois: dict[str, dict[str, Any]], ours: set[str]
) -> list[str]:
    found = []
    for orcid, record in sorted(records.items()):
        for work in record.get("works", []):
            if work.get("source_client_id") not in ours:
                continue
            for kind, value in sorted(_self_ids(work)):
                held = dois.get(value)
                if kind == "doi" and (held is None or held["state"] == "draft"):
                    found.append(f"{orcid} put-code {work['put_code']} carries {value}")
    return found


def _cross_tenant(db: Connection, target: Target, traffic: Traffic) -> list[str]:
    found = list(traffic.cross_tenant_writes)
    for tenant in target.tenants:
        for model in (Work, OrcidAssertion):
            for external_id, owner in db.execute(
                select(model.external_id, model.client_id).where(
                    model.source == tenant.source, model.client_id != tenant.client_id
                )
            ):
                found.append(f"{external_id} of {tenant.source} owned by {owner}")
    return found


# --- convergence ----------------------------------------------------------------------------------


def _unconverged(
    db: Connection,
    traffic: Traffic,
    dois: dict[str, dict[str, Any]],
    records: dict[str, Any],
    usable: set[str],
    ours: set[str],
) -> list[str]:
    found = []
    for expected in traffic.expected():
        if not expected.confirmed:
            continue
        found += _stored(db, expected)
        if expected.kind == "work" and expected.datacite:
            found += _at_agency(db, expected, dois)
        for orcid in expected.orcids:
            if orcid not in usable or (orcid, expected.source_work_id) in traffic.deleted_at_orcid:
                continue  # without a usable grant pidsync cannot write; a deletion is respected
            found += _on_record(db, expected, records.get(orcid, {}), orcid, ours)
    return found


def _stored(db: Connection, expected: Expected) -> list[str]:
    """pidsync's database holds the newest version."""
    model: Any = Work if expected.kind == "work" else OrcidAssertion
    row = db.execute(
        select(model.version, model.withdrawn_at).where(
            model.source == expected.tenant.source, model.external_id == expected.key
        )
    ).first()
    if row is None:
        return [f"{expected.key}: no {expected.kind} in the database"]
    if row.version != expected.version or (row.withdrawn_at is not None) != expected.withdrawn:
        stored = f"version {row.version} (withdrawn: {row.withdrawn_at is not None})"
        return [f"{expected.key}: database at {stored}, newest is {expected.version}"]
    return []


def _doi_of(db: Connection, expected: Expected) -> str | None:
    doi = db.execute(
        select(DoiRegistration.doi)
        .join(Work, Work.id == DoiRegistration.work_id)
        .where(Work.source == expected.tenant.source, Work.external_id == expected.key)
    ).scalar_one_or_none()
    return doi.lower() if doi else None


def _at_agency(db: Connection, expected: Expected, dois: dict[str, dict[str, Any]]) -> list[str]:
    doi = _doi_of(db, expected)
    held = dois.get(doi) if doi else None
    if expected.withdrawn:
        if held is not None and held["state"] == "findable":
            return [f"{expected.key}: withdrawn but {doi} is still findable"]
        return []
    if held is None:
        return [f"{expected.key}: {doi or 'no DOI'} not at the agency"]
    if held["state"] != "findable":
        return [f"{expected.key}: {doi} is {held['state']}, not findable"]
    if expected.marker not in json.dumps(held["metadata"].get("titles")):
        return [f"{expected.key}: {doi} does not carry version {expected.version}'s title"]
    return []


def _on_record(
    db: Connection, expected: Expected, record: dict[str, Any], orcid: str, ours: set[str]
) -> list[str]:
    """The researcher's record holds the newest version once (or nothing when withdrawn)."""
    mine = [
        entry
        for section, entry in _record_items(record)
        if section == expected.section
        and entry.get("source_client_id") in ours
        and ("source-work-id", expected.source_work_id) in _self_ids(entry)
    ]
    where = f"{expected.key} on {orcid}"
    if expected.withdrawn:
        return [f"{where}: withdrawn but still on the record"] if mine else []
    if not mine:
        return [f"{where}: not on the record"]
    body = "work" if expected.kind == "work" else "body"
    if not any(expected.marker in json.dumps(entry.get(body)) for entry in mine):
        return [f"{where}: the record does not hold version {expected.version}"]
    doi = _doi_of(db, expected) if expected.datacite else None
    if doi and not any(("doi", doi) in _self_ids(entry) for entry in mine):
        return [f"{where}: the record lacks its DOI {doi}"]
    return []
