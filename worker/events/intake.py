"""Event intake: check a request's events, store them in the inbox, send them on after commit.

A batch is all or nothing: every event is checked (its envelope, its data, and whether the
sending client may send it: :mod:`worker.events.tenancy`) before any is stored, and the whole
batch is stored by one ``INSERT … ON CONFLICT DO NOTHING`` in one transaction. A repeat of
(source, id) with the same body is acknowledged as a duplicate and not processed again; the same
(source, id) with another body, or one another client sent, is a conflict and nothing of the
request is stored.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

from sqlalchemy import Table, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from worker.config import IntakeClient
from worker.db import enqueue_after_commit
from worker.events.cloudevents import CloudEvent, Problem, parse_event
from worker.events.tenancy import Installation, refusals
from worker.events.types import (
    ITEM_EVENTS,
    RESEARCHER_AUTHORIZED,
    IntakeContext,
    check_data,
    work_key,
)
from worker.models import EventStatus, ReceivedEvent
from worker.orcid.tokens import TokenCipher


class IntakeRejected(Exception):
    """The request's events are not acceptable; nothing of it was stored."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems


class IntakeForbidden(IntakeRejected):
    """The sending client may not send (some of) these events (403); nothing was stored."""


class EventIdConflict(Exception):
    """An event's (source, id) is already taken by another body or another client (409);
    nothing of the request was stored."""

    def __init__(self, conflicts: list[tuple[str, str]]) -> None:
        named = ", ".join(f"{event_id!r} (source {source!r})" for source, event_id in conflicts)
        super().__init__(f"event id reused with a different body: {named}")
        self.conflicts = conflicts


@dataclass(frozen=True)
class Tenant:
    """The sending client and what its checks need to know about the installation."""

    client: IntakeClient
    installation: Installation


@dataclass
class CheckedEvent:
    event: CloudEvent
    data: dict[str, Any]
    #: SHA-256 of the event as sent: what a repeat of its id must match.
    digest: str = ""


def event_digest(obj: Any) -> str:
    """A hash of the event as sent, independent of key order and whitespace."""
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class Receipt:
    source: str
    id: str
    type: str
    receipt: str
    duplicate: bool
    correlation_id: str
    status_url: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "id": self.id,
            "type": self.type,
            "receipt": self.receipt,
            "duplicate": self.duplicate,
            "correlation_id": self.correlation_id,
            "status_url": self.status_url,
        }


def check_events(
    objs: list[Any], ctx: IntakeContext, *, batch: bool, tenant: Tenant | None = None
) -> list[CheckedEvent]:
    """Check every event; raise IntakeForbidden listing every event ``tenant``'s client may
    not send, else IntakeRejected listing every problem in the request. ``tenant`` None (the
    demo, tests) checks the events alone."""
    problems: list[Problem] = []
    forbidden: list[Problem] = []
    checked: list[CheckedEvent] = []
    seen: set[tuple[str, str]] = set()
    for index, obj in enumerate(objs):
        path = f"$[{index}]" if batch else "$"
        event, envelope_problems = parse_event(obj, path)
        if event is None:
            problems += envelope_problems
            continue
        data, data_problems = check_data(event.type, event.data, path, ctx)
        if tenant is not None:
            forbidden += refusals(tenant.client, event, data, tenant.installation, path)
        if not _is_dryrun(event) and event.id.startswith(DRYRUN_PREFIX):
            # Reserved: the inbox keeps a dry run of "x" as "dryrun:x", so a real event of that
            # id would share its key (one of them lost in a batch, or refused as a reuse).
            data_problems.append(
                Problem(f"{path}.id", f"must not start with {DRYRUN_PREFIX!r} (reserved)")
            )
        if (event.source, inbox_id(event)) in seen:
            data_problems.append(Problem(f"{path}.id", "the same (source, id) twice in one batch"))
        seen.add((event.source, inbox_id(event)))
        problems += data_problems
        if not data_problems:
            checked.append(CheckedEvent(event, data, event_digest(obj)))
    if batch and not objs:
        problems.append(Problem("$", "a batch must hold at least one event"))
    if forbidden:
        raise IntakeForbidden(forbidden)
    if problems:
        raise IntakeRejected(problems)
    return checked


def _seal_tokens(data: dict[str, Any], cipher: TokenCipher) -> dict[str, Any]:
    """Replace token values by ciphertext: the inbox never holds a usable token."""
    sealed = dict(data)
    for key in ("access_token", "refresh_token"):
        value = sealed.pop(key, None)
        if value:
            sealed[f"{key}_enc"] = cipher.encrypt(value).decode()
    return sealed


def status_url(source: str, work_id: str | None, collection: str = "works") -> str | None:
    if work_id is None:
        return None
    return f"/{collection}/{quote(source, safe='')}/{quote(work_id, safe='')}"


def _status_url_of(event_type: str, source: str, data: dict[str, Any]) -> str | None:
    """Where the status of what the event is about is read (works, affiliations, ...)."""
    item = ITEM_EVENTS.get(event_type)
    if item is not None:
        return status_url(source, str(data["id"]), f"{item[0]}s")
    return status_url(source, work_key(event_type, data))


