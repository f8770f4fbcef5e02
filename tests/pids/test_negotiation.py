"""DOI content negotiation against the sandbox's doi.org over HTTP (and `responses` where the
sandbox cannot produce an answer: 204, a landing page)."""

from __future__ import annotations

import json
import time

import pytest
import responses

from worker.config import SearchSettings
from worker.errors import PermanentError, Postpone, TransientError
from worker.metadata.work import Work
from worker.pids.client import CrossrefRestClient
from worker.pids.identifiers import InvalidIdentifier, doi_path
from worker.pids.negotiation import (
    FORMAT_NAMES,
    FORMATS,
    OFFERED,
    DoiNotFound,
    FormatNotOffered,
    Negotiator,
    NoMetadata,
    Resolved,
    ResolverTimeout,
    ResolverUnavailable,
    UnknownFormat,
    accept_header,
)
from worker.pids.redirects import RedirectPolicy
from worker.ratelimit import Limit, RateLimiter

CROSSREF_DOI = "10.5555/12345678"
DATACITE_DOI = "10.5072/sandbox-seed-dataset"
SICI_DOI = "10.1002/(SICI)1097-4636(199812)43:4<342::AID-JBM3>3.0.CO;2-R"
HASH_DOI = "10.5555/sandbox#seed;v2"


@pytest.fixture
def calls():
    return []


@pytest.fixture
def negotiator(info, calls):
    crossref = CrossrefRestClient(
        info["crossref_api_url"], mailto="ops@example.org", timeout=5, recorder=calls.append
    )
    return Negotiator(
        info["doi_resolver_url"],
        crossref=crossref,
        mailto="ops@example.org",
        timeout=5,
        recorder=calls.append,
    )


def _check(format_name: str, answer: Resolved) -> None:
    text = answer.text
    checks = {
        "csl": lambda: json.loads(text)["DOI"].lower() == answer.doi,
        "bibtex": lambda: text.lstrip().startswith("@"),
        "ris": lambda: "TY  - " in text and "ER  -" in text,
        "citation": lambda: "(20" in text and "https://doi.org/" in text,
        "datacite-xml": lambda: "<resource" in text and "kernel-4" in text,
        "crossref-xml": lambda: "<doi_records" in text and answer.doi in text.lower(),
        "rdf": lambda: "rdf:RDF" in text,
        "turtle": lambda: "@prefix" in text,
        "schemaorg": lambda: json.loads(text)["@type"] == "Dataset",
    }
    assert checks[format_name](), text[:300]


@pytest.mark.parametrize(
    ("doi", "format_name"),
    [(CROSSREF_DOI, name) for name in OFFERED["crossref"]]
    + [(DATACITE_DOI, name) for name in OFFERED["datacite"]],
)
def test_every_format_through_the_resolver_to_the_agency(negotiator, doi, format_name):
    # Given a Crossref and a DataCite DOI, when each format either agency offers is asked for
    answer = negotiator.resolve(doi, format_name)
    # Then doi.org redirected to the agency's service, which answered in that format
    assert answer.redirects, "the resolver's redirect was followed"
    assert answer.redirects[0].endswith("/doi/" + doi_path(doi))
    service = "/crossref-api/works/" if doi == CROSSREF_DOI else "/datacite-cn/"
    assert service in answer.url
    assert answer.accept == FORMATS[format_name] or format_name == "citation"
    _check(format_name, answer)


def test_every_format_has_an_accept_header_and_work_is_extra():
    assert set(FORMAT_NAMES) == {*FORMATS, "work"}
    assert accept_header("citation") == "text/x-bibliography; style=apa; locale=en-US"
    assert accept_header("citation", "ieee", "de-DE") == (
        "text/x-bibliography; style=ieee; locale=de-DE"
    )
    with pytest.raises(UnknownFormat, match="unknown format 'pdf'"):
        accept_header("pdf")
    with pytest.raises(UnknownFormat, match="style"):
        accept_header("citation", "apa; q=0")
    with pytest.raises(UnknownFormat, match="locale"):
        accept_header("citation", "apa", "en_US,fr")


def test_citation_style_and_locale_reach_the_agency(negotiator):
    apa = negotiator.resolve(SICI_DOI, "citation").text
    french = negotiator.resolve(SICI_DOI, "citation", style="apa", locale="fr-FR").text
    ieee = negotiator.resolve(SICI_DOI, "citation", style="ieee").text
    assert "Hollis, G. & Marsh, A. (1998)" in apa
    assert "Hollis, G. et Marsh, A." in french
    assert ieee != apa and "Hollis" in ieee


