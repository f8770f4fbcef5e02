"""The webhooks' sweep: Postgres is the outbox, so a notification still pending once its
delivery was due longer ago than the grace (``settings.notify.resend_grace_seconds``) has lost
its message (a broker restart before the message was safe, a publish that failed after the
commit, a worker killed before its commit) and is sent again; one transaction per row
(``worker.sweeping``). Without it such a webhook stayed pending for good (chaos run with
RabbitMQ as the broker: a ``notify.deliver`` lost with the node)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.db import Database, enqueue_after_commit
from worker.models import NotificationStatus, OutboundNotification
from worker.sweeping import RowSweep, run_sweep


def _last_due() -> ColumnElement[datetime]:
    """When a notification was last due: its scheduled retry, else when it was recorded."""
    return func.coalesce(OutboundNotification.next_attempt_at, OutboundNotification.created_at)


def resend_stalled_notifications(database: Database, settings: Settings) -> int:
    before = utcnow() - timedelta(seconds=settings.notify.resend_grace_seconds)

    def pick(session: Session) -> list[int]:
        return list(
            session.execute(
                select(OutboundNotification.id)
                .where(
                    OutboundNotification.status == NotificationStatus.PENDING,
                    _last_due() < before,
                )
                .order_by(OutboundNotification.id)
                .limit(settings.sweep_batch)
            ).scalars()
        )

    def handle(session: Session, notification_id: int) -> bool:
        row = session.get(
            OutboundNotification, notification_id, with_for_update={"skip_locked": True}
        )
        if row is None or row.status != NotificationStatus.PENDING:
            return False
        if (row.next_attempt_at or row.created_at) >= before:
            return False  # a worker moved it since the pick
        row.next_attempt_at = utcnow()  # sent now: due again only after another grace
        enqueue_after_commit(session, "notify.deliver", row.id)
        return True

    def park(session: Session, notification_id: int, reason: str) -> None:
        row = session.get(OutboundNotification, notification_id)
        if row is not None:
            row.status = NotificationStatus.FAILED
            row.last_error = reason[: settings.error_text_chars]

    sweep = RowSweep("notify_stalled", pick, handle, park)
    return run_sweep(
        database,
        sweep,
        error_chars=settings.error_text_chars,
        lock_timeout=settings.sweep_lock_timeout_seconds,
    )
