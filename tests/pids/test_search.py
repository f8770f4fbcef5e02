"""One search over Crossref and DataCite, against the sandbox over HTTP (and `responses` for a
DOI both registries return, which the sandbox's separate prefixes cannot produce)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from tests.sandbox.deposits import article, deposit
from tests.sandbox.test_crossref_deposit import poll, upload
from worker.config import SearchSettings
from worker.errors import Postpone
from worker.http import RequestError
from worker.metadata.types import WorkType
from worker.pids.client import CrossrefRestClient, DataCiteSearchClient
from worker.pids.readonly import ReadRetry, polite_user_agent
from worker.pids.search import (
    CrossrefRegistry,
    DataCiteRegistry,
    RegistrySearch,
    SearchFailed,
    SearchQuery,
)
from worker.pids.search.merge import SearchRun
from worker.pids.search.query import CROSSREF_TYPE_FILTER, datacite_query_string
from worker.pids.search.service import REGISTRIES
from worker.ratelimit import Limit, RateLimiter

MAILTO = "ops@example.org"

# --- seeding the sandbox (also used by test_duplicates and test_cli) ---------------------------


def publish_datacite(
    info,
    suffix: str,
    title: str,
    *,
    creators=(("Carberry", "Josiah"),),
    year: int = 2023,
    kind: str = "Dataset",
) -> str:
    """A findable DataCite DOI created through the sandbox's REST API."""
    doi = f"{info['datacite_prefix']}/{suffix}"
    attributes = {
        "doi": doi,
        "event": "publish",
        "url": f"https://example.org/landing/{suffix}",
        "creators": [
            {
                "name": f"{family}, {given}",
                "nameType": "Personal",
                "givenName": given,
                "familyName": family,
            }
            for family, given in creators
        ],
        "titles": [{"title": title}],
        "publisher": "pidsync sandbox",
        "publicationYear": year,
        "types": {"resourceTypeGeneral": kind},
    }
    answer = requests.put(
        f"{info['datacite_api_url']}/dois/{doi}",
        json={"data": {"type": "dois", "attributes": attributes}},
        auth=(info["datacite_repository_id"], info["datacite_password"]),
        timeout=10,
    )
    assert answer.status_code in (200, 201), answer.text
    return doi


def deposit_crossref(info, records, file_name: str = "pids.xml") -> list[str]:
    """Journal articles deposited (and processed) at the sandbox's Crossref: each record is
    (suffix, title, family, given, year)."""
    prefix = info["crossref_prefix"]
    articles = [
        article(f"{prefix}/{suffix}", title, family=family, given=given, year=year)
        for suffix, title, family, given, year in records
    ]
    with requests.Session() as session:
        answer = upload(session, info, deposit(*articles, batch_id=file_name), file_name)
        assert answer.status_code == 200, answer.text
        assert b'status="completed"' in poll(session, info, file_name, timeout=60).content
    return [f"{prefix}/{suffix}".lower() for suffix, *_ in records]


def log_urls(client) -> list[str]:
    """Every URL the client's session answers, query string included."""
    urls: list[str] = []
    client.http.hooks["response"].append(lambda response, *a, **k: urls.append(response.url))
    return urls


def registry_search(info, *, registries=("crossref", "datacite"), **kwargs) -> RegistrySearch:
    chosen = {}
    if "crossref" in registries:
        chosen["crossref"] = CrossrefRegistry(
            CrossrefRestClient(info["crossref_api_url"], mailto=MAILTO, timeout=5, **kwargs)
        )
    if "datacite" in registries:
        chosen["datacite"] = DataCiteRegistry(
            DataCiteSearchClient(info["datacite_api_url"], mailto=MAILTO, timeout=5, **kwargs)
        )
    return RegistrySearch(chosen)


@pytest.fixture
def glaciers(sandbox, info):
    """7 Crossref and 7 DataCite records about glaciers, and a few others."""
    crossref = deposit_crossref(
        info,
        [
            (f"glacier-{i}", f"Glacier melt observations, site {i}", "Frost", "Ana", 2020 + i % 3)
            for i in range(7)
        ]
        + [("moss-1", "Moss on stones", "Lichen", "Bo", 2019)],
    )
    datacite = [
        publish_datacite(
            info,
            f"glacier-data-{i}",
            f"Glacier melt measurements {i}",
            creators=(("Snow", "Eli"), ("Frost", "Ana")),
            year=2021,
        )
        for i in range(7)
    ]
    publish_datacite(info, "software-1", "Glacier melt model", kind="Software", year=2022)
    return {"crossref": crossref, "datacite": datacite}