@pytest.mark.parametrize(
    ("written", "doi"),
    [
        (SICI_DOI, SICI_DOI),
        ("doi:" + SICI_DOI, SICI_DOI),
        ("https://doi.org/" + doi_path(SICI_DOI), SICI_DOI),
        ("https://dx.doi.org/" + SICI_DOI, SICI_DOI),
        ("https://doi.org/10.5555/sandbox%23seed%3Bv2", HASH_DOI),
        ("DOI: " + HASH_DOI, HASH_DOI),
        ("http://dx.doi.org/10.5555/12345678", CROSSREF_DOI),
    ],
)
def test_dois_in_any_written_form_and_with_special_characters(negotiator, calls, written, doi):
    answer = negotiator.resolve(written, "csl")
    assert answer.doi == doi.lower()
    assert json.loads(answer.text)["DOI"].lower() == doi.lower()
    # The path kept "/" and percent-encoded what doi.org needs encoded.
    first = calls[0].url
    assert first.endswith("/doi/" + doi_path(doi))
    assert "#" not in first and "<" not in first and ";" not in first


def test_doi_path_encoding():
    assert doi_path(SICI_DOI) == (
        "10.1002/(sici)1097-4636(199812)43:4%3C342::aid-jbm3%3E3.0.co%3B2-r"
    )
    assert doi_path(HASH_DOI) == "10.5555/sandbox%23seed%3Bv2"
    assert doi_path('10.1000/a/b?c%d+e"f{g}') == "10.1000/a/b%3Fc%25d%2Be%22f%7Bg%7D"
    with pytest.raises(InvalidIdentifier):
        doi_path("11.1000/x")


def test_unknown_doi_is_404_in_one_line(negotiator):
    with pytest.raises(DoiNotFound) as caught:
        negotiator.resolve("10.5555/no-such-doi", "bibtex")
    assert str(caught.value) == "no such DOI: 10.5555/no-such-doi (doi.org answered 404)"
    assert isinstance(caught.value, PermanentError)


def test_406_names_the_agency_and_what_it_offers(negotiator):
    with pytest.raises(FormatNotOffered) as caught:
        negotiator.resolve(CROSSREF_DOI, "datacite-xml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(
        "10.5555/12345678: Crossref does not offer datacite-xml (answered 406)"
    )
    assert "it offers: csl, bibtex, ris, citation, crossref-xml, rdf, turtle" in message
    assert caught.value.offered == OFFERED["crossref"]
    with pytest.raises(FormatNotOffered) as caught:
        negotiator.resolve(DATACITE_DOI, "crossref-xml")
    assert "DataCite does not offer crossref-xml" in str(caught.value)
    assert "schemaorg" in str(caught.value)


@responses.activate
def test_204_no_metadata_and_a_landing_page_instead_of_metadata():
    base = "https://resolver.test"
    responses.get(f"{base}/10.1234/empty", status=204)
    responses.get(f"{base}/doiRA/10.1234/landing", json=[{"DOI": "10.1234/landing", "RA": "JaLC"}])
    responses.get(
        f"{base}/10.1234/landing",
        status=302,
        headers={"Location": "https://publisher.test/landing"},
    )
    responses.get("https://publisher.test/landing", body="<html></html>", content_type="text/html")
    # publisher.test stands for an allowed public host (``responses`` answers without DNS)
    policy = RedirectPolicy(frozenset({"publisher.test"}), lookup=lambda _h, _p: ["192.0.43.8"])
    negotiator = Negotiator(base, timeout=2, redirects=policy)
    with pytest.raises(NoMetadata) as caught:
        negotiator.resolve("10.1234/empty", "ris")
    assert str(caught.value) == (
        "10.1234/empty: the DOI exists but its agency has no ris metadata for it (204)"
    )
    with pytest.raises(FormatNotOffered) as landing:
        negotiator.resolve("10.1234/landing", "bibtex")
    assert "JaLC does not offer bibtex (answered with its landing page)" in str(landing.value)


def test_a_503_with_retry_after_is_retried_and_a_long_one_is_not(sandbox, info):
    # Given doi.org down for half a second (503, Retry-After: 1)
    sandbox.set_faults("doi", outage_seconds=0.5)
    negotiator = Negotiator(info["doi_resolver_url"], timeout=5)
    started = time.monotonic()
    # When a DOI is resolved, then the session waited as told and asked again
    assert negotiator.resolve(DATACITE_DOI, "bibtex").text.lstrip().startswith("@")
    assert time.monotonic() - started >= 0.95
    first = sandbox.state()["requests"]["doi"]["total"]
    assert first == 3  # the 503, then the resolver and the agency's service it redirected to
    # And a Retry-After beyond patience is not waited for: the answer says when to come back
    sandbox.set_faults("doi", outage_seconds=600)
    with pytest.raises(ResolverUnavailable) as caught:
        negotiator.resolve(DATACITE_DOI, "bibtex")
    assert "unavailable (HTTP 503, retry after 600s)" in str(caught.value)
    assert caught.value.retry_after == 600
    assert isinstance(caught.value, TransientError)
    assert sandbox.state()["requests"]["doi"]["total"] == first + 1  # asked once


def test_a_404_is_not_retried(sandbox, negotiator):
    with pytest.raises(DoiNotFound):
        negotiator.resolve("10.5555/no-such-doi", "bibtex")
    assert sandbox.state()["requests"]["doi"]["total"] == 1


