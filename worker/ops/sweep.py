"""The scheduler's sweep: Postgres is the source of truth for unfinished work, so anything
that stalled (a message lost with a Redis restart, a send that failed after commit) is sent
again. Processing is idempotent, so a second message for the same row is harmless."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.db import enqueue_after_commit
from worker.events.service import OPEN
from worker.models import ReceivedEvent

GRACE = timedelta(seconds=60)


def resend_stalled_events(session: Session, *, grace: timedelta = GRACE, limit: int = 500) -> int:

    now = datetime.now(UTC)
    stalled = session.execute(
        select(ReceivedEvent)
        .where(ReceivedEvent.status.in_(OPEN), ReceivedEvent.enqueued_at < now - grace)
        .order_by(ReceivedEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).scalars()
    count = 0
    for event in stalled:
        event.enqueued_at = now
        enqueue_after_commit(
            session, "events.process", event.id, correlation_id=event.correlation_id
        )
        count += 1
    session.flush()
    return count
