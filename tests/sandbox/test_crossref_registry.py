"""Crossref REST /members and /journals, derived from the works the sandbox knows, driven by
habanero (which reads them as Crossref serves them) and plain requests."""

from __future__ import annotations

import datetime as dt

import pytest
from habanero import Crossref
from httpx2 import HTTPStatusError

from tests.sandbox.deposits import article, deposit
from tests.sandbox.test_crossref_deposit import poll, upload


@pytest.fixture
def deposited(sandbox, info, http):
    this_year = dt.datetime.now(dt.UTC).year
    articles = [
        article("10.32013/reg-1", "A current article", year=this_year),
        article("10.32013/reg-2", "An older article", year=2001, orcid="0000-0002-1825-0097"),
    ]
    upload(http, info, deposit(*articles, journal="Journal of Sandbox Studies"), "reg.xml")
    poll(http, info, "reg.xml")
    return info


def crossref(info) -> Crossref:
    return Crossref(base_url=info["crossref_api_url"], mailto="ops@example.org")


def test_members_list_and_one_member(deposited):
    found = crossref(deposited).members()
    assert (found["status"], found["message-type"]) == ("ok", "member-list")
    message = found["message"]
    assert message["total-results"] == 1 and message["items-per-page"] == 20
    assert message["query"] == {"start-index": 0, "search-terms": None}
    (member,) = message["items"]
    assert member["id"] == 98765 and isinstance(member["id"], int)
    # the sandbox roles' prefixes and the seeded works' ones
    assert {"10.32013", "10.80002", "10.5555", "10.1002"} <= set(member["prefixes"])
    assert [p["value"] for p in member["prefix"]] == member["prefixes"]
    # two deposited + three seeded works; one issued this year
    assert member["counts"]["total-dois"] == 5
    assert member["counts"]["current-dois"] + member["counts"]["backfile-dois"] == 5
    years = dict(map(tuple, member["breakdowns"]["dois-by-issued-year"]))
    assert years[2001] == 1 and years[dt.datetime.now(dt.UTC).year] >= 1
    one = crossref(deposited).members(ids=98765)
    assert one["message-type"] == "member" and one["message"]["id"] == 98765
    assert one["message"]["primary-name"] == member["primary-name"]


def test_members_query_filter_and_paging(deposited, http):
    api = deposited["crossref_api_url"]
    name = http.get(f"{api}/members", timeout=10).json()["message"]["items"][0]["primary-name"]
    word = name.split()[-1].lower()
    hit = http.get(f"{api}/members", params={"query": word}, timeout=10).json()
    assert hit["message"]["total-results"] == 1
    assert hit["message"]["query"]["search-terms"] == word
    miss = http.get(f"{api}/members", params={"query": "nonexistentpublisher"}, timeout=10)
    assert miss.json()["message"]["total-results"] == 0
    prefix = http.get(f"{api}/members", params={"filter": "prefix:10.32013"}, timeout=10).json()
    assert prefix["message"]["total-results"] == 1
    other = http.get(f"{api}/members", params={"filter": "prefix:10.9999"}, timeout=10).json()
    assert other["message"]["total-results"] == 0
    paged = http.get(f"{api}/members", params={"rows": 0}, timeout=10).json()["message"]
    assert (paged["total-results"], paged["items"]) == (1, [])


def test_journals_list_and_one_journal(deposited):
    found = crossref(deposited).journals()
    assert found["message-type"] == "journal-list"
    by_title = {j["title"]: j for j in found["message"]["items"]}
    assert set(by_title) == {
        "Journal of Sandbox Studies",
        "Journal of Psychoceramics",
        "Journal of Sandbox Biomaterials",
    }
    sandbox_journal = by_title["Journal of Sandbox Studies"]
    assert sandbox_journal["ISSN"] == ["2049-3630"]
    assert sandbox_journal["issn-type"] == [{"value": "2049-3630", "type": "electronic"}]
    assert sandbox_journal["counts"]["total-dois"] == 2
    assert by_title["Journal of Psychoceramics"]["counts"]["total-dois"] == 2
    one = crossref(deposited).journals(ids="2049-3630")
    assert one["message-type"] == "journal"
    assert one["message"]["title"] == "Journal of Sandbox Studies"
    # an ISSN without its hyphen is the same journal
    assert crossref(deposited).journals(ids="20493630")["message"]["ISSN"] == ["2049-3630"]


def test_unknown_ones_are_404_and_bad_requests_400(deposited, http):
    api = deposited["crossref_api_url"]
    for path in ("members/1", "members/not-a-number", "journals/1234-5679", "journals/x"):
        answer = http.get(f"{api}/{path}", timeout=10)
        assert (answer.status_code, answer.text) == (404, "Resource not found."), path
    with pytest.raises(HTTPStatusError):  # habanero's answer to a 404
        crossref(deposited).journals(ids="0000-0000")
    refused = {
        "members?rows=1001": "integer-not-valid",
        "members?offset=-1": "integer-not-valid",
        "members?sort=score": "parameter-not-allowed",
        "members?filter=type:journal": "filter-not-available",
        "journals?filter=prefix:10.32013": "parameter-not-allowed",
    }
    for path, kind in refused.items():
        answer = http.get(f"{api}/{path}", timeout=10)
        assert answer.status_code == 400, path
        body = answer.json()
        assert body["message-type"] == "validation-failure"
        assert body["message"][0]["type"] == kind, path


def test_they_share_the_works_rate_limit(deposited, sandbox, http):
    sandbox.set_limits(crossref_api={"limit": 2, "window_seconds": 60})
    api = deposited["crossref_api_url"]
    statuses = [http.get(f"{api}/{p}", timeout=10).status_code for p in ("members", "journals")]
    limited = http.get(f"{api}/members/98765", timeout=10)
    assert statuses == [200, 200]
    assert limited.status_code == 429 and limited.headers["Retry-After"]
    assert limited.headers["X-Rate-Limit-Limit"] == "2"
