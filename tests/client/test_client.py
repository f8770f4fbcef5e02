"""worker.client as an integrator's Python code meets it: over real HTTP against the web app,
every answer (accepted, duplicate, refused, another tenant's work) and every webhook check."""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest
from sqlalchemy import select

from tests.conftest import INTAKE_SECRET, TOKEN_KEY
from tests.helpers import SOURCE, event, process_event, work
from worker.client import (
    PidsyncClient,
    PidsyncRejected,
    PidsyncUnreachable,
    SignatureError,
    sign_body,
    verify_webhook,
)
from worker.config import Settings
from worker.models import ReceivedEvent

OTHER_SECRET = "the-other-tenants-secret"


@pytest.fixture
def settings(tmp_path):
    # Two tenants: the second owns another source and must never read the first one's works.
    return Settings(
        _env_file=None,
        env="test",
        data_dir=tmp_path,
        intake_clients=json.dumps(
            [
                {"id": "cris", "secrets": [INTAKE_SECRET], "sources": [SOURCE]},
                {"id": "other", "secrets": [OTHER_SECRET], "sources": ["https://other.example/*"]},
            ]
        ),
        token_keys=[TOKEN_KEY],
    )


@pytest.fixture
def runtime(committed_runtime):
    # Real HTTP means the web app's sessions run on uvicorn's threads: each commits for real
    # (one rolled-back connection cannot be shared across threads).
    return committed_runtime


@pytest.fixture
def pidsync(live_server):
    return PidsyncClient(live_server, "cris", INTAKE_SECRET)


def test_an_event_sent_is_accepted_once_and_its_receipt_reads_back(pidsync):
    # When the CRIS sends an event, then sends it again (a retry after a lost answer)
    first = pidsync.send(event()).raise_for_status()
    again = pidsync.send(event()).raise_for_status()
    # Then it is accepted once, the repeat is a duplicate with the same receipt
    assert (first.status, first.body["accepted"]) == (202, 1)
    assert (again.status, again.body["duplicate"]) == (200, True)
    assert again.body["receipt"] == first.body["receipt"]
    # And the receipt reads back through the signed read
    read = pidsync.event(first.body["receipt"]).raise_for_status()
    assert read.body["id"] == "e-1"
    assert read.body["type"] == "work.published"


def test_a_batch_is_sent_as_one_request(pidsync):
    answer = pidsync.send([event(event_id="b-1"), event(event_id="b-2", data=work("w-2"))])
    assert answer.status == 202
    assert answer.body["accepted"] == 2
    assert len(answer.body["events"]) == 2


def test_a_work_reads_back_by_its_source_url_once_processed(pidsync, runtime):
    receipt = pidsync.send(event()).raise_for_status().body["receipt"]
    # Before the worker ran the work is unknown; the source's slashes stay one path segment
    assert pidsync.work_status(SOURCE, "w-1").status == 404
    # When the worker processed the event (as its actor does, one unit of work)
    with runtime.database.session() as session:
        row_id = session.scalars(
            select(ReceivedEvent.id).where(ReceivedEvent.receipt == uuid.UUID(receipt))
        ).one()
        process_event(session, row_id)
    status = pidsync.work_status(SOURCE, "w-1").raise_for_status()
    assert status.body["source"] == SOURCE
    assert status.body["id"] == "w-1"


def test_a_refusal_is_returned_with_its_problems_and_raised_on_request(pidsync):
    answer = pidsync.send(event(data=work(title="")))
    assert answer.status == 422
    assert any(p["path"].startswith("$.data.title") for p in answer.body["problems"])
    with pytest.raises(PidsyncRejected) as raised:
        answer.raise_for_status()
    assert raised.value.status == 422
    assert "invalid events" in str(raised.value)


def test_a_wrong_secret_is_refused_as_unsigned(live_server):
    wrong = PidsyncClient(live_server, "cris", "not-the-secret")
    assert wrong.send(event()).status == 401
    assert wrong.work_status(SOURCE, "w-1").status == 401


def test_another_tenant_cannot_read_the_receipt_or_send_for_the_source(pidsync, live_server):
    receipt = pidsync.send(event()).raise_for_status().body["receipt"]
    other = PidsyncClient(live_server, "other", OTHER_SECRET)
    # Another client's receipt is as unknown as a made-up one
    assert other.event(receipt).status == 404
    # And it may not send events for a source it does not own
    assert other.send(event(event_id="x-1")).status == 403


def test_bytes_that_are_not_json_are_refused_before_sending(pidsync):
    with pytest.raises(ValueError, match="not JSON"):
        pidsync.send_raw(b"{oops")


def test_no_server_is_unreachable_not_a_traceback():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PidsyncUnreachable, match=f"cannot reach http://127.0.0.1:{port}"):
        PidsyncClient(f"http://127.0.0.1:{port}", "cris", INTAKE_SECRET, timeout=2).send(event())


def test_the_secret_never_shows_in_the_clients_repr():
    assert INTAKE_SECRET not in repr(PidsyncClient("http://127.0.0.1:1", "cris", INTAKE_SECRET))


WEBHOOK = json.dumps(
    {"specversion": "1.0", "type": "doi.registered", "source": "pidsync", "id": "n-1",
     "data": {"source": SOURCE, "id": "w-1", "doi": "10.5555/abc"}},
    separators=(",", ":"),
).encode()  # fmt: skip


def test_a_webhook_signed_with_the_secret_verifies_to_its_event():
    headers = {"pidsync-signature": sign_body(INTAKE_SECRET, WEBHOOK)}  # any header case
    assert verify_webhook(headers, WEBHOOK, INTAKE_SECRET)["type"] == "doi.registered"
    # While rotating, either secret verifies
    assert verify_webhook(headers, WEBHOOK, ["newer-secret", INTAKE_SECRET])["id"] == "n-1"


@pytest.mark.parametrize(
    ("headers", "body", "why"),
    [
        ({}, WEBHOOK, "missing Pidsync-Signature"),
        (
            {"Pidsync-Signature": sign_body(INTAKE_SECRET, WEBHOOK)},
            WEBHOOK.replace(b"10.5555/abc", b"10.5555/xyz"),
            "does not match",
        ),
        ({"Pidsync-Signature": sign_body("forged", WEBHOOK)}, WEBHOOK, "does not match"),
        (
            {
                "Pidsync-Signature": sign_body(
                    INTAKE_SECRET, WEBHOOK, timestamp=int(time.time()) - 3600
                )
            },
            WEBHOOK,
            "outside the 300 s window",
        ),
        ({"Pidsync-Signature": sign_body(INTAKE_SECRET, b"[1]")}, b"[1]", "not a CloudEvent"),
    ],
    ids=["unsigned", "tampered", "forged", "replayed", "not-an-event"],
)
def test_a_webhook_not_signed_by_pidsync_now_is_refused(headers, body, why):
    with pytest.raises(SignatureError, match=why):
        verify_webhook(headers, body, INTAKE_SECRET)