# --- merged search -----------------------------------------------------------------------------


def test_results_in_one_normalised_shape(glaciers, info):
    answer = registry_search(info).search(SearchQuery(text="glacier melt"), rows=50)
    assert answer.warnings == [] and answer.failed == {}
    by_doi = {hit.doi: hit for hit in answer.hits}
    crossref = by_doi[glaciers["crossref"][0]]
    assert crossref.to_json() == {
        "doi": "10.32013/glacier-0",
        "title": "Glacier melt observations, site 0",
        "authors": ["Frost, Ana"],
        "author_count": 1,
        "year": 2020,
        "type": "journal-article",
        "registry_type": "journal-article",
        "container": "Journal of Sandbox Studies",
        "agency": "crossref",
        "score": crossref.score,
        "rank": crossref.rank,
    }
    assert isinstance(crossref.score, float) and crossref.score > 0
    datacite = by_doi[glaciers["datacite"][0]]
    assert datacite.agency == "datacite"
    assert datacite.authors == ["Snow, Eli", "Frost, Ana"]
    assert (datacite.year, datacite.type, datacite.registry_type) == (2021, "dataset", "Dataset")
    assert datacite.score is None  # DataCite's API gives no relevance score
    assert by_doi["10.5072/software-1"].type == "software"
    assert answer.totals == {"crossref": 7, "datacite": 8}


def test_merge_alternates_by_rank_is_stable_and_cut_at_rows(glaciers, info):
    search = registry_search(info)
    first = search.search(SearchQuery(text="glacier"), rows=6)
    again = search.search(SearchQuery(text="glacier"), rows=6)
    assert [h.doi for h in first.hits] == [h.doi for h in again.hits]
    assert [h.agency for h in first.hits] == ["crossref", "datacite"] * 3
    assert [h.rank for h in first.hits] == [1, 1, 2, 2, 3, 3]


def test_title_author_year_and_type_reach_both_registries(glaciers, info):
    search = registry_search(info)
    by_author = search.search(SearchQuery(author="Snow"), rows=50).hits
    assert {h.doi for h in by_author} == set(glaciers["datacite"])
    in_2022 = search.search(SearchQuery(title="glacier melt", year=2022), rows=50).hits
    assert {h.doi for h in in_2022} == {
        "10.32013/glacier-2",
        "10.32013/glacier-5",
        "10.5072/software-1",
    }
    software = search.search(SearchQuery(text="glacier", type="software"), rows=50)
    assert [h.doi for h in software.hits] == ["10.5072/software-1"]
    assert software.warnings == ["crossref has no software type; searched datacite only"]
    articles = search.search(SearchQuery(text="glacier", type="journal-article"), rows=50).hits
    assert {h.agency for h in articles} == {"crossref"}


def test_cursor_paging_over_several_pages_on_both_registries(glaciers, sandbox, info):
    search = registry_search(info)
    urls = {name: log_urls(registry.client) for name, registry in search.registries.items()}
    progress = []
    run = search.stream(
        SearchQuery(text="glacier"), page_size=3, on_progress=lambda n, t: progress.append((n, t))
    )
    hits = list(run)
    dois = [h.doi for h in hits]
    assert len(dois) == len(set(dois)) == 15
    assert set(dois) == {*glaciers["crossref"][:7], *glaciers["datacite"], "10.5072/software-1"}
    crossref_ranks = [h.rank for h in hits if h.agency == "crossref"]
    assert crossref_ranks == list(range(1, 8))  # ranks keep counting across pages
    cursors = {
        name: [parse_qs(urlsplit(url).query) for url in logged] for name, logged in urls.items()
    }
    # Crossref: 3 + 3 + 1 (a short page: stop); DataCite: 3 + 3 + 2 (no links.next: stop).
    assert [q["cursor"][0] == "*" for q in cursors["crossref"]] == [True, False, False]
    assert [q["page[cursor]"][0] == "1" for q in cursors["datacite"]] == [True, False, False]
    assert progress[-1] == (15, 15)
    assert run.warnings == []


