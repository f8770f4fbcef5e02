"""Webhooks to the emitting system: signed, retried on failure, every outcome visible."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import INTAKE_SECRET
from worker.events.signature import verify
from worker.models import NotificationStatus, OutboundNotification
from worker.notify.client import WebhookClient
from worker.notify.service import deliver, notify


@pytest.fixture
def receiver():
    received: list[tuple[dict, bytes]] = []
    statuses = [500, 200]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(statuses.pop(0) if statuses else 200)
            self.end_headers()

        def log_message(self, *args):
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_delivery_is_signed_and_retried_after_a_failure(session, settings, receiver, broker):
    url, received = receiver
    settings = settings.model_copy(update={"notify_urls": {"cris": url}})
    row_id = notify(
        session, client_id="cris", event_type="doi.registered", payload={"doi": "10.5072/x"}
    )
    client = WebhookClient("", timeout=5)
    # First attempt: the receiver answers 500 → a later attempt is scheduled
    assert deliver(session, client, settings, row_id) == 5
    row = session.get(OutboundNotification, row_id)
    assert row.status == NotificationStatus.PENDING
    assert row.last_status == 500
    # Second attempt succeeds
    assert deliver(session, client, settings, row_id) is None
    assert row.status == NotificationStatus.DELIVERED
    headers, body = received[-1]
    verify(headers["Pidsync-Signature"], [INTAKE_SECRET], body)
    assert json.loads(body)["type"] == "doi.registered"
    assert json.loads(body)["data"] == {"doi": "10.5072/x"}


def test_client_without_endpoint_is_visible_not_dropped(session, settings, broker):
    row_id = notify(session, client_id="cris", event_type="doi.failed", payload={})
    assert deliver(session, WebhookClient(""), settings, row_id) is None
    stored = session.get(OutboundNotification, row_id)
    assert stored.status == NotificationStatus.NO_ENDPOINT
    assert "no webhook URL configured" in stored.last_error


def test_a_receiver_that_refuses_with_4xx_is_not_retried(session, settings, broker):
    import http.server

    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(410)
            self.end_headers()

        def log_message(self, *args):
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/gone"
        settings = settings.model_copy(update={"notify_urls": {"cris": url}})
        row_id = notify(session, client_id="cris", event_type="doi.failed", payload={})
        # A 410 is the receiver refusing: failed at once, with the answer recorded
        assert deliver(session, WebhookClient("", timeout=5), settings, row_id) is None
    finally:
        server.shutdown()
    row = session.get(OutboundNotification, row_id)
    assert row.status == NotificationStatus.FAILED
    assert row.attempts == 1 and row.last_status == 410
    assert row.next_attempt_at is None


def _webhook_types_sent_in_code() -> set[str]:
    """String literals passed as the type to any of the functions that record a webhook."""
    import ast
    from pathlib import Path

    import worker

    senders = {"notify", "report", "tell_work", "tell_researcher"}
    found: set[str] = set()
    for path in Path(worker.__file__).parent.rglob("*.py"):
        if "sandbox" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in senders:
                continue
            values = [*node.args, *(k.value for k in node.keywords if k.arg == "event_type")]
            found |= {
                v.value
                for v in values
                if isinstance(v, ast.Constant) and isinstance(v.value, str) and "." in v.value
            }
    return found


def test_every_webhook_type_the_code_sends_is_documented():
    from worker.notify import types

    sent = _webhook_types_sent_in_code()
    assert {"doi.failed", "orcid.failed", "grant.revoked"} <= sent  # the scan sees them
    assert sent <= types.ALL, f"undocumented webhook types: {sorted(sent - types.ALL)}"


def test_without_endpoint_the_row_says_so_at_once_and_no_delivery_is_sent(session, settings):
    from worker.db import pending_messages

    # Given client "cris" with no webhook URL configured
    assert settings.notify_url_for("cris") is None
    # When an outcome is recorded for it
    row_id = notify(
        session, client_id="cris", event_type="doi.registered", payload={}, settings=settings
    )
    # Then the status API sees no_endpoint now, and no delivery message will be sent
    stored = session.get(OutboundNotification, row_id)
    assert stored.status == NotificationStatus.NO_ENDPOINT
    assert "no webhook URL configured for client 'cris'" in stored.last_error
    assert ("notify.deliver", (row_id,)) not in pending_messages(session)


def test_with_an_endpoint_the_delivery_is_sent_after_commit(session, settings):
    from worker.db import pending_messages

    settings = settings.model_copy(update={"notify_urls": {"cris": "https://cris.example/hook"}})
    row_id = notify(
        session, client_id="cris", event_type="doi.registered", payload={}, settings=settings
    )
    assert session.get(OutboundNotification, row_id).status == NotificationStatus.PENDING
    assert ("notify.deliver", (row_id,)) in pending_messages(session)


def test_a_url_for_a_client_that_is_not_an_intake_client_is_no_endpoint(session, settings):
    # A URL alone cannot be delivered to: nothing could sign the webhook.
    from worker.db import pending_messages

    settings = settings.model_copy(update={"notify_urls": {"ghost": "https://ghost.example/hook"}})
    row_id = notify(
        session, client_id="ghost", event_type="doi.registered", payload={}, settings=settings
    )
    assert session.get(OutboundNotification, row_id).status == NotificationStatus.NO_ENDPOINT
    assert pending_messages(session) == []
