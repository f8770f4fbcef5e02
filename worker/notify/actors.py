"""Delivery of outbound webhooks. A failed delivery is re-run later without spending a retry:
the backoff schedule lives in the notification row."""

from __future__ import annotations

from worker.bootstrap import current_runtime
from worker.broker import actor
from worker.db import get_database, session_scope
from worker.errors import Postpone
from worker.http import DatabaseRecorder
from worker.notify import service


@actor("notify.deliver", time_limit=60_000)
def deliver_notification(notification_id: int) -> None:
    settings = current_runtime().settings
    client = service.WebhookClient("", timeout=10, recorder=DatabaseRecorder(get_database()))
    with session_scope() as session:
        delay = service.deliver(session, client, settings, notification_id)
    if delay is not None:
        raise Postpone(delay, "webhook delivery failed; next attempt scheduled")