def test_a_server_error_is_retried_at_most_the_configured_times(sandbox, info):
    sandbox.set_faults("doi", error_rate=1)
    reads = SearchSettings(retries=2, retry_backoff_factor=0.01)
    negotiator = Negotiator(info["doi_resolver_url"], timeout=5, reads=reads)
    with pytest.raises(ResolverUnavailable, match=r"unavailable \(HTTP 50"):
        negotiator.resolve(CROSSREF_DOI, "csl")
    assert sandbox.state()["requests"]["doi"]["total"] == 3


def test_each_resolve_takes_a_slot_of_the_shared_limiter(sandbox, info, redis_client):
    limit = Limit("doi-resolver", rate=0.1, burst=1)
    negotiator = Negotiator(
        info["doi_resolver_url"], timeout=5, limiter=RateLimiter(redis_client), limit=limit
    )
    negotiator.resolve(CROSSREF_DOI, "csl")
    with pytest.raises(Postpone):  # the next slot is ~10 s off: the message waits, not fails
        negotiator.agency(CROSSREF_DOI)
    assert sandbox.state()["requests"]["doi"]["total"] == 1  # the agency's service is not doi


def test_timeout_in_one_line(sandbox, info):
    sandbox.set_faults("doi", timeout_rate=1, timeout_seconds=0.8)
    negotiator = Negotiator(info["doi_resolver_url"], timeout=0.3)
    started = time.monotonic()
    with pytest.raises(ResolverTimeout) as caught:
        negotiator.resolve(CROSSREF_DOI, "csl")
    assert time.monotonic() - started < 2
    assert str(caught.value).startswith("10.5555/12345678: no answer from 127.0.0.1:")
    assert str(caught.value).endswith("within 0.3s")
    time.sleep(0.6)  # let the sandbox's hanging handler finish before the next test


def test_outage_is_unavailable_not_a_long_wait(sandbox, info):
    sandbox.set_faults("doi", outage_seconds=60)
    negotiator = Negotiator(info["doi_resolver_url"], timeout=2)
    with pytest.raises(ResolverUnavailable, match=r"unavailable \(HTTP 503, retry after"):
        negotiator.resolve(CROSSREF_DOI, "csl")


def test_agency_via_doira(negotiator):
    assert negotiator.agency("https://doi.org/10.5555/12345678") == "Crossref"
    assert negotiator.agency(DATACITE_DOI) == "DataCite"
    assert negotiator.agency(HASH_DOI) == "Crossref"
    with pytest.raises(DoiNotFound, match="doiRA: DOI does not exist"):
        negotiator.agency("10.5555/nothing-here")


def test_invalid_input_is_a_value_error_before_any_request(negotiator, calls):
    with pytest.raises(InvalidIdentifier):
        negotiator.resolve("not-a-doi", "csl")
    with pytest.raises(UnknownFormat):
        negotiator.resolve(CROSSREF_DOI, "pdf")
    assert calls == []


def test_work_from_each_agency_through_its_adapter(negotiator, calls):
    datacite = negotiator.resolve(DATACITE_DOI, "work")
    assert isinstance(datacite.work, Work)
    assert datacite.work.type == "dataset"
    assert datacite.work.contributors[0].orcid == "0000-0002-1825-0097"
    assert json.loads(datacite.text)["doi"] == DATACITE_DOI
    crossref = negotiator.resolve(SICI_DOI, "work")
    assert crossref.work is not None
    assert crossref.work.title == "A sandbox record under a SICI-style DOI"
    assert crossref.work.container is not None and crossref.work.container.issn == "0021-9304"
    assert any("/crossref-api/works/10.1002/" in call.url for call in calls)


def test_work_falls_back_to_csl_without_a_crossref_client(info):
    negotiator = Negotiator(info["doi_resolver_url"], timeout=5)
    work, notes = negotiator.to_work(CROSSREF_DOI)
    assert work.title.startswith("Toward a Unified Theory")
    assert work.publication_date == "2008"
    assert all(note.startswith("from CSL-JSON") for note in notes)


def test_the_process_builds_one_negotiator_paced_by_the_shared_limiter(runtime):
    # The composition root: doi.org and Crossref REST reads spend the process's shared budgets.
    negotiator = runtime.negotiator
    assert negotiator.limiter is runtime.limiter
    assert negotiator.limit == runtime.settings.search.resolver_limit
    assert negotiator.crossref is not None and negotiator.crossref.limiter is runtime.limiter
    assert negotiator.crossref.limit == runtime.settings.crossref.rest_limit
    # and so do the registrars' reconciliation reads, over one keep-alive session
    first, again = runtime.registrars.crossref_rest(), runtime.registrars.crossref_rest()
    assert (first.limiter, first.limit) == (runtime.limiter, runtime.settings.crossref.rest_limit)
    assert first.http is again.http
