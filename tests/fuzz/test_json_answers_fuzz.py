"""The agencies' JSON answers under generated input, through the real client code: DataCite's
``/dois`` (registrar and search), Crossref REST ``/works``, ORCID's works, bulk results, record
reads, section summaries, group ids and expanded search, and doi.org's doiRA. Each answer is a
real-shaped document mutated at random paths, or a body that is no JSON at all; the client
either returns a result or raises one of the typed errors its callers handle (tests.fuzz.answers
.TYPED). Never a KeyError, an AttributeError or a RecursionError that would kill an actor.

Each call's input is bounded (documents of a few kB, nesting past the json recursion limit
included), so none can hang; the whole file runs in seconds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.answers import (
    HOSTILE_BODIES,
    TYPED,
    canned_session,
    fuzz,
    golden,
    hostile_bodies,
    json_bytes,
    mutated,
)
from worker.config import DataCiteAccount
from worker.orcid import search as orcid_search
from worker.orcid.client import MemberClient, PublicClient
from worker.orcid.sections import client as sections
from worker.pids.client import CrossrefRestClient, DataCiteSearchClient
from worker.pids.negotiation import Negotiator
from worker.pids.search.query import SearchQuery
from worker.pids.search.registries import CrossrefRegistry, DataCiteRegistry
from worker.registrars.datacite.client import DataCiteClient, field_errors

BASE = "https://agency.example"
ORCID = "0000-0002-1825-0097"
EXAMPLES = 150

DATACITE_ANSWERS = [
    {"data": {"id": "10.5555/x", "type": "dois", "attributes": json.loads(text)}}
    for text in golden(".datacite.json")
]
EXT = {"external-id": [{"external-id-type": "doi", "external-id-value": "10.5555/x",
                        "external-id-relationship": "self"}]}  # fmt: skip
SUMMARY = {
    "put-code": 12,
    "source": {"source-client-id": {"path": "APP-1"}, "source-name": {"value": "pidsync"}},
    "title": {"title": {"value": "A title"}},
    "type": "journal-article",
    "visibility": "public",
    "external-ids": EXT,
}
ORCID_WORKS = [
    {"group": [{"external-ids": EXT, "work-summary": [SUMMARY, {**SUMMARY, "put-code": 13}]}]}
]
ORCID_BULK = [
    {"bulk": [{"work": {"put-code": 5}},
              {"error": {"response-code": 409, "developer-message": "see put-code 3"}}]}
]  # fmt: skip
ORCID_SECTIONS = [
    {"affiliation-group": [{"external-ids": EXT, "summaries": [
        {"employment-summary": {"put-code": 7, "source": SUMMARY["source"], "external-ids": EXT}}]}]},
    {"group": [{"peer-review-group": [{"peer-review-summary": [
        {"put-code": 8, "source": SUMMARY["source"], "external-ids": EXT}]}]}]},
]  # fmt: skip
ORCID_SEARCH = [
    {"expanded-result": [{"orcid-id": ORCID, "given-names": "Ada", "family-names": "Lovelace",
                          "institution-name": ["Analytical Engines"], "email": ["a@x.org"]}]}
]  # fmt: skip
CROSSREF_MESSAGES = [
    {"status": "ok", "message-type": "work-list", "message": {
        "items": [{"DOI": "10.5555/x", "title": ["T"], "author": [{"given": "A", "family": "B"}],
                   "issued": {"date-parts": [[2020, 1, 2]]}, "type": "journal-article",
                   "container-title": ["J"], "score": 3.5}],
        "next-cursor": "AoJ", "total-results": 1}}
]  # fmt: skip
DATACITE_SEARCH = [
    {
        "data": [d["data"] for d in DATACITE_ANSWERS[:3]],
        "links": {"next": f"{BASE}/dois?page%5Bcursor%5D=abc"},
        "meta": {"total": 3},
    }
]
DOIRA = [
    [{"DOI": "10.5555/x", "RA": "DataCite"}],
    [{"DOI": "10.5555/x", "status": "DOI does not exist"}],
]


def _answers(seeds: list[Any]) -> st.SearchStrategy[bytes]:
    return st.one_of(mutated(seeds).map(json_bytes), hostile_bodies)


def _clean_or_typed(call: Any) -> Any:
    try:
        return call()
    except TYPED:
        return None


def _datacite(body: bytes, status: int = 200) -> DataCiteClient:
    account = DataCiteAccount(repository_id="EX.REPO", password="pw-dc", prefixes=["10.5555"])
    return DataCiteClient(
        account.model_copy(update={"url": BASE}), session=canned_session(status, body)
    )


@fuzz(EXAMPLES)
@given(body=_answers(DATACITE_ANSWERS), status=st.sampled_from([200, 201, 404, 422, 500]))
@example(body=HOSTILE_BODIES[7], status=200)  # nesting past json's recursion limit
@example(body=HOSTILE_BODIES[7], status=422)  # ... in an error answer (worker.http reads it)
def test_datacite_answers_are_a_result_or_a_typed_error(body, status):
    client = _datacite(body, status)
    result = _clean_or_typed(lambda: client.put_doi("10.5555/x", {"titles": []}, None))
    assert result is None or isinstance(result.get("attributes"), dict)
    found = _clean_or_typed(lambda: client.get_doi("10.5555/x"))
    assert found is None or isinstance(found, dict)
    try:
        client.put_doi("10.5555/x", {}, None)
    except TYPED as exc:
        errors = field_errors(exc) if hasattr(exc, "body") else []
        assert all(isinstance(e["source"], str) and isinstance(e["title"], str) for e in errors)


def _member(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> MemberClient:
    return MemberClient(BASE, session=canned_session(status, body, headers))


@fuzz(EXAMPLES)
@given(body=_answers(ORCID_WORKS), status=st.sampled_from([200, 400, 401, 409, 503]))
@example(body=b'{"group": [1]}', status=200)
@example(body=b'{"group": [{"work-summary": [{"put-code": "x"}]}]}', status=200)
@example(body=b'{"group": [{"work-summary": [{}]}]}', status=200)
@example(body=b"[]", status=200)
@example(body=b'{"group": {"work-summary": 1}}', status=200)
@example(body=b'{"group": [{"work-summary": [{"put-code": 1, "title": "t"}]}]}', status=200)
@example(body=HOSTILE_BODIES[7], status=200)
@example(body=HOSTILE_BODIES[7], status=409)
def test_orcid_works_answers_are_summaries_or_a_typed_error(body, status):
    client = _member(body, status)
    summaries = _clean_or_typed(lambda: client.works(ORCID, "token"))
    for summary in summaries or []:
        assert isinstance(summary.put_code, int)
        assert isinstance(summary.title, str)
        assert all(isinstance(v, str) for pair in summary.self_ids for v in pair)
        summary.as_report()
    public = PublicClient(BASE, session=canned_session(status, body))
    _clean_or_typed(lambda: public.works(ORCID))
    read = _clean_or_typed(lambda: client.read_work(ORCID, "token", 12))
    assert read is None or isinstance(read, dict)
    record = _clean_or_typed(lambda: client.record(ORCID, "token"))
    assert record is None or isinstance(record, dict)


@fuzz(EXAMPLES)
@given(body=_answers(ORCID_BULK), status=st.sampled_from([200, 400]))
@example(body=b'{"bulk": [1]}', status=200)
@example(body=b'{"bulk": [{"work": {}}]}', status=200)
@example(body=b'{"bulk": [{"work": {"put-code": "x"}}]}', status=200)
@example(body=b'{"bulk": [{"error": {"response-code": "x"}}]}', status=200)
@example(body=b'{"bulk": [{"error": 1}]}', status=200)
@example(body=b"[]", status=200)
def test_orcid_bulk_answers_are_items_or_a_typed_error(body, status):
    client = _member(body, status)
    items = _clean_or_typed(lambda: client.add_works(ORCID, "token", [{"title": {}}]))
    for item in items or []:
        assert (item.put_code is None) != (item.error is None)
        if item.error is not None:
            assert item.error.describe()


@fuzz(EXAMPLES)
@given(body=_answers(ORCID_SECTIONS), status=st.sampled_from([200, 404]))
@example(body=b'{"employment-summary": [1]}', status=200)
@example(body=b'{"employment-summary": {"put-code": null}}', status=200)
@example(body=b'{"employment-summary": {"put-code": 1, "source": 1}}', status=200)
@example(body=b'{"employment-summary": {"put-code": 1, "external-ids": {"external-id": [1]}}}',
         status=200)  # fmt: skip
def test_orcid_section_answers_are_summaries_or_a_typed_error(body, status):
    client = _member(body, status)
    for section in ("employment", "peer-review"):
        found = _clean_or_typed(lambda s=section: sections.summaries(client, ORCID, "token", s))
        assert all(isinstance(item.put_code, int) for item in found or [])
    group = _clean_or_typed(lambda: sections.find_group(client, "token", "issn:0000-0000"))
    assert group is None or isinstance(group, int)


@fuzz(EXAMPLES)
@given(body=_answers(ORCID_SEARCH))
@example(body=b'{"expanded-result": [1]}')
@example(body=b'{"expanded-result": [{"institution-name": 1}]}')
@example(body=b'{"expanded-result": [{"orcid-id": "x", "email": 5, "given-names": 1}]}')
@example(body=b"[]")
def test_orcid_search_answers_are_candidates_or_a_typed_error(body):
    public = PublicClient(BASE, session=canned_session(200, body))
    found = _clean_or_typed(
        lambda: orcid_search.suggest(public, given="Ada", family="Lovelace", affiliations=["x"])
    )
    assert all(0 < c.score <= 1 for c in found or [])


@fuzz(EXAMPLES)
@given(body=_answers(CROSSREF_MESSAGES + DATACITE_SEARCH), cursor=st.sampled_from([None, "*", "1"]))
@example(body=b'{"message": {"items": [{"author": [1]}]}}', cursor=None)
@example(body=b'{"data": [], "links": 1, "meta": 1}', cursor="1")
@example(body=HOSTILE_BODIES[7], cursor=None)
def test_registry_search_answers_are_pages_or_a_typed_error(body, cursor):
    query = SearchQuery(text="ocean")
    crossref = CrossrefRestClient(BASE, session=canned_session(200, body))
    datacite = DataCiteSearchClient(BASE, session=canned_session(200, body))
    for registry in (CrossrefRegistry(crossref), DataCiteRegistry(datacite)):
        page = _clean_or_typed(lambda r=registry: r.page(query, 10, cursor))
        for hit in page.hits if page else []:
            json.dumps(hit.to_json())
    message = _clean_or_typed(lambda: crossref.work("10.5555/x"))
    assert message is None or isinstance(message, dict)


@fuzz(EXAMPLES)
@given(body=_answers(DOIRA))
@example(body=b'[{"RA": 1}]')
@example(body=b'[{"status": []}]')
@example(body=HOSTILE_BODIES[7])
def test_doira_answers_are_an_agency_or_a_typed_error(body):
    negotiator = Negotiator(BASE, session=canned_session(200, body))
    agency = _clean_or_typed(lambda: negotiator.agency("10.5555/x"))
    assert agency is None or (isinstance(agency, str) and agency)


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_every_client_reads_each_hostile_body_as_a_typed_error_or_nothing(body):
    """The same fixed list through each client once: a readable regression list."""
    test_datacite_answers_are_a_result_or_a_typed_error.hypothesis.inner_test(body, 200)
    test_orcid_works_answers_are_summaries_or_a_typed_error.hypothesis.inner_test(body, 200)
    test_orcid_bulk_answers_are_items_or_a_typed_error.hypothesis.inner_test(body, 200)
    test_orcid_section_answers_are_summaries_or_a_typed_error.hypothesis.inner_test(body, 200)
    test_orcid_search_answers_are_candidates_or_a_typed_error.hypothesis.inner_test(body)
    test_registry_search_answers_are_pages_or_a_typed_error.hypothesis.inner_test(body, "1")
    test_doira_answers_are_an_agency_or_a_typed_error.hypothesis.inner_test(body)
