"""A webhook whose delivery message was lost is sent again by the scheduler's sweep.

Found by the chaos run with RabbitMQ as the broker: a ``notify.deliver`` published as the node
was killed never arrived, and nothing re-sent it (every other message stands for a row a sweep
re-sends; webhooks had none), so the webhook stayed pending for good."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from tests.helpers import queued_messages, session_database
from worker.clock import utcnow
from worker.models import NotificationStatus, OutboundNotification
from worker.notify.service import notify
from worker.notify.sweep import resend_stalled_notifications


def _age(session, row_id: int, seconds: float, column: str = "created_at") -> None:
    session.execute(
        update(OutboundNotification)
        .where(OutboundNotification.id == row_id)
        .values({column: utcnow() - timedelta(seconds=seconds)})
    )
    session.flush()


def test_a_webhook_whose_message_was_lost_is_sent_again_once_overdue(
    session, settings, broker, redis_client
):
    database = session_database(session)
    grace = settings.notify.resend_grace_seconds
    # Given webhooks recorded, whose delivery messages never reached a worker
    lost = notify(session, client_id="cris", event_type="doi.registered", payload={"doi": "1"})
    notify(session, client_id="cris", event_type="doi.registered", payload={"doi": "2"})  # recent
    done = notify(session, client_id="cris", event_type="doi.registered", payload={"doi": "3"})
    retrying = notify(session, client_id="cris", event_type="doi.registered", payload={"doi": "4"})
    _age(session, lost, grace + 5)
    _age(session, done, grace + 5)
    session.execute(
        update(OutboundNotification)
        .where(OutboundNotification.id == done)
        .values(status=NotificationStatus.DELIVERED)
    )
    _age(session, retrying, grace + 5)
    _age(session, retrying, -60, column="next_attempt_at")  # its retry is due in a minute
    redis_client.flushdb()

    # When the sweep runs, twice
    assert resend_stalled_notifications(database, settings) == 1
    assert resend_stalled_notifications(database, settings) == 0

    # Then only the overdue one is sent again (once), not the recent, delivered or retrying
    sent = [args for name, args in queued_messages(redis_client) if name == "notify.deliver"]
    assert sent == [(lost,)]