def test_one_registry_down_gives_a_partial_answer_and_a_warning(glaciers, sandbox, info):
    sandbox.set_faults("datacite", outage_seconds=30)
    warned = []
    answer = registry_search(info).search(
        SearchQuery(text="glacier"), rows=50, on_warning=warned.append
    )
    assert {h.agency for h in answer.hits} == {"crossref"}
    assert len(answer.hits) == 7
    assert warned == answer.warnings
    assert answer.warnings[0].startswith("warning: datacite unavailable (HTTP 503, retry after")
    assert answer.warnings[0].endswith("results are from crossref only")
    assert list(answer.failed) == ["datacite"]


def test_a_registry_failing_part_way_keeps_what_came_and_the_other_goes_on(glaciers, sandbox, info):
    def break_crossref(count, total):
        sandbox.set_faults("crossref", outage_seconds=30)

    run = registry_search(info).stream(
        SearchQuery(text="glacier"), page_size=3, on_progress=break_crossref
    )
    hits = list(run)
    assert [h.agency for h in hits].count("crossref") == 3  # the first page
    assert [h.agency for h in hits].count("datacite") == 8  # every page
    assert run.warnings == [
        (
            "warning: crossref unavailable (HTTP 503, retry after 30s) after 3 of its results: "
            "the rest are from datacite only"
        )
    ]


def test_every_registry_down_raises(sandbox, info):
    sandbox.set_faults("datacite", outage_seconds=30)
    sandbox.set_faults("crossref", outage_seconds=30)
    with pytest.raises(SearchFailed) as caught:
        registry_search(info).search(SearchQuery(text="glacier"))
    assert set(caught.value.failures) == {"crossref", "datacite"}
    assert not caught.value.bad_request


def test_a_refused_query_is_named(sandbox, info):
    search = registry_search(info, registries=("datacite",))
    with pytest.raises(SearchFailed) as caught:
        search.search(SearchQuery(text='titles.title:"unbalanced'))
    assert caught.value.bad_request
    assert str(caught.value).startswith("datacite: refused the query (HTTP 400: Invalid query")


def test_registries_are_asked_in_parallel(sandbox, info):
    sandbox.set_faults("crossref", latency_ms=500)
    sandbox.set_faults("datacite", latency_ms=500)
    started = time.monotonic()
    registry_search(info).search(SearchQuery(text="anything"))
    assert time.monotonic() - started < 0.95  # not 1 s one after the other


# --- pacing and retries ------------------------------------------------------------------------


def _crossref_only(info, **kwargs):
    client = CrossrefRestClient(info["crossref_api_url"], mailto=MAILTO, timeout=5, **kwargs)
    return RegistrySearch({"crossref": CrossrefRegistry(client)}), client


def test_the_shared_limiter_keeps_reads_under_the_services_limit(
    glaciers, sandbox, info, redis_client
):
    # Given Crossref allowing 5 requests per second, and a shared budget of 4/s for its reads
    sandbox.set_limits(crossref_api={"limit": 5, "window_seconds": 1})
    limit = Limit("crossref-rest", rate=4.0, burst=1)
    search, client = _crossref_only(info, limiter=RateLimiter(redis_client), limit=limit)
    urls = log_urls(client)
    started = time.monotonic()
    # When every page of 1 is fetched (8 requests)
    hits = list(search.stream(SearchQuery(text="glacier"), page_size=1))
    # Then none was refused: each took its slot, 4 a second
    assert len(hits) == 7
    assert len(urls) == 8
    assert sandbox.state()["requests"]["crossref"]["rate_limited"] == 0
    assert time.monotonic() - started >= 7 / 4 * 0.95


def test_without_the_limiter_the_sandbox_refuses(glaciers, sandbox, info):
    # The control: no pacing, and no patience for Retry-After, so the 429 is the answer.
    sandbox.set_limits(crossref_api={"limit": 3, "window_seconds": 1})
    search, _ = _crossref_only(info, reads=SearchSettings(retry_after_max_seconds=0))
    run = search.stream(SearchQuery(text="glacier"), page_size=1)
    with pytest.raises(SearchFailed, match=r"crossref: rate limited \(429, retry after 1s\)"):
        list(run)
    assert sandbox.state()["requests"]["crossref"]["rate_limited"] == 1


