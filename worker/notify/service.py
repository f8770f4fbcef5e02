"""Signed webhooks back to the emitting system (``doi.registered``, ``orcid.placed``, ...).

A notification is a row first (in the same unit of work as the state change it reports) and a
delivery after commit. Deliveries are signed like the intake (``Pidsync-Signature`` with the
client's intake secret) and every attempt is recorded. A transient failure (network, 5xx, 429,
408) is retried with the backoff of ``settings.notify`` (worker.retry); any other 4xx is the
receiver refusing the request, recorded as failed at once. A client with no webhook URL
configured gets status ``no_endpoint``, visible in the status API, rather than a silent drop.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.db import enqueue_after_commit
from worker.errors import error_text
from worker.events.signature import sign
from worker.http import HttpError, RequestError
from worker.logging import get_logger
from worker.models import NotificationStatus, OutboundNotification
from worker.notify.client import WebhookClient

log = get_logger(__name__)


def notify(
    session: Session,
    *,
    client_id: str,
    event_type: str,
    payload: dict[str, Any],
    work_id: int | None = None,
    settings: Settings | None = None,
) -> int:
    """Record a notification for the emitting system; it is delivered after commit. Returns
    the row's id.

    With ``settings``, a client that has no webhook URL gets its row as ``no_endpoint`` at
    once and no delivery message: the status API shows the same as after a delivery attempt,
    without a message, a row lock and an update per outcome (issue 13). Without, the delivery
    finds out.

    The row is one Core ``INSERT`` in the unit of work's transaction, not an ORM object and a
    flush: nothing reads it back in the same unit of work, and the flush wrote every other
    pending change of the caller with it (issue 13: 13 % of the worker's CPU was ``notify``'s
    flush). New rows of the caller are flushed first, as before: the notification may name
    them (its work) and callers read their ids after (a registration's, to send its sync)."""
    unreachable = settings is not None and _endpoint(settings, client_id) is None
    if session.new:
        session.flush()
    values: dict[str, Any] = {
        "client_id": client_id,
        "event_type": event_type,
        "work_id": work_id,
        "payload": payload,
        "status": NotificationStatus.PENDING,
        "attempts": 0,
        "last_error": None,
    }
    if unreachable:
        values["status"] = NotificationStatus.NO_ENDPOINT
        values["last_error"] = _no_endpoint(client_id)
    notification_id: int = session.connection().execute(_INSERT, values).scalar_one()
    if not unreachable:
        enqueue_after_commit(session, "notify.deliver", notification_id)
    return notification_id


#: Built once: the statement and its compiled form are reused by every notification.
_TABLE = cast("Table", OutboundNotification.__table__)
_INSERT = insert(_TABLE).returning(_TABLE.c.id)


def _endpoint(settings: Settings, client_id: str) -> str | None:
    """Where ``client_id``'s webhooks go; None when it has no URL or is no intake client
    (then nothing can sign them)."""
    if client_id not in settings.intake_clients:
        return None
    return settings.notify_url_for(client_id)


def _no_endpoint(client_id: str) -> str:
    return f"no webhook URL configured for client {client_id!r}"


def envelope(row: OutboundNotification) -> dict[str, Any]:
    """The webhook body: a CloudEvent, like the ones pidsync receives."""
    return {
        "specversion": "1.0",
        "id": f"pidsync-{row.id}",
        "source": "pidsync",
        "type": row.event_type,
        "time": (row.created_at or datetime.now(UTC)).isoformat(),
        "datacontenttype": "application/json",
        "data": row.payload,
    }


def deliver(
    session: Session, client: WebhookClient | None, settings: Settings, notification_id: int
) -> float | None:
    """Try one delivery. Returns the delay before the next try, or None when finished."""
    row = session.get(OutboundNotification, notification_id, with_for_update=True)
    if row is None or row.status != NotificationStatus.PENDING:
        return None
    url = _endpoint(settings, row.client_id)
    tenant = settings.intake_clients.get(row.client_id)
    if url is None or tenant is None or client is None:
        row.status = NotificationStatus.NO_ENDPOINT
        row.last_error = _no_endpoint(row.client_id)
        session.flush()
        return None
    body = json.dumps(envelope(row), separators=(",", ":")).encode()
    row.attempts += 1
    try:
        response = client.request(
            "POST",
            url,
            data=body,
            headers={
                "Content-Type": "application/cloudevents+json",
                "Pidsync-Signature": sign(tenant.signing_secret.get_secret_value(), body),
                "Pidsync-Delivery": str(uuid.uuid4()),
            },
        )
    except HttpError as exc:
        row.last_status = exc.status
        row.last_error = error_text(exc, settings.error_text_chars)
        backoff = settings.notify.backoff
        if isinstance(exc, RequestError) or backoff.exhausted(row.attempts):
            row.status = NotificationStatus.FAILED
            row.next_attempt_at = None
            session.flush()
            log.warning("webhook_failed", notification=row.id, error=row.last_error)
            return None
        delay = backoff.delay(row.attempts, getattr(exc, "retry_after", None))
        row.next_attempt_at = utcnow() + timedelta(seconds=delay)
        session.flush()
        log.warning("webhook_retry_scheduled", notification=row.id, delay_s=delay)
        return delay
    row.last_status = response.status_code
    row.status = NotificationStatus.DELIVERED
    row.delivered_at = utcnow()
    row.last_error = None
    session.flush()
    return None
