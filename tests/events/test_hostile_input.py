"""Hostile and malformed input at POST /events: every bound the database has is answered with a
4xx naming the JSON path, and nothing of the request is stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import INTAKE_SECRET
from tests.helpers import (
    CROSSREF_PREFIX,
    DATACITE_PREFIX,
    event,
    settings_with_accounts,
    signed_post,
    work,
)
from worker.config import Settings
from worker.models import ReceivedEvent


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """One DataCite and one Crossref account (nothing is sent: no worker runs here)."""
    return settings_with_accounts(tmp_path)


def _stored(session) -> int:
    return session.execute(select(func.count()).select_from(ReceivedEvent)).scalar_one()


def _raw(client, text: str, *, batch: bool = False):
    return signed_post(client, None, secret=INTAKE_SECRET, raw=text.encode(), batch=batch)


def _paths(response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {p["path"]: p["message"] for p in response.json()["problems"]}


def test_the_year_one_time_with_a_plus_14_offset_is_refused(client, session):
    # Given the event that was accepted once and broke the scheduler's sweep on every run
    body = event(time="0001-01-01T00:00:00+14:00")
    # When it is posted
    response = signed_post(client, body, secret=INTAKE_SECRET)
    # Then it is a 422 naming $.time, and nothing is stored
    assert "out of range" in _paths(response)["$.time"]
    assert _stored(session) == 0


@pytest.mark.parametrize(
    "when",
    [
        "2024-03-01T12:00:00",  # no offset
        "2024-03-01",  # a date
        "2024-02-30T12:00:00Z",  # no such day
        "2024-03-01T12:00:00+25:00",  # no such offset
        "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
        "1969-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        20240301,
    ],
)
def test_time_must_be_rfc3339_with_an_offset_in_range(client, session, when):
    response = signed_post(client, event(time=when), secret=INTAKE_SECRET)
    assert "$.time" in _paths(response)
    assert _stored(session) == 0


def test_a_valid_time_is_stored_and_read_back(client, session):
    response = signed_post(client, event(time="2024-03-01T12:00:00.5+14:00"), secret=INTAKE_SECRET)
    assert response.status_code == 202, response.text
    row = session.execute(select(ReceivedEvent)).scalar_one()
    assert row.event_time is not None
    assert row.event_time.isoformat() == "2024-02-29T22:00:00.500000+00:00"


@pytest.mark.parametrize(
    ("field", "most"),
    [("id", 1000), ("source", 1000), ("subject", 1000), ("correlationid", 100), ("type", 100)],
)
def test_envelope_strings_longer_than_their_column_are_refused(client, session, field, most):
    body = event(event_id="e-1")
    body[field] = "https://x.example/" + "a" * most
    problems = _paths(signed_post(client, body, secret=INTAKE_SECRET))
    assert problems[f"$.{field}"] == f"longer than {most} characters"
    assert _stored(session) == 0


def test_envelope_strings_at_their_column_size_are_stored(client, session):
    body = event(event_id="i" * 1000, subject="s" * 1000, correlationid="c" * 100)
    body["source"] = "https://x.example/" + "a" * (1000 - 18)
    response = signed_post(client, body, secret=INTAKE_SECRET)
    assert response.status_code == 202, response.text
    assert _stored(session) == 1


@pytest.mark.parametrize(
    ("text", "path", "says"),
    [
        # NUL in a Work's title, in an envelope string, in an extension, in a key
        (json.dumps(event(data=work(title="a\u0000b"))), "$.data.title", "NUL"),
        (json.dumps(event(subject="x\u0000")), "$.subject", "NUL"),
        (json.dumps(event(correlationid="\u0000")), "$.correlationid", "NUL"),
        (json.dumps({**event(), "data": {**work(), "a\u0000": 1}}), "$.data.'a\\x00'", "NUL"),
        # lone surrogates (valid JSON escapes, not Unicode text)
        (json.dumps(event(subject="\ud800")), "$.subject", "surrogate"),
        (json.dumps(event(data=work(keywords=["ok", "\udfff"]))), "$.data.keywords[1]", "surr"),
    ],
)
def test_nul_and_lone_surrogates_anywhere_are_refused(client, session, text, path, says):
    problems = _paths(_raw(client, text))
    assert says in problems[path]
    assert _stored(session) == 0


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_nan_and_infinity_are_refused_by_path(client, session, number):
    text = json.dumps(event(data=work())).replace('"publication_date"', f'"x": {number}, "p"', 1)
    text = text.replace('"p": "2024-03-01", ', "")
    problems = _paths(_raw(client, text.replace(f'"x": {number}', f'"version": {number}')))
    assert "$.data.version" in problems
    assert _stored(session) == 0


@pytest.mark.parametrize(
    ("version", "path"),
    [
        (2**31, "$.data.version"),  # beyond the integer column
        (2**63, "$.data.version"),  # beyond bigint
        ("9" * 5000, "$.data.version"),  # beyond Python's own int parsing limit
        (0, "$.data.version"),
    ],
)
def test_integers_out_of_range_are_refused(client, session, version, path):
    text = json.dumps(event(data=work(version=1))).replace('"version": 1', f'"version": {version}')
    assert path in _paths(_raw(client, text))
    assert _stored(session) == 0


def test_the_largest_version_is_stored(client, session):
    response = signed_post(client, event(data=work(version=2**31 - 1)), secret=INTAKE_SECRET)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"id": "w-1", "version": 2**31}, "$.data.version"),
        ({"id": "w-1", "version": True}, "$.data.version"),
        ({"id": "x" * 1001}, "$.data.id"),
        ({"id": "w-1", "tombstone_url": "https://t.example/" + "a" * 2048}, "$.data.tombstone_url"),
        ({"id": "w-1", "tombstone_url": "http://[::1"}, "$.data.tombstone_url"),
    ],
)
def test_withdrawal_bounds(client, session, data, path):
    response = signed_post(client, event("work.withdrawn", data), secret=INTAKE_SECRET)
    assert path in _paths(response)
    assert _stored(session) == 0


def _grant(**fields: Any) -> dict[str, Any]:
    return {"orcid": "0000-0002-1825-0097", "access_token": "tok", "scope": "/activities/update",
            **fields}  # fmt: skip


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (_grant(expires_in=2**31), "$.data.expires_in"),  # overflowed the expiry date
        (_grant(expires_in=-1), "$.data.expires_in"),
        (_grant(expires_in=1.5), "$.data.expires_in"),
        (_grant(access_token="t" * 2001), "$.data.access_token"),
        (_grant(name="n" * 1001), "$.data.name"),
        (_grant(orcid=12), "$.data.orcid"),
        ({"orcid": ["0000-0002-1825-0097"]}, "$.data.orcid"),
    ],
)
def test_researcher_event_bounds(client, session, data, path):
    kind = "researcher.revoked" if "access_token" not in data else "researcher.authorized"
    response = signed_post(client, event(kind, data), secret=INTAKE_SECRET)
    assert path in _paths(response)
    assert _stored(session) == 0


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"id": "w" * 1001}, "$.data.id"),
        ({"title": "t" * 10_001}, "$.data.title"),
        ({"abstract": "a" * 100_001}, "$.data.abstract"),
        ({"doi": "10.5555/" + "d" * 493}, "$.data.doi"),
        ({"url": "https://x.example/" + "u" * 2048}, "$.data.url"),
    ],
)
def test_work_field_bounds(client, session, fields, path):
    response = signed_post(client, event(data=work(**fields)), secret=INTAKE_SECRET)
    assert path in _paths(response)
    assert _stored(session) == 0


def test_nesting_deeper_than_allowed_is_refused_by_path(client, session):
    nested: Any = "leaf"
    for _ in range(40):
        nested = [nested]
    problems = _paths(signed_post(client, event(data=work(keywords=nested)), secret=INTAKE_SECRET))
    assert any("nested deeper" in m for m in problems.values())
    assert _stored(session) == 0


def test_nesting_beyond_the_parser_is_a_400(client, session):
    text = json.dumps(event()).replace('"data": {', '"deep": ' + "[" * 100_000 + "]" * 100_000
                                       + ', "data": {')  # fmt: skip
    response = _raw(client, text)
    assert response.status_code == 400
    assert "nests deeper" in response.json()["error"]
    assert client.get("/healthz").status_code == 200


def test_one_bad_event_in_a_batch_stores_none(client, session):
    good = event(event_id="e-1")
    bad = event(event_id="e-2", data=work("w-2", title="x\u0000"))
    response = signed_post(client, [good, bad], secret=INTAKE_SECRET)
    assert "$[1].data.title" in _paths(response)
    assert _stored(session) == 0


# --- what the registrar requires, checked at the intake -----------------------------------


def _registered(registrar: str, **fields: Any) -> dict[str, Any]:
    return work(registration={"registrar": registrar}, **fields)


def test_a_doi_outside_the_accounts_prefixes_is_422(client, session):
    response = signed_post(
        client, event(data=_registered("datacite", doi="10.9999/abc")), secret=INTAKE_SECRET
    )
    assert "prefix 10.9999 is not one of" in _paths(response)["$.data.doi"]
    assert _stored(session) == 0


def test_a_work_lacking_what_datacite_needs_is_422_naming_each_field(client, session):
    data = _registered("datacite", contributors=[])
    del data["publisher"], data["publication_date"]
    problems = _paths(signed_post(client, event(data=data), secret=INTAKE_SECRET))
    assert {"$.data.contributors", "$.data.publisher", "$.data.publication_date"} <= set(problems)
    assert "$.data.doi" not in problems  # pidsync mints it
    assert _stored(session) == 0


def test_a_journal_article_lacking_its_journal_is_422_for_crossref(client, session):
    data = _registered("crossref", type="journal-article")
    problems = _paths(signed_post(client, event(data=data), secret=INTAKE_SECRET))
    assert "$.data.container.title" in problems
    assert problems["$.data.container.title"].startswith("crossref")


def test_an_unknown_account_is_422(client, session):
    data = work(registration={"registrar": "datacite", "account": "nope"})
    problems = _paths(signed_post(client, event(data=data), secret=INTAKE_SECRET))
    assert "unknown datacite account 'nope'" in problems["$.data.registration.account"]


def test_a_complete_work_with_a_doi_of_the_account_is_accepted(client, session):
    for registrar, prefix in (("datacite", DATACITE_PREFIX), ("crossref", CROSSREF_PREFIX)):
        data = _registered(registrar, doi=f"{prefix}/ok-1", type="dataset")
        response = signed_post(
            client, event(data=data, event_id=f"e-{registrar}"), secret=INTAKE_SECRET
        )
        assert response.status_code == 202, response.text
    assert _stored(session) == 2
