"""Processing one inbox event: route it by type to the service that applies it.

Each event ends in a state a person can read in the status API: done, stale, failed (with the
reason), or unimplemented (this pidsync has no effect for that part yet, said plainly).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.events import types as t
from worker.logging import get_logger
from worker.models import EventStatus, ReceivedEvent
from worker.orcid.grants import can_write, store_grant
from worker.works import effects
from worker.works.service import Applied, apply_work, withdraw_work

log = get_logger(__name__)


@dataclass
class Outcome:
    status: EventStatus
    message: str
    work_id: int | None = None


def _work_outcome(applied: Applied, notes: list[str]) -> Outcome:
    work_id = applied.work.id if applied.work else None
    if applied.work is None:
        return Outcome(EventStatus.FAILED, applied.message, work_id)
    if applied.stale:
        return Outcome(EventStatus.STALE, applied.message, work_id)
    message = "; ".join([applied.message, *notes])
    unimplemented = any("not implemented" in n for n in notes)
    return Outcome(
        EventStatus.UNIMPLEMENTED if unimplemented else EventStatus.DONE, message, work_id
    )


def _refused(exc: effects.EffectRefused, work_id: int | None) -> Outcome:
    return Outcome(EventStatus.FAILED, str(exc), work_id)


def _work_event(session: Session, event: ReceivedEvent) -> Outcome:
    applied = apply_work(session, event.source, event.data)
    notes: list[str] = []
    if applied.work is not None and applied.changed and not applied.stale:
        try:
            notes = effects.on_work_changed(session, applied.work)
        except effects.EffectRefused as exc:
            return _refused(exc, applied.work.id)
    return _work_outcome(applied, notes)


def _withdrawn(session: Session, event: ReceivedEvent) -> Outcome:
    applied = withdraw_work(session, event.source, event.data)
    notes: list[str] = []
    if applied.work is not None and applied.changed and not applied.stale:
        try:
            notes = effects.on_work_withdrawn(session, applied.work)
        except effects.EffectRefused as exc:
            return _refused(exc, applied.work.id)
    return _work_outcome(applied, notes)


def _authorized(session: Session, event: ReceivedEvent) -> Outcome:
    grant = store_grant(session, event.data)
    message = f"grant stored for {event.data['orcid']} (scope {grant.scope})"
    if not can_write(grant):
        return Outcome(EventStatus.DONE, message + "; read-only: works will not be placed")
    note = effects.on_grant_stored(session, grant)
    if note is None:
        return Outcome(EventStatus.DONE, message)
    status = EventStatus.UNIMPLEMENTED if "not implemented" in note else EventStatus.DONE
    return Outcome(status, f"{message}; {note}")


def _revoked(session: Session, event: ReceivedEvent) -> Outcome:
    note = effects.on_researcher_revoked(session, event.data)
    status = EventStatus.UNIMPLEMENTED if "not implemented" in note else EventStatus.DONE
    return Outcome(status, note)


HANDLERS: dict[str, Callable[[Session, ReceivedEvent], Outcome]] = {
    t.WORK_PUBLISHED: _work_event,
    t.WORK_UPDATED: _work_event,
    t.WORK_WITHDRAWN: _withdrawn,
    t.RESEARCHER_AUTHORIZED: _authorized,
    t.RESEARCHER_REVOKED: _revoked,
}

OPEN = (EventStatus.RECEIVED, EventStatus.PROCESSING)


def process_event(session: Session, event_id: int) -> Outcome | None:
    """Apply one inbox event. Returns None when it was already handled (a redelivery)."""
    event = session.execute(
        select(ReceivedEvent).where(ReceivedEvent.id == event_id).with_for_update()
    ).scalar_one_or_none()
    if event is None or event.status not in OPEN:
        return None
    event.attempts += 1
    handler = HANDLERS.get(event.type)
    if handler is None:  # accepted by an older or newer intake than this worker
        outcome = Outcome(EventStatus.UNIMPLEMENTED, f"no handler for type {event.type!r}")
    else:
        outcome = handler(session, event)
    event.status = outcome.status
    event.outcome = outcome.message
    event.work_id = outcome.work_id
    event.handled_at = datetime.now(UTC)
    session.flush()
    log.info(
        "event_processed", type=event.type, status=outcome.status.value, outcome=outcome.message
    )
    return outcome


def mark_failed(session: Session, event_id: int, reason: str) -> None:
    """Record that an event's processing gave up (retries exhausted, worker kept dying)."""
    event = session.get(ReceivedEvent, event_id, with_for_update=True)
    if event is not None and event.status in OPEN:
        event.status = EventStatus.FAILED
        event.outcome = reason
        event.handled_at = datetime.now(UTC)
        session.flush()