def test_reads_share_one_budget_across_processes(sandbox, info, redis_client):
    # Given two processes' searches sharing a budget of one read per 10 s
    limit = Limit("crossref-rest", rate=0.1, burst=1)
    first, _ = _crossref_only(info, limiter=RateLimiter(redis_client), limit=limit)
    other_process, _ = _crossref_only(info, limiter=RateLimiter(redis_client), limit=limit)
    first.search(SearchQuery(text="glacier"))
    # When the other asks, its slot is ~10 s off: its message is postponed, not failed
    with pytest.raises(Postpone):
        other_process.search(SearchQuery(text="glacier"))
    assert sandbox.state()["requests"]["crossref"]["total"] == 1


def test_a_limiter_needs_the_limit_of_its_service(redis_client):
    with pytest.raises(ValueError, match="a limiter needs the Limit of its service"):
        CrossrefRestClient("https://api.crossref.test", limiter=RateLimiter(redis_client))


def test_a_429_waits_for_retry_after_then_goes_on(glaciers, sandbox, info):
    sandbox.set_limits(crossref_api={"limit": 2, "window_seconds": 1})
    search, _ = _crossref_only(info)
    started = time.monotonic()
    hits = list(search.stream(SearchQuery(text="glacier"), page_size=2))
    assert len(hits) == 7
    assert sandbox.state()["requests"]["crossref"]["rate_limited"] >= 1
    assert time.monotonic() - started >= 1.0  # Retry-After: 1


def test_a_read_after_a_503_with_retry_after_is_retried_and_succeeds(sandbox, info):
    # Given Crossref down for half a second (503, Retry-After: 1)
    sandbox.set_faults("crossref", outage_seconds=0.5)
    client = CrossrefRestClient(info["crossref_api_url"], timeout=5)
    # When a work is read, then the session waited as told and asked again
    message = client.work("10.5555/12345678")
    assert message is not None and message["DOI"].lower() == "10.5555/12345678"
    assert sandbox.state()["requests"]["crossref"]["total"] == 2


def test_a_404_is_not_retried(sandbox, info):
    client = CrossrefRestClient(info["crossref_api_url"], timeout=5)
    assert client.work("10.5555/no-such-work") is None
    assert sandbox.state()["requests"]["crossref"]["total"] == 1


def test_the_read_policy_is_mounted_once_on_a_shared_session():
    shared = requests.Session()
    first = CrossrefRestClient("https://api.crossref.test", session=shared)
    adapter = shared.get_adapter("https://api.crossref.test")
    retry = adapter.max_retries
    assert isinstance(retry, ReadRetry)
    assert (retry.total, retry.read, retry.raise_on_status) == (3, False, False)
    assert set(retry.status_forcelist) == {429, 500, 502, 503, 504}
    assert set(retry.allowed_methods) == {"GET", "HEAD"}
    CrossrefRestClient("https://api.crossref.test", session=shared)
    assert shared.get_adapter("https://api.crossref.test") is adapter  # connections kept
    assert first.http is shared


# --- the HTTP layer with a DOI both registries return --------------------------------------------


