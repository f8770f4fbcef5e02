"""Delivery of outbound webhooks. A failed delivery is re-run later without spending a retry:
the backoff schedule lives in the notification row."""

from __future__ import annotations

from worker.bootstrap import runtime
from worker.broker import actor, later
from worker.notify import service


@actor("notify.deliver", time_limit=60_000)
def deliver_notification(notification_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        delay = service.deliver(session, rt.webhooks, rt.settings, notification_id)
    later(delay, "webhook delivery failed; next attempt scheduled")
