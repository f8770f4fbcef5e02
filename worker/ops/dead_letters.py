"""Dead letters: messages that ran out of tries, parked in Postgres with their reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from worker.db import Database
from worker.logging import get_logger, redact
from worker.models import DeadLetter

log = get_logger(__name__)


def park(session: Session, message: Any, reason: str) -> None:
    """Record a failed message; if it was processing an event, mark that event failed too."""
    session.execute(
        insert(DeadLetter)
        .values(
            queue=message.queue_name,
            actor=message.actor_name,
            message_id=message.message_id,
            args=redact(list(message.args)),
            reason=reason,
            retries=message.options.get("retries", 0),
            correlation_id=message.options.get("correlation_id"),
        )
        .on_conflict_do_nothing(index_elements=[DeadLetter.message_id])
    )
    if message.actor_name == "events.process" and message.args:
        from worker.events.service import mark_failed

        mark_failed(session, int(message.args[0]), reason)
    session.flush()


def record_dead_letter(database: Database, message: Any, reason: str) -> None:
    """The broker middleware's hook (bound to the process's database at boot): its own unit
    of work, never raising into the worker."""
    try:
        with database.session() as session:
            park(session, message, reason)
        log.error("dead_letter", actor=message.actor_name, reason=reason)
    except Exception as exc:
        log.exception("dead_letter_record_failed", actor=message.actor_name, error=str(exc))


def list_dead_letters(session: Session, *, include_requeued: bool = False) -> list[DeadLetter]:
    query = select(DeadLetter).order_by(DeadLetter.created_at.desc())
    if not include_requeued:
        query = query.where(DeadLetter.requeued_at.is_(None))
    return list(session.execute(query).scalars())


def requeue(session: Session, letter_id: int) -> DeadLetter:
    """Send a parked message again (after the cause was fixed), once, after commit."""
    from worker.db import enqueue_after_commit

    letter = session.get(DeadLetter, letter_id, with_for_update=True)
    if letter is None:
        raise LookupError(f"no dead letter {letter_id}")
    if letter.requeued_at is not None:
        raise LookupError(f"dead letter {letter_id} was already requeued at {letter.requeued_at}")
    enqueue_after_commit(session, letter.actor, *letter.args, correlation_id=letter.correlation_id)
    letter.requeued_at = datetime.now(UTC)
    if letter.actor == "events.process" and letter.args:
        from worker.models import EventStatus, ReceivedEvent

        event = session.get(ReceivedEvent, int(letter.args[0]))
        if event is not None and event.status == EventStatus.FAILED:
            event.status = EventStatus.RECEIVED  # processing runs again from the start
    session.flush()
    return letter


# --- the operator's view and actions (dashboard and ``pidsync dead-letters``) -------------


def page(
    session: Session, *, include_requeued: bool = False, limit: int = 50, offset: int = 0
) -> list[DeadLetter]:
    """Parked messages, newest first, one page at a time (indexed on created_at)."""
    query = select(DeadLetter).order_by(DeadLetter.created_at.desc(), DeadLetter.id.desc())
    if not include_requeued:
        query = query.where(DeadLetter.requeued_at.is_(None))
    return list(session.execute(query.limit(limit).offset(offset)).scalars())


def shown(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as an operator sees it: the reason and the message, secrets redacted
    (the args were redacted when parked; the reason is redacted here, as a log line would be)."""
    return {
        "id": letter.id,
        "queue": letter.queue,
        "actor": letter.actor,
        "message_id": letter.message_id,
        "args": redact(letter.args),
        "reason": redact(letter.reason),
        "retries": letter.retries,
        "correlation_id": letter.correlation_id,
        "created_at": letter.created_at.isoformat(),
        "requeued_at": letter.requeued_at.isoformat() if letter.requeued_at else None,
    }


def parked_ids(session: Session) -> list[int]:
    """Every parked (not requeued) letter, oldest first: what "replay all" goes through."""
    return list(
        session.execute(
            select(DeadLetter.id).where(DeadLetter.requeued_at.is_(None)).order_by(DeadLetter.id)
        ).scalars()
    )


def replay(session: Session, letter_id: int, actor: str) -> DeadLetter:
    """Send one parked message again (LookupError if absent or already requeued), recorded."""
    from worker.models import OpsAction, OpsActionKind

    letter = requeue(session, letter_id)
    session.add(
        OpsAction(
            actor=actor,
            action=OpsActionKind.REPLAY,
            target_kind="dead_letter",
            target_id=letter_id,
            result={"actor": letter.actor},
        )
    )
    session.flush()
    return letter


def purge(session: Session, letter_ids: list[int], actor: str, note: str | None = None) -> int:
    """Delete dead letters (given, or none), recorded with their number; returns how many."""
    from sqlalchemy import delete

    from worker.models import OpsAction, OpsActionKind

    if not letter_ids:
        return 0
    gone = session.execute(
        delete(DeadLetter).where(DeadLetter.id.in_(letter_ids)).returning(DeadLetter.id)
    ).all()
    session.add(
        OpsAction(
            actor=actor,
            action=OpsActionKind.PURGE,
            target_kind="dead_letter",
            note=note,
            result={"purged": len(gone), "ids": sorted(r[0] for r in gone)[:1000]},
        )
    )
    session.flush()
    return len(gone)
