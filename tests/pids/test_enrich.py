"""Enrichment fills what an event's Work lacks from the DOI's CSL-JSON and never overwrites it:
against the sandbox's doi.org over HTTP, and as a property of the merge."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.metadata.work import validate_work
from worker.pids.enrich import NEVER_FILLED, enrich_work, fill_missing
from worker.pids.identifiers import InvalidIdentifier
from worker.pids.negotiation import DoiNotFound, Negotiator

CROSSREF_DOI = "10.5555/12345678"


@pytest.fixture
def negotiator(info):
    return Negotiator(info["doi_resolver_url"], timeout=5)


def test_a_sparse_event_gets_the_missing_fields(negotiator):
    # Given a work.published event that carries an existing DOI and hardly anything else
    event = {"id": "pure-123", "type": "journal-article", "doi": "https://doi.org/10.5555/12345678"}
    # When it is enriched
    enriched, filled = enrich_work(event, negotiator)
    # Then what the DOI's metadata says fills the gaps, and the result is a valid Work
    assert filled == ["title", "publication_date", "publisher", "url", "contributors", "container"]
    assert enriched["title"].startswith("Toward a Unified Theory")
    assert enriched["publication_date"] == "2008"
    assert enriched["contributors"][0]["family"] == "Carberry"
    assert enriched["container"]["issn"] == "0264-3561"
    assert enriched["id"] == "pure-123"  # identity untouched
    assert enriched["doi"] == event["doi"]
    assert event == {"id": "pure-123", "type": "journal-article", "doi": event["doi"]}
    validate_work(enriched)


def test_what_the_event_says_is_never_overwritten(negotiator):
    event = {
        "id": "pure-124",
        "type": "journal-article",
        "title": "Our own title",
        "publisher": "Our press",
        "doi": CROSSREF_DOI,
        "contributors": [{"family": "carberry"}],
        "container": {"title": "Journal of psychoceramics", "volume": "99", "first_page": "7"},
        "keywords": [],
    }
    before = copy.deepcopy(event)
    enriched, filled = enrich_work(event, negotiator)
    assert event == before
    for key in ("title", "publisher", "doi", "id"):
        assert enriched[key] == event[key]
    assert enriched["container"]["volume"] == "99"
    assert enriched["container"]["first_page"] == "7"
    assert "last_page" not in enriched["container"]  # the page fields go as a group
    assert "pages" not in enriched["container"]
    assert enriched["container"]["issue"] == "11"
    assert enriched["contributors"] == [{"family": "carberry", "given": "Josiah"}]
    assert sorted(filled) == sorted(
        [
            "publication_date",
            "url",
            "container.issn",
            "container.issue",
            "contributors[0].given",
        ]
    )


def test_another_container_or_other_people_are_left_alone(negotiator):
    event = {
        "id": "pure-125",
        "type": "journal-article",
        "title": "T",
        "doi": CROSSREF_DOI,
        "contributors": [{"family": "Someone", "given": "Else"}],
        "container": {"title": "Another Journal"},
    }
    enriched, filled = enrich_work(event, negotiator)
    assert enriched["container"] == {"title": "Another Journal"}
    assert enriched["contributors"] == event["contributors"]
    assert filled == ["publication_date", "publisher", "url"]


def test_a_doi_url_is_not_a_landing_page():
    data = {"id": "x", "doi": "10.1/x"}
    enriched, filled = fill_missing(data, {"url": "https://doi.org/10.1/x", "language": "en"})
    assert filled == ["language"]
    assert "url" not in enriched


def test_errors_propagate(negotiator):
    with pytest.raises(InvalidIdentifier, match="enrichment needs the work's doi"):
        enrich_work({"id": "x", "type": "dataset", "title": "t"}, negotiator)
    with pytest.raises(DoiNotFound):
        enrich_work({"id": "x", "doi": "10.5555/not-registered"}, negotiator)


_FOUND = {
    "id": "https://doi.org/10.5555/12345678",
    "type": "journal-article",
    "title": "Found title",
    "publication_date": "2008",
    "publisher": "Found publisher",
    "url": "https://example.org/found",
    "doi": "10.5555/12345678",
    "language": "en",
    "keywords": ["found"],
    "contributors": [{"family": "Carberry", "given": "Josiah", "type": "person"}],
    "container": {
        "title": "Found journal",
        "volume": "5",
        "issue": "11",
        "pages": "1-3",
        "first_page": "1",
        "last_page": "3",
    },
}
_VALUES = st.one_of(
    st.none(),
    st.just(""),
    st.text(min_size=1, max_size=8),
    st.lists(st.text(max_size=4), max_size=2),
    st.dictionaries(st.sampled_from(["title", "volume", "pages"]), st.text(max_size=4)),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*_FOUND, "registration", "version"]), _VALUES))
def test_property_present_values_are_kept_exactly(event):
    enriched, filled = fill_missing(event, _FOUND)
    for key, value in event.items():
        if value not in (None, "", [], {}) and not (isinstance(value, str) and not value.strip()):
            if isinstance(value, dict) and key == "container":
                for inner_key, inner in value.items():
                    if inner.strip():
                        assert enriched[key][inner_key] == inner
            else:
                assert enriched[key] == value
    for name in filled:
        assert name.split(".")[0].split("[")[0] not in NEVER_FILLED
    assert set(event) <= set(enriched)
