"""The Python client's verify_webhook: the intake secret signs requests to pidsync and
pidsync's webhooks alike, in the same format. A request the integrator's system sent to the
intake, captured on the way and replayed at its own webhook receiver, must not verify as a
webhook from pidsync; a webhook pidsync really builds still does."""

from __future__ import annotations

import json

import pytest

from tests.conftest import INTAKE_SECRET
from tests.helpers import event, work
from worker.client import SignatureError, sign_body, verify_webhook
from worker.models import OutboundNotification
from worker.notify.service import envelope


def test_a_replayed_intake_request_is_not_a_webhook():
    # Given a work.published the integrator signed for pidsync's intake
    sent = json.dumps(event(data=work("w-1")), separators=(",", ":")).encode()
    headers = {"Pidsync-Signature": sign_body(INTAKE_SECRET, sent)}
    # When it is replayed at the integrator's own webhook receiver
    with pytest.raises(SignatureError) as refused:
        verify_webhook(headers, sent, INTAKE_SECRET)
    # Then it is refused, saying why
    assert "not a webhook from pidsync" in str(refused.value)


def test_a_webhook_as_pidsync_builds_it_verifies():
    row = OutboundNotification(
        id=7, client_id="cris", event_type="doi.registered", payload={"doi": "10.5555/x"}
    )
    body = json.dumps(envelope(row), separators=(",", ":")).encode()
    headers = {"Pidsync-Signature": sign_body(INTAKE_SECRET, body)}
    assert verify_webhook(headers, body, INTAKE_SECRET)["id"] == "pidsync-7"
