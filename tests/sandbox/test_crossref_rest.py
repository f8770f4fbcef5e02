"""Crossref REST works API, driven by habanero and plain requests."""

from __future__ import annotations

import pytest
from habanero import Crossref
from habanero.exceptions import RequestError

from tests.sandbox.deposits import article, deposit
from tests.sandbox.test_crossref_deposit import poll, upload


@pytest.fixture
def deposited(sandbox, info, http):
    articles = [
        article(
            "10.32013/rest-1",
            "Quantum sandboxes for metadata",
            given="Anna",
            family="Smith",
            orcid="0000-0002-1825-0097",
        ),
        article("10.32013/rest-2", "Classical sandboxes", given="Bo", family="Jones"),
        *[article(f"10.32013/bulk-{i}", f"Bulk record {i}", family="Bulkley") for i in range(5)],
    ]
    upload(http, info, deposit(*articles), "rest.xml")
    poll(http, info, "rest.xml")
    return info


def test_habanero_search_and_lookup(deposited):
    cr = Crossref(base_url=deposited["crossref_api_url"], mailto="ops@example.org")
    found = cr.works(query="quantum sandboxes")
    assert found["message-type"] == "work-list"
    assert found["message"]["items"][0]["DOI"] == "10.32013/rest-1"
    by_author = cr.works(query_author="jones")
    assert [item["DOI"] for item in by_author["message"]["items"]] == ["10.32013/rest-2"]
    one = cr.works(ids="10.32013/rest-1")
    message = one["message"]
    assert one["message-type"] == "work"
    assert message["title"] == ["Quantum sandboxes for metadata"]
    assert message["author"][0] == {
        "given": "Anna",
        "family": "Smith",
        "sequence": "first",
        "affiliation": [],
        "ORCID": "https://orcid.org/0000-0002-1825-0097",
        "authenticated-orcid": False,
    }
    assert message["container-title"] == ["Journal of Sandbox Studies"]
    assert message["type"] == "journal-article"
    assert message["issued"] == {"date-parts": [[2024]]}
    assert message["resource"]["primary"]["URL"] == "https://example.org/10.32013/rest-1"
    assert message["publisher"] == "Sandbox University Press"
    agency = cr.registration_agency("10.32013/rest-1")
    assert agency == ["Crossref"]


def test_habanero_cursor_walks_every_page(deposited):
    cr = Crossref(base_url=deposited["crossref_api_url"])
    pages = cr.works(query="bulkley", cursor="*", limit=2, cursor_max=100)
    dois = [item["DOI"] for page in pages for item in page["message"]["items"]]
    assert sorted(dois) == [f"10.32013/bulk-{i}" for i in range(5)]
    assert len(pages) == 3


def test_seeded_records_and_filters(deposited, http):
    api = deposited["crossref_api_url"]
    seed = http.get(f"{api}/works/10.5555/12345678").json()["message"]
    assert seed["title"] == [
        "Toward a Unified Theory of High-Energy Metaphysics: Silly String Theory"
    ]
    everything = http.get(f"{api}/works", params={"rows": 0}).json()["message"]
    assert everything["total-results"] == 3 + 7
    assert "next-cursor" not in everything
    prefixed = http.get(f"{api}/works", params={"filter": "prefix:10.32013,has-orcid:true"}).json()[
        "message"
    ]
    assert [i["DOI"] for i in prefixed["items"]] == ["10.32013/rest-1"]
    selected = http.get(
        f"{api}/works", params={"query.bibliographic": "classical", "select": "DOI,title"}
    ).json()
    assert selected["message"]["items"] == [
        {"DOI": "10.32013/rest-2", "title": ["Classical sandboxes"]}
    ]
    offset = http.get(f"{api}/works", params={"query": "bulkley", "rows": 2, "offset": 4}).json()[
        "message"
    ]
    assert len(offset["items"]) == 1
    assert offset["query"]["start-index"] == 4


def test_envelope_headers_and_errors(deposited, http):
    api = deposited["crossref_api_url"]
    answer = http.get(f"{api}/works", params={"query": "sandbox"})
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["X-Rate-Limit-Limit"] == "50"
    assert answer.headers["X-Rate-Limit-Interval"] == "1s"
    body = answer.json()
    assert (body["status"], body["message-type"], body["message-version"]) == (
        "ok",
        "work-list",
        "1.0.0",
    )
    assert {"facets", "total-results", "items", "items-per-page", "query"} <= set(body["message"])
    missing = http.get(f"{api}/works/10.32013/nope")
    assert (missing.status_code, missing.headers["Content-Type"].split(";")[0], missing.text) == (
        404,
        "text/plain",
        "Resource not found.",
    )
    too_many = http.get(f"{api}/works", params={"rows": 1001})
    assert too_many.status_code == 400
    assert too_many.json() == {
        "status": "failed",
        "message-type": "validation-failure",
        "message": [
            {
                "type": "integer-not-valid",
                "value": "1001",
                "message": "Integer specified as 1001 but must be a positive integer less than or equal to 1000. ",
            }
        ],
    }
    far = http.get(f"{api}/works", params={"offset": 10001}).json()
    assert far["message"][0]["message"] == "Offset specified as 10001 is too large"
    bad_filter = http.get(f"{api}/works", params={"filter": "colour:blue"}).json()
    assert bad_filter["message"][0]["type"] == "filter-not-available"
    assert http.get(f"{api}/works", params={"nonsense": "1"}).status_code == 400
    cr = Crossref(base_url=api)
    with pytest.raises(RequestError):
        cr.works(limit=5000)


def test_rest_rate_limit(sandbox, info, http):
    sandbox.set_limits(crossref_api={"limit": 3, "window_seconds": 30})
    statuses = [
        http.get(info["crossref_api_url"] + "/works", params={"rows": 1}).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    limited = http.get(info["crossref_api_url"] + "/works")
    assert limited.headers["X-Rate-Limit-Limit"] == "3"
    assert "Retry-After" in limited.headers
    assert sandbox.state()["requests"]["crossref"]["rate_limited"] == 3