#: A dry run's inbox id: its own key, so the real event sent later with the same id is new
#: (not a reuse with another body, which would be refused) and never deduplicated into it.
DRYRUN_PREFIX = "dryrun:"


def _is_dryrun(event: CloudEvent) -> bool:
    return event.extensions.get("dryrun") in (True, "true")


def inbox_id(event: CloudEvent) -> str:
    return DRYRUN_PREFIX + event.id if _is_dryrun(event) else event.id


def _options(event: CloudEvent) -> dict[str, Any]:
    """What the sender asked for beyond the data: enrichment, a dry run (issue 15)."""
    options: dict[str, Any] = {}
    if event.extensions.get("enrich") in (True, "true"):
        options["enrich"] = True
    if event.extensions.get("dryrun") in (True, "true"):
        options["dryrun"] = True
    return options


def _row(item: CheckedEvent, client_id: str, cipher: TokenCipher) -> dict[str, Any]:
    event = item.event
    data = _seal_tokens(item.data, cipher) if event.type == RESEARCHER_AUTHORIZED else item.data
    return {
        "receipt": uuid.uuid4(),
        "source": event.source,
        "event_id": inbox_id(event),
        "type": event.type,
        "subject": event.subject,
        "client_id": client_id,
        "correlation_id": str(event.extensions.get("correlationid") or uuid.uuid4()),
        "event_time": event.time,
        "data": data,
        "options": _options(event),
        "status": EventStatus.RECEIVED,
        "body_hash": item.digest or None,
    }


#: The inbox's insert, rows given as parameters: one statement compiled once and cached
#: (``insert().values(rows)`` was compiled anew for every request, the intake's largest CPU
#: cost), sent as one multi-row INSERT by SQLAlchemy's "insertmanyvalues". On the table, not
#: the mapped class: a Core statement, no ORM bulk machinery.
_INBOX = cast("Table", ReceivedEvent.__table__)
_INSERT_EVENTS = (
    insert(_INBOX)
    .on_conflict_do_nothing(constraint="uq_received_events_source_event_id")
    .returning(_INBOX.c.id, _INBOX.c.receipt, _INBOX.c.source, _INBOX.c.event_id)
)


def store_events(
    session: Session, checked: list[CheckedEvent], *, client_id: str, cipher: TokenCipher
) -> list[Receipt]:
    """Insert the events into the inbox in one statement; enqueue processing of the new ones
    after commit. Raises EventIdConflict (the caller's transaction must roll back) when a
    (source, id) is already stored with another body or for another client."""
    if not checked:
        return []
    rows = [_row(item, client_id, cipher) for item in checked]
    inserted = {
        (r.source, r.event_id): (r.id, r.receipt) for r in session.execute(_INSERT_EVENTS, rows)
    }
    repeats = [
        (r["source"], r["event_id"]) for r in rows if (r["source"], r["event_id"]) not in inserted
    ]
    stored: dict[tuple[str, str], Any] = {}
    if repeats:
        stored = {
            (r.source, r.event_id): r
            for r in session.execute(
                select(
                    ReceivedEvent.source,
                    ReceivedEvent.event_id,
                    ReceivedEvent.receipt,
                    ReceivedEvent.client_id,
                    ReceivedEvent.body_hash,
                    ReceivedEvent.correlation_id,
                ).where(tuple_(ReceivedEvent.source, ReceivedEvent.event_id).in_(repeats))
            )
        }
    conflicts = [
        key
        for key, row in zip(repeats, (stored.get(k) for k in repeats), strict=True)
        if row is None
        or row.client_id != client_id
        or (row.body_hash is not None and row.body_hash != _digest_of(checked, key))
    ]
    if conflicts:
        raise EventIdConflict(conflicts)
    receipts: list[Receipt] = []
    for item, row in zip(checked, rows, strict=True):
        key = (row["source"], row["event_id"])
        if key in inserted:
            row_id, receipt = inserted[key]
            correlation_id = row["correlation_id"]
            enqueue_after_commit(session, "events.process", row_id, correlation_id=correlation_id)
            duplicate = False
        else:
            receipt, correlation_id, duplicate = (
                stored[key].receipt,
                stored[key].correlation_id,
                True,
            )
        receipts.append(
            Receipt(
                source=item.event.source,
                id=item.event.id,
                type=item.event.type,
                receipt=str(receipt),
                duplicate=duplicate,
                correlation_id=correlation_id,
                # A dry run stores no work: its outcome is at the receipt (GET /events/{receipt}).
                status_url=None
                if row["options"].get("dryrun")
                else _status_url_of(item.event.type, item.event.source, item.data),
            )
        )
    session.flush()
    return receipts


def _digest_of(checked: list[CheckedEvent], key: tuple[str, str]) -> str:
    return next(c.digest for c in checked if (c.event.source, inbox_id(c.event)) == key)