@responses.activate
def test_dedupe_by_doi_across_registries_and_the_polite_pool():
    crossref_url, datacite_url = "https://api.crossref.test", "https://api.datacite.test"
    responses.get(
        f"{crossref_url}/works",
        json={
            "status": "ok",
            "message-type": "work-list",
            "message": {
                "total-results": 2,
                "items": [
                    {
                        "DOI": "10.1234/SHARED",
                        "title": ["Shared <i>record</i>"],
                        "type": "dataset",
                        "author": [{"family": "Ng", "given": "Al"}],
                        "issued": {"date-parts": [[2020]]},
                        "score": 12.5,
                    },
                    {
                        "DOI": "10.1234/only-crossref",
                        "title": ["Crossref record"],
                        "type": "posted-content",
                        "subtype": "preprint",
                        "score": 3.0,
                    },
                ],
            },
        },
        headers={"X-Rate-Limit-Limit": "50", "X-Rate-Limit-Interval": "1s"},
    )
    responses.get(
        f"{datacite_url}/dois",
        json={
            "data": [
                {
                    "id": "10.1234/shared",
                    "attributes": {
                        "doi": "10.1234/shared",
                        "titles": [{"title": "Shared record"}],
                        "publicationYear": 2020,
                        "types": {"resourceTypeGeneral": "Dataset"},
                    },
                },
                {
                    "id": "10.5678/only-datacite",
                    "attributes": {
                        "doi": "10.5678/only-datacite",
                        "titles": [{"title": "DataCite record"}],
                        "publicationYear": "2019",
                        "types": {"resourceTypeGeneral": "Text"},
                    },
                },
            ],
            "meta": {"total": 2},
            "links": {},
        },
    )
    search = RegistrySearch(
        {
            "datacite": DataCiteRegistry(DataCiteSearchClient(datacite_url, mailto=MAILTO)),
            "crossref": CrossrefRegistry(CrossrefRestClient(crossref_url, mailto=MAILTO)),
        }
    )
    hits = search.search(SearchQuery(text="record", type="dataset"), rows=10).hits
    # Alternating by rank, Crossref first: DataCite's copy of the shared DOI is dropped.
    assert [(h.doi, h.agency, h.rank) for h in hits] == [
        ("10.1234/shared", "crossref", 1),
        ("10.1234/only-crossref", "crossref", 2),
        ("10.5678/only-datacite", "datacite", 2),
    ]
    assert hits[0].title == "Shared record"  # markup removed
    assert hits[1].type == "preprint"
    crossref_call, datacite_call = sorted(responses.calls, key=lambda c: c.request.url)
    crossref_params = parse_qs(urlsplit(crossref_call.request.url).query)
    assert crossref_params["mailto"] == [MAILTO]
    assert crossref_params["filter"] == ["type:dataset"]
    assert crossref_params["rows"] == ["10"]
    assert "mailto:ops@example.org" in crossref_call.request.headers["User-Agent"]
    datacite_params = parse_qs(urlsplit(datacite_call.request.url).query)
    assert datacite_params["resource-type-id"] == ["Dataset"]
    assert datacite_params["sort"] == ["relevance"]
    assert datacite_params["page[size]"] == ["10"]
    assert "mailto:ops@example.org" in datacite_call.request.headers["User-Agent"]


def test_query_strings_and_type_mapping():
    query = datacite_query_string(
        SearchQuery(text="ice", title="The Melt of Glaciers", author="Ana Frost", year=2021)
    )
    assert query == (
        "(ice) AND titles.title:(melt AND glaciers) AND creators.name:(ana AND frost) "
        "AND publicationYear:2021"
    )
    loose = SearchQuery(title="The Melt of Glaciers", any_title_words=True)
    assert datacite_query_string(loose) == "titles.title:(melt OR glaciers)"
    assert set(CROSSREF_TYPE_FILTER) == set(WorkType)
    with pytest.raises(ValueError, match="unknown work type"):
        SearchQuery(type="article")
    assert polite_user_agent(None).startswith("pidsync/")
    assert polite_user_agent("a@b.org").endswith("; mailto:a@b.org)")


def test_server_error_after_retries_is_a_warning_not_a_crash(sandbox, info):
    sandbox.set_faults("datacite", error_rate=1)
    search = registry_search(info, reads=SearchSettings(retries=1, retry_backoff_factor=0.01))
    answer = search.search(SearchQuery(text="sandbox"))
    assert answer.failed["datacite"].startswith("unavailable (HTTP 50")
    assert all(h.agency == "crossref" for h in answer.hits)
    assert sandbox.state()["requests"]["datacite"]["total"] == 2  # one retry


class _Failing:
    """A registry whose every page fails with ``error``."""

    first_cursor = "*"

    def __init__(self, name: str, error: Exception) -> None:
        self.name = name
        self.error = error

    def skip_reason(self, query):
        return None

    def page(self, query, rows, cursor, *, relevance):
        raise self.error

    def close(self):
        pass


def _failed_search(*errors: Exception) -> SearchFailed:
    registries = {name: _Failing(name, e) for name, e in zip(REGISTRIES, errors, strict=True)}
    run = SearchRun(
        registries,
        SearchQuery(text="glacier"),
        page_size=10,
        limit=None,
        cursors=False,
        on_warning=None,
        on_progress=None,
    )
    with pytest.raises(SearchFailed) as caught:
        list(run)
    return caught.value


def test_a_query_is_bad_only_when_every_registry_refused_it():
    refused = RequestError("400", service="crossref", status=400, text="Invalid query")
    # A failure that is no refusal, whatever its words say
    odd = ValueError("refused to decode the page: not JSON")
    assert _failed_search(refused, refused).bad_request
    assert not _failed_search(refused, odd).bad_request
