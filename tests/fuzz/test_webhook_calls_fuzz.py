"""The calls the agencies make to pidsync, generated: ORCID's webhook (``POST
/webhooks/orcid/{id}/{secret}``) and Crossref's notification callback (``POST
/webhooks/crossref/{secret}``, everything in headers), through the real app over a real
PostgreSQL and Redis. Never a 5xx; a call that proves nothing changes nothing and queues
nothing; the app still answers /healthz."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import func, select

from tests.fuzz.answers import fuzz
from tests.fuzz.strategies import hostile_text
from tests.helpers import queued_messages, settings_with_accounts
from worker.config import Settings
from worker.models import CrossrefDeposit

SECRET = "s" * 40
ENDPOINT = "pidsync-endpoint"

segments = st.one_of(
    hostile_text.filter(lambda text: len(text) <= 300),  # the test client's URL bound
    st.text(st.sampled_from("AZaz09_-"), min_size=1, max_size=70),
    st.sampled_from(["..", "%2e%2e", "a/b", "%00", "x" * 65, SECRET, SECRET + "x"]),
)
header_values = st.one_of(
    st.none(),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=320),
    st.sampled_from([ENDPOINT, "", " ", "b-1", "x" * 301, "\xe9t\xe9"]),
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Crossref callbacks on, so calls reach the checks after the secret."""
    base = settings_with_accounts(tmp_path)
    crossref = base.crossref.model_copy(
        update={
            "notify_url": SecretStr(f"https://pidsync.example.edu/webhooks/crossref/{SECRET}"),
            "notify_endpoint": ENDPOINT,
        }
    )
    return base.model_copy(update={"crossref": crossref})


def _path(segment: str) -> str:
    return quote(segment.encode("utf-8", "surrogatepass"), safe="")


@fuzz(200)
@given(webhook_id=segments, secret=segments, body=st.binary(max_size=256))
@example(webhook_id="a" * 64, secret="b" * 64, body=b"")
@example(webhook_id="%00", secret="\ud800", body=b"\xff")
def test_orcid_webhook_calls_never_5xx_and_queue_nothing_unproven(
    client, redis_client, webhook_id, secret, body
):
    response = client.post(f"/webhooks/orcid/{_path(webhook_id)}/{_path(secret)}", content=body)
    assert response.status_code in (400, 404, 405), response.text
    assert queued_messages(redis_client) == []


@fuzz(200)
@given(secret=segments, endpoint=header_values, batch=header_values, body=st.binary(max_size=64))
@example(secret=SECRET, endpoint=ENDPOINT, batch="x" * 301, body=b"")
@example(secret=SECRET, endpoint=ENDPOINT, batch="\xe9t\xe9", body=b"")
@example(secret=SECRET, endpoint=ENDPOINT, batch=None, body=b"")
def test_crossref_callbacks_never_5xx_and_change_nothing_unknown(
    client, session, redis_client, secret, endpoint, batch, body
):
    headers = {  # UTF-8 bytes, as Crossref sends them
        name: value.encode("utf-8")
        for name, value in (("CROSSREF-NOTIFY-ENDPOINT", endpoint), ("CROSSREF-EXTERNAL-ID", batch))
        if value is not None
    }
    response = client.post(f"/webhooks/crossref/{_path(secret)}", content=body, headers=headers)
    assert response.status_code in (400, 403, 404, 405), response.text
    # No deposit has any batch id here: nothing was recorded, nothing queued
    assert session.scalar(select(func.count()).select_from(CrossrefDeposit)) == 0
    assert queued_messages(redis_client) == []


def test_the_app_still_answers_after_the_calls(client):
    for _ in range(3):
        client.post("/webhooks/orcid/%ff/%00", content=b"\x00" * 10_000)
        client.post(f"/webhooks/crossref/{SECRET}", headers={"CROSSREF-EXTERNAL-ID": "\x7f"})
    assert client.get("/healthz").json() == {"status": "ok"}
