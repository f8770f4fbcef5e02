"""Hypothesis strategies for hostile and careless CloudEvents and Works: strings at and past
every bound, NUL characters and lone surrogates, NaN and Infinity, integers past 64 bits, deep
nesting, times in every format and range, wrong types in every field."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from tests.helpers import CROSSREF_PREFIX, DATACITE_PREFIX, work

TYPES = ["work.published", "work.updated", "work.withdrawn", "researcher.authorized",
         "researcher.revoked"]  # fmt: skip
BOUNDS = [0, 1, 19, 99, 100, 101, 499, 500, 501, 999, 1000, 1001, 2048, 2049, 10_001]

#: Any code point, lone surrogates (category Cs) and NUL included.
any_char = st.characters(exclude_categories=[])
hostile_text = st.one_of(
    st.text(any_char, max_size=12),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfffy", " ", "", "\u2028", "\ufeff"]),
    st.builds(lambda n, c: c * n, st.sampled_from(BOUNDS), st.sampled_from(["a", "é", "𝄞"])),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, hostile_text)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(hostile_text, children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def deep(draw: st.DrawFn) -> Any:
    value: Any = draw(scalars)
    for _ in range(draw(st.integers(0, 60))):
        value = [value] if draw(st.booleans()) else {"k": value}
    return value


@st.composite
def times(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(json_values)
    when = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    minutes = draw(st.integers(-24 * 60 + 1, 24 * 60 - 1))
    sign = "+" if minutes >= 0 else "-"
    offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    if kind == 1:
        return when.isoformat() + draw(st.sampled_from(["Z", "z", offset, "", "+14:00"]))
    if kind == 2:
        return (
            datetime(2024, 1, 1) + timedelta(seconds=draw(st.integers(0, 10**8)))
        ).isoformat() + "Z"
    return draw(st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                 "2024-02-30T00:00:00Z", "2024-03-01", "now"]))  # fmt: skip


def _few(names: list[str]) -> st.SearchStrategy[list[str]]:
    """No field made hostile in half the examples, one to three in the others: enough valid
    events reach the inbox to test that what is stored is stored whole."""
    return st.one_of(st.just([]), st.lists(st.sampled_from(names), min_size=1, max_size=3))


def valid_times() -> st.SearchStrategy[str]:
    """RFC 3339 times with an offset, inside the accepted range."""
    return st.builds(
        lambda when, minutes: when.isoformat()
        + ("Z" if minutes == 0 else f"{'+' if minutes > 0 else '-'}{abs(minutes) // 60:02d}:"
           f"{abs(minutes) % 60:02d}"),
        st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30)),
        st.integers(-14 * 60, 14 * 60),
    )  # fmt: skip


def field_value() -> st.SearchStrategy[Any]:
    return st.one_of(json_values, deep(), hostile_text)


_WORK_FIELDS = ["id", "type", "title", "subtitle", "abstract", "language", "publication_date",
                "publisher", "url", "doi", "version", "contributors", "container", "keywords",
                "funding", "related_identifiers", "license", "dates", "registration", "event",
                "alternative_titles", "descriptions", "resource_type", "unknown"]  # fmt: skip


@st.composite
def registrations(draw: st.DrawFn) -> Any:
    registrar = draw(st.sampled_from(["datacite", "crossref", "datacite", "none", "other"]))
    value: dict[str, Any] = {"registrar": registrar}
    if draw(st.booleans()):
        value["account"] = draw(st.sampled_from(["default", "nope", None, "x" * 300]))
    return value


@st.composite
def works(draw: st.DrawFn, work_id: str) -> Any:
    """A valid Work with a few fields replaced by hostile values (or a non-object)."""
    if draw(st.integers(0, 20)) == 0:
        return draw(json_values)
    data = work(work_id)
    if draw(st.booleans()):
        prefix = draw(st.sampled_from([DATACITE_PREFIX, CROSSREF_PREFIX, "10.9999"]))
        data["registration"] = draw(registrations())
        if draw(st.booleans()):
            data["doi"] = f"{prefix}/{draw(st.text(any_char, min_size=1, max_size=8))}"
    for name in draw(_few(_WORK_FIELDS)):
        data[name] = draw(field_value())
    if draw(st.integers(0, 4)) == 0:
        data["contributors"] = [{"given": draw(hostile_text), "family": draw(hostile_text),
                                 "orcid": draw(st.one_of(hostile_text, st.just("0000-0002-1825-0097")))}]  # fmt: skip
    return data


@st.composite
def event_data(draw: st.DrawFn, kind: str, work_id: str) -> Any:
    if kind in ("work.published", "work.updated"):
        return draw(works(work_id))
    if kind == "work.withdrawn":
        data: dict[str, Any] = {"id": work_id}
    elif kind == "researcher.authorized":
        data = {"orcid": "0000-0002-1825-0097", "access_token": "tok", "scope": "/read-limited"}
    elif kind == "researcher.revoked":
        data = {"orcid": "0000-0002-1825-0097"}
    else:
        data = {}
    keys = ["id", "version", "tombstone_url", "orcid", "access_token", "refresh_token", "scope",
            "expires_in", "name", "client_id", "token_type"]  # fmt: skip
    for name in draw(_few(keys)):
        data[name] = draw(field_value())
    return data


@st.composite
def cloudevents(draw: st.DrawFn, event_id: str) -> Any:
    """A CloudEvent whose envelope and data may each be hostile."""
    hostile_type = draw(st.integers(0, 9)) == 0
    kind = draw(hostile_text) if hostile_type else draw(st.sampled_from(TYPES))
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": "https://cris.example.edu",
        "type": kind,
        "datacontenttype": "application/json",
        "data": draw(event_data(kind, f"w-{event_id}")),
    }
    if draw(st.booleans()):
        body["time"] = draw(valid_times())
    if draw(st.booleans()):
        body["subject"] = draw(st.text(max_size=1000))
    envelope = ["id", "source", "specversion", "subject", "time", "correlationid",
                "datacontenttype", "enrich", "data", "Bad-Ext"]  # fmt: skip
    for name in draw(_few(envelope)):
        if name == "time":
            body["time"] = draw(times())
        elif name == "id":
            body["id"] = draw(hostile_text)
        else:
            body[name] = draw(field_value())
    if draw(st.integers(0, 15)) == 0:
        return draw(json_values)
    return body
