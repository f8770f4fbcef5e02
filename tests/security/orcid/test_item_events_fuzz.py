"""Hostile signed bodies of the affiliation, funding and peer review events: a valid item with
fields replaced by hostile values (NUL, lone surrogates, NaN, 2**70, deep nesting, wrong
types), posted through the real app and then processed as the worker does. Never a 5xx, stored
whole or not at all, and an accepted event never crashes the processor (it ends done or
failed with its reason: a crash would be retried and dead-lettered)."""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import event as observed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import INTAKE_SECRET
from tests.fuzz.strategies import field_value, hostile_text
from tests.helpers import event, process_event
from tests.orcid.helpers import CONTEXT
from tests.orcid.sections_helpers import affiliation, funding, review, sections_settings
from worker.config import Settings
from worker.events.signature import sign
from worker.models import EventStatus, ReceivedEvent

ORCID = "0000-0002-1825-0097"
KINDS = ("affiliation", "funding", "review")
VERBS = ("published", "updated", "withdrawn")
#: Keys, top level and nested, a hostile value may land on.
FIELDS = {
    "affiliation": ["id", "orcid", "kind", "department", "role", "start_date", "end_date",
                    "organization", "url", "version", "external_ids", "unknown"],
    "funding": ["id", "title", "type", "funder", "grant_number", "amount", "start_date",
                "end_date", "contributors", "url", "version", "translated_title", "unknown"],
    "review": ["id", "orcid", "completion_date", "journal", "subject_doi", "role", "type",
               "group_id", "url", "subject_type", "version", "unknown"],
}  # fmt: skip
NESTED = {
    "affiliation": [("organization", ["name", "city", "country", "ror", "region"])],
    "funding": [("funder", ["name", "country", "funder_id"]), ("amount", ["value", "currency"])],
    "review": [("journal", ["title", "issn"])],
}
_ids = itertools.count()


@pytest.fixture
def settings(sandbox, tmp_path: Any) -> Settings:
    return sections_settings(sandbox, tmp_path)


def _base(kind: str, item_id: str) -> dict[str, Any]:
    if kind == "affiliation":
        return affiliation(ORCID, item_id)
    if kind == "funding":
        return funding(ORCID, item_id=item_id)
    return review(ORCID, item_id)


@st.composite
def item_events(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind, verb = draw(st.sampled_from(KINDS)), draw(st.sampled_from(VERBS))
    number = next(_ids)
    data: Any = _base(kind, f"{kind}-{number}")
    if draw(st.integers(0, 15)) == 0:
        data = draw(field_value())  # not even an object
    else:
        for name in draw(st.lists(st.sampled_from(FIELDS[kind]), max_size=3, unique=True)):
            if draw(st.booleans()):
                data[name] = draw(field_value())
            else:
                data.pop(name, None)
        for outer, inner in NESTED[kind]:
            if draw(st.booleans()) and isinstance(data.get(outer), dict):
                data[outer] = {**data[outer], draw(st.sampled_from(inner)): draw(field_value())}
        if kind == "funding" and draw(st.booleans()):
            data["contributors"] = [
                {"orcid": draw(st.one_of(hostile_text, st.just(ORCID))),
                 "given": draw(hostile_text), "role": draw(field_value())}
            ]  # fmt: skip
    return f"{kind}.{verb}", event(f"{kind}.{verb}", data, event_id=f"fz-{number}")


def _stored(session) -> int:
    return session.execute(select(func.count()).select_from(ReceivedEvent)).scalar_one()


@hypothesis_settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=item_events())
def test_hostile_item_events_never_5xx_and_never_crash_the_processor(client, session, drawn):
    event_type, body = drawn
    raw = json.dumps(body, allow_nan=True, ensure_ascii=True).encode()
    before = _stored(session)
    answer = client.post(
        "/events",
        content=raw,
        headers={
            "Content-Type": "application/cloudevents+json",
            "Pidsync-Client": "cris",
            "Pidsync-Signature": sign(INTAKE_SECRET, raw),
        },
    )
    assert answer.status_code < 500, answer.text
    observed(f"{event_type.split('.')[0]} answered {answer.status_code}")
    if answer.status_code >= 300:
        assert _stored(session) == before, "a refused event was stored"
        return
    assert _stored(session) == before + 1
    row = session.execute(
        select(ReceivedEvent).where(ReceivedEvent.receipt == uuid.UUID(answer.json()["receipt"]))
    ).scalar_one()
    assert row.type == event_type
    # The worker's processing: never an exception, always an end with its reason
    process_event(session, row.id, CONTEXT[-1])
    session.refresh(row)
    observed(f"processed: {row.status.value}")
    assert row.status in (EventStatus.DONE, EventStatus.FAILED, EventStatus.STALE), row.status
