"""The inbox's queries: locking one event, finding the open ones a sweep must send again, the
withdrawals a first publication arrived after."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from worker.events import types as t
from worker.models import EventStatus, ReceivedEvent

#: Every withdrawal's event type: the predicate of the inbox's partial index
#: ``ix_received_events_withdrawal_of`` (migration 5b2e9d4c7a18).
WITHDRAWAL_TYPES = (t.WORK_WITHDRAWN, *(k for k, (_, out) in t.ITEM_EVENTS.items() if out))


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


def withdrawals_before(
    session: Session,
    withdrawal_type: str,
    *,
    source: str,
    item_id: str,
    client_id: str | None,
    version: int,
) -> list[tuple[int, int]]:
    """The owner's withdrawals of an item, of ``version`` or newer, already in the inbox: (event
    id, version), the newest first. A withdrawal can overtake its item's first publication by
    more than the events' backoff (it waits for the item, then fails), and the older
    publication must not bring the item to life after it (the chaos run's ``w552``)."""
    if withdrawal_type not in WITHDRAWAL_TYPES:
        raise ValueError(f"{withdrawal_type!r} is not a withdrawal's event type")
    number = ReceivedEvent.data["version"]
    rows = session.execute(
        select(ReceivedEvent.id, number.as_integer())
        .where(
            # Written out (not bound), from the constants above, so that any plan matches the
            # partial index (its predicate and its expression).
            text(f"received_events.type = '{withdrawal_type}'"),
            ReceivedEvent.source == source,
            text("(received_events.data ->> 'id') = :item_id").bindparams(item_id=item_id),
            ReceivedEvent.client_id == client_id,
            func.jsonb_typeof(number) == "number",
            number.as_integer() >= version,
        )
        .order_by(number.as_integer().desc())
    )
    return [(event_id, int(newest)) for event_id, newest in rows]


def close_withdrawals(
    session: Session, event_ids: list[int], outcome: str, *, work_id: int | None = None
) -> None:
    """The withdrawals among ``event_ids`` that gave up waiting for their item are done after
    all: the item arrived and was stored withdrawn (one still waiting finds it withdrawn)."""
    session.execute(
        update(ReceivedEvent)
        .where(ReceivedEvent.id.in_(event_ids), ReceivedEvent.status == EventStatus.FAILED)
        .values(status=EventStatus.DONE, work_id=work_id, outcome=outcome)
    )
