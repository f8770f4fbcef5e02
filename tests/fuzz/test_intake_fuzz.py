"""Hypothesis-generated CloudEvents and Works, correctly signed so they reach validation, posted
through the real app over a real PostgreSQL: never a 5xx, an event is stored whole or not at
all, a batch all or nothing, and the app still answers /healthz.

2,000 examples per run in total (see FUZZ_EXAMPLES); the figures are in the report."""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import INTAKE_SECRET
from tests.fuzz.strategies import cloudevents
from worker.events.signature import sign
from worker.models import ReceivedEvent

#: Examples per test; the single-event test runs twice (two halves, so xdist spreads them).
FUZZ_EXAMPLES = {"single": 600, "batch": 500, "raw": 300}
_ids = itertools.count()


def _fuzz(examples: int) -> Any:
    return hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,  # no example store in the work tree; failures print their input
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


def _post(client, raw: bytes, media: str):
    headers = {
        "Content-Type": media,
        "Pidsync-Client": "cris",
        "Pidsync-Signature": sign(INTAKE_SECRET, raw),
    }
    return client.post("/events", content=raw, headers=headers)


def _encode(body: Any) -> bytes:
    # allow_nan: NaN and Infinity reach the intake as the literal tokens a careless sender
    # writes; ensure_ascii: lone surrogates travel as \\udXXX escapes (valid JSON text).
    return json.dumps(body, allow_nan=True, ensure_ascii=True).encode()


def _stored(session) -> int:
    return session.execute(select(func.count()).select_from(ReceivedEvent)).scalar_one()


def _check_stored_whole(session, response, before: int) -> None:
    """2xx: each new event is in the inbox with its receipt; 4xx: nothing was stored."""
    assert response.status_code < 500, response.text
    event(f"answered {response.status_code}")  # --hypothesis-show-statistics: the mix reached
    after = _stored(session)
    if response.status_code >= 300:
        assert after == before, f"a refused request stored {after - before} events"
        problems = response.json().get("problems", [])
        assert all(p["path"].startswith("$") for p in problems), problems
        return
    answer = response.json()
    assert after == before + answer["accepted"]
    for receipt in answer["events"]:
        row = session.execute(
            select(ReceivedEvent).where(ReceivedEvent.receipt == uuid.UUID(receipt["receipt"]))
        ).scalar_one_or_none()
        assert row is not None and row.event_id == receipt["id"]
        assert row.data is not None and row.type == receipt["type"]
        session.expunge(row)


@st.composite
def _single(draw: st.DrawFn) -> Any:
    return draw(cloudevents(f"e-{next(_ids)}"))


@pytest.mark.parametrize("half", [1, 2])
@_fuzz(FUZZ_EXAMPLES["single"])
@given(body=_single())
def test_single_events_never_5xx_and_are_stored_whole_or_not_at_all(client, session, half, body):
    del half  # only spreads the examples over two test items (xdist runs them apart)
    before = _stored(session)
    response = _post(client, _encode(body), "application/cloudevents+json")
    _check_stored_whole(session, response, before)


@st.composite
def _batch(draw: st.DrawFn) -> Any:
    return draw(st.lists(st.deferred(lambda: cloudevents(f"b-{next(_ids)}")), max_size=4))


@_fuzz(FUZZ_EXAMPLES["batch"])
@given(body=_batch())
def test_batches_are_all_or_nothing(client, session, body):
    before = _stored(session)
    response = _post(client, _encode(body), "application/cloudevents-batch+json")
    _check_stored_whole(session, response, before)
    if response.status_code >= 300:
        return
    assert response.json()["accepted"] + response.json()["duplicates"] == len(body)


_raw_tokens = st.sampled_from(
    [b"{", b"}", b"[", b"]", b'"', b"\\u0000", b"\\ud800", b"NaN", b"-Infinity", b"1e999",
     b"9" * 30, b":", b",", b'"id"', b'"data"', b"null", b"\xff", b"\xc3", b" "]
)  # fmt: skip


@_fuzz(FUZZ_EXAMPLES["raw"])
@given(
    prefix=st.lists(_raw_tokens, max_size=12).map(b"".join),
    media=st.sampled_from(
        ["application/cloudevents+json", "application/cloudevents-batch+json", "text/plain"]
    ),
)
def test_raw_bytes_never_5xx(client, session, prefix, media):
    before = _stored(session)
    response = _post(client, prefix, media)
    assert response.status_code < 500, response.text
    assert _stored(session) == before or response.status_code < 300


def test_the_app_still_answers_after_hostile_input(client):
    # Given the deepest body the parser refuses and one event nested past the limit
    deep = b"[" * 200_000 + b"]" * 200_000
    assert _post(client, deep, "application/cloudevents-batch+json").status_code == 400
    # Then the process still answers
    assert client.get("/healthz").json() == {"status": "ok"}
