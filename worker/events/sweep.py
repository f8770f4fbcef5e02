"""The scheduler's sweep of the inbox: Postgres is the source of truth for unfinished work, so
an event still open after its message should have run (a message lost with a Redis restart, a
send that failed after commit) is sent again. Processing is idempotent, so a second message
for the same event is harmless."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.db import enqueue_after_commit
from worker.events import repository
from worker.models import EventStatus, ReceivedEvent


def resend_stalled_events(session: Session, settings: Settings) -> int:
    """Send again every open event whose message is overdue; returns how many."""
    now = utcnow()
    overdue = now - timedelta(seconds=settings.events.resend_grace_seconds)
    count = 0
    for event_id in repository.stalled_event_ids(
        session, overdue=overdue, limit=settings.sweep_batch
    ):
        event = session.get(ReceivedEvent, event_id, with_for_update={"skip_locked": True})
        if event is None or event.status != EventStatus.RECEIVED:
            continue  # being processed right now, or finished since the query
        event.enqueued_at = now
        event.next_attempt_at = None
        enqueue_after_commit(
            session, "events.process", event.id, correlation_id=event.correlation_id
        )
        count += 1
    session.flush()
    return count
