"""The scheduler's sweep of the inbox: Postgres is the source of truth for unfinished work, so
an event still open after its message should have run (a message lost with a Redis restart, a
send that failed after commit) is sent again. Processing is idempotent, so a second message
for the same event is harmless. Each event is handled in its own transaction
(``worker.sweeping``): one that cannot even be read is parked ``failed`` with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import case, update
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.db import Database, enqueue_after_commit
from worker.events import repository
from worker.models import EventStatus, ReceivedEvent
from worker.sweeping import RowSweep, run_sweep

# The instants Python's datetime holds in UTC, with a day's margin for any offset.
_READABLE_FROM = datetime(1, 1, 2, tzinfo=UTC)
_READABLE_UNTIL = datetime(9999, 12, 30, tzinfo=UTC)


def resend_stalled_events(database: Database, settings: Settings) -> int:
    """Send again every open event whose message is overdue; returns how many."""
    now = utcnow()
    overdue = now - timedelta(seconds=settings.events.resend_grace_seconds)
    sweep = RowSweep(
        "resend_stalled_events",
        pick=lambda s: repository.stalled_event_ids(s, overdue=overdue, limit=settings.sweep_batch),
        handle=partial(_resend, overdue=overdue, now=now),
        park=park_event,
    )
    return run_sweep(
        database,
        sweep,
        error_chars=settings.error_text_chars,
        lock_timeout=settings.sweep_lock_timeout_seconds,
    )


def _resend(session: Session, event_id: int, *, overdue: datetime, now: datetime) -> bool:
    event = session.get(ReceivedEvent, event_id, with_for_update={"skip_locked": True})
    if event is None or not _still_stalled(event, overdue):
        return False  # being processed right now, or finished or sent again since the pick
    event.enqueued_at = now
    event.next_attempt_at = None
    enqueue_after_commit(session, "events.process", event.id, correlation_id=event.correlation_id)
    session.flush()
    return True


def _still_stalled(event: ReceivedEvent, overdue: datetime) -> bool:
    """The pick's condition, checked again under the row's lock (another sweep may have sent
    it again since)."""
    if event.status != EventStatus.RECEIVED:
        return False
    if event.next_attempt_at is not None:
        return event.next_attempt_at < overdue
    return event.enqueued_at < overdue


def park_event(session: Session, event_id: int, reason: str) -> None:
    """Mark the event failed with ``reason``, without loading it (it may not load). A time no
    program can read back (outside years 1-9999 in UTC, as the intake once let in) is cleared,
    so the status API can show the event; ``reason`` keeps the driver's words about it."""
    readable = ReceivedEvent.event_time.between(_READABLE_FROM, _READABLE_UNTIL)
    session.execute(
        update(ReceivedEvent)
        .where(ReceivedEvent.id == event_id, ReceivedEvent.status == EventStatus.RECEIVED)
        .values(
            status=EventStatus.FAILED,
            outcome=reason,
            handled_at=utcnow(),
            event_time=case((readable, ReceivedEvent.event_time), else_=None),
        )
    )
