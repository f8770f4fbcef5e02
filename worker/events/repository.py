"""The inbox's queries: locking one event, finding the open ones a sweep must send again."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from worker.models import EventStatus, ReceivedEvent


def lock_event(session: Session, event_id: int) -> ReceivedEvent | None:
    """The event, locked: one worker applies it at a time."""
    return session.execute(_LOCK_EVENT, {"id": event_id}).scalar_one_or_none()


#: Built once (every event runs it; building a Select costs about as much as running it).
_LOCK_EVENT = select(ReceivedEvent).where(ReceivedEvent.id == bindparam("id")).with_for_update()


def stalled_event_ids(session: Session, *, overdue: datetime, limit: int) -> list[int]:
    """Open events whose message is overdue: never tried past its time (lost with a broker
    restart, or a send that failed after commit), or postponed and then lost."""
    return list(
        session.execute(
            select(ReceivedEvent.id)
            .where(
                ReceivedEvent.status == EventStatus.RECEIVED,
                or_(
                    ReceivedEvent.next_attempt_at < overdue,
                    ReceivedEvent.next_attempt_at.is_(None) & (ReceivedEvent.enqueued_at < overdue),
                ),
            )
            .order_by(ReceivedEvent.id)
            .limit(limit)
        ).scalars()
    )


def recent_events_of_work(
    session: Session, work_id: int, *, limit: int, client_id: str | None = None
) -> list[ReceivedEvent]:
    """The work's latest events; only those ``client_id`` sent when it is given."""
    query = select(ReceivedEvent).where(ReceivedEvent.work_id == work_id)
    if client_id is not None:
        query = query.where(ReceivedEvent.client_id == client_id)
    return list(
        session.execute(query.order_by(ReceivedEvent.received_at.desc()).limit(limit)).scalars()
    )


def event_by_receipt(session: Session, receipt: uuid.UUID, client_id: str) -> ReceivedEvent | None:
    """The event with this receipt, if ``client_id`` sent it."""
    return session.execute(
        select(ReceivedEvent).where(
            ReceivedEvent.receipt == receipt, ReceivedEvent.client_id == client_id
        )
    ).scalar_one_or_none()
