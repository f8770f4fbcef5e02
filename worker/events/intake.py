"""Event intake: check a request's events, store them in the inbox, send them on after commit.

A batch is all or nothing: every event is checked before any is stored, and the whole batch is
stored in one transaction. A repeat of (source, id) is acknowledged as a duplicate and not
processed again (``INSERT … ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from worker.db import enqueue_after_commit
from worker.events.cloudevents import CloudEvent, Problem, parse_event
from worker.events.types import RESEARCHER_AUTHORIZED, IntakeContext, check_data, work_key
from worker.models import EventStatus, ReceivedEvent
from worker.orcid.tokens import TokenCipher


class IntakeRejected(Exception):
    """The request's events are not acceptable; nothing of it was stored."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems


@dataclass
class CheckedEvent:
    event: CloudEvent
    data: dict[str, Any]


@dataclass
class Receipt:
    source: str
    id: str
    type: str
    receipt: int
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


def check_events(objs: list[Any], ctx: IntakeContext, *, batch: bool) -> list[CheckedEvent]:
    """Check every event; raise IntakeRejected listing every problem in the request."""
    problems: list[Problem] = []
    checked: list[CheckedEvent] = []
    seen: set[tuple[str, str]] = set()
    for index, obj in enumerate(objs):
        path = f"$[{index}]" if batch else "$"
        event, envelope_problems = parse_event(obj, path)
        if event is None:
            problems += envelope_problems
            continue
        data, data_problems = check_data(event.type, event.data, path, ctx)
        if (event.source, event.id) in seen:
            data_problems.append(Problem(f"{path}.id", "the same (source, id) twice in one batch"))
        seen.add((event.source, event.id))
        problems += data_problems
        if not data_problems:
            checked.append(CheckedEvent(event, data))
    if batch and not objs:
        problems.append(Problem("$", "a batch must hold at least one event"))
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


def status_url(source: str, work_id: str | None) -> str | None:
    if work_id is None:
        return None
    return f"/works/{quote(source, safe='')}/{quote(work_id, safe='')}"


def store_events(
    session: Session, checked: list[CheckedEvent], *, client_id: str, cipher: TokenCipher
) -> list[Receipt]:
    """Insert the events into the inbox; enqueue processing of the new ones after commit."""

    receipts: list[Receipt] = []
    for item in checked:
        event = item.event
        data = item.data
        if event.type == RESEARCHER_AUTHORIZED:
            data = _seal_tokens(data, cipher)
        correlation_id = str(event.extensions.get("correlationid") or uuid.uuid4())
        options = {"enrich": True} if event.extensions.get("enrich") in (True, "true") else {}
        row_id = session.execute(
            insert(ReceivedEvent)
            .values(
                source=event.source,
                event_id=event.id,
                type=event.type,
                subject=event.subject,
                client_id=client_id,
                correlation_id=correlation_id,
                event_time=event.time,
                data=data,
                options=options,
                status=EventStatus.RECEIVED,
            )
            .on_conflict_do_nothing(constraint="uq_received_events_source_event_id")
            .returning(ReceivedEvent.id)
        ).scalar_one_or_none()
        duplicate = row_id is None
        if duplicate:
            existing = session.execute(
                select(ReceivedEvent.id, ReceivedEvent.correlation_id).where(
                    ReceivedEvent.source == event.source, ReceivedEvent.event_id == event.id
                )
            ).one()
            row_id, correlation_id = existing.id, existing.correlation_id
        else:
            enqueue_after_commit(session, "events.process", row_id, correlation_id=correlation_id)
        assert row_id is not None  # noqa: S101 - narrows a type, holds by construction
        receipts.append(
            Receipt(
                source=event.source,
                id=event.id,
                type=event.type,
                receipt=row_id,
                duplicate=duplicate,
                correlation_id=correlation_id,
                status_url=status_url(event.source, work_key(event.type, item.data)),
            )
        )
    session.flush()
    return receipts
