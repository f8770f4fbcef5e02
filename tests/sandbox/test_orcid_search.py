"""ORCID public search: the Solr subset, paging limits, expanded and CSV search."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox.test_orcid_helpers import (
    JSON,
    client_token,
    error_code,
    first_client,
    member_token,
    post_work,
    pub,
    researcher,
    work,
)


@pytest.fixture
def people(sandbox, info):
    """Three researchers; Sofía has a public work with a DOI."""
    sofia = researcher(
        sandbox,
        given_names="Sofía",
        family_name="García",
        email="sofia@uni.example",
        affiliation="University of Examples",
        ror="https://ror.org/05dxps055",
    )
    sofia_b = researcher(
        sandbox, given_names="Sofia", family_name="Brown", affiliation="Institute of Tests"
    )
    josiah = researcher(
        sandbox, given_names="Josiah", family_name="Carberry", email="josiah@brown.example"
    )
    post_work(
        info,
        sofia,
        member_token(sandbox, sofia),
        work("10.5555/Searchable", title="Deep sea vents"),
    )
    return {"sofia": sofia, "sofia_b": sofia_b, "josiah": josiah}


def search(info, q, path="search", **params):
    return requests.get(
        f"{pub(info)}/{path}/", params={"q": q, **params}, headers={"Accept": JSON}, timeout=5
    )


def found(info, q):
    answer = search(info, q)
    assert answer.status_code == 200, answer.text
    return {item["orcid-identifier"]["path"] for item in answer.json()["result"]}


@pytest.mark.parametrize(
    ("query", "who"),
    [
        ("family-name:garcia", {"sofia"}),
        ("family-name:GARCÍA", {"sofia"}),
        ("given-names:sofia", {"sofia", "sofia_b"}),
        ('given-and-family-names:"sofia garcia"', {"sofia"}),
        ("given-names:sofia AND family-name:brown", {"sofia_b"}),
        ("family-name:brown OR family-name:carberry", {"sofia_b", "josiah"}),
        ("given-names:sofia AND (family-name:garcia OR family-name:carberry)", {"sofia"}),
        ("email:josiah@brown.example", {"josiah"}),
        ('affiliation-org-name:"university of examples"', {"sofia"}),
        ("ror-org-id:05dxps055", {"sofia"}),
        ('ror-org-id:"https://ror.org/05dxps055"', {"sofia"}),
        ("doi-self:10.5555/searchable", {"sofia"}),
        ("brown", {"sofia_b", "josiah"}),
        ("family-name:nobody", set()),
    ],
)
def test_solr_subset(info, people, query, who):
    assert found(info, query) == {people[name] for name in who}


def test_orcid_field_and_response_shape(info, people):
    answer = search(info, f"orcid:{people['josiah']}")

    body = answer.json()
    assert body["num-found"] == 1
    assert body["result"][0]["orcid-identifier"] == {
        "uri": f"https://orcid.org/{people['josiah']}",
        "path": people["josiah"],
        "host": "orcid.org",
    }


def test_paging_limits(info, people):
    page = search(info, "given-names:sofia", rows="1", start="1").json()
    too_many_rows = search(info, "sofia", rows="1001")
    negative_rows = search(info, "sofia", rows="-1")
    far_start = search(info, "sofia", start="10001")

    assert page["num-found"] == 2 and len(page["result"]) == 1
    assert too_many_rows.status_code == 400 and error_code(too_many_rows) == 9012
    assert (
        "The rows parameter must be an integer between 0 and 1000"
        in too_many_rows.json()["developer-message"]
    )
    assert negative_rows.status_code == 400 and error_code(negative_rows) == 9012
    assert far_start.status_code == 400 and error_code(far_start) == 9043


def test_a_read_public_token_may_page_past_10000(sandbox, info, people):
    token = client_token(info, first_client(sandbox), "/read-public")

    answer = requests.get(
        f"{pub(info)}/search/",
        params={"q": "sofia", "start": "10001"},
        headers={"Accept": JSON, "Authorization": f"Bearer {token}"},
        timeout=5,
    )

    assert answer.status_code == 200
    assert answer.json() == {"result": [], "num-found": 2}


def test_expanded_search(info, people):
    hits = search(info, "family-name:garcia", path="expanded-search").json()
    none = search(info, "family-name:nobody", path="expanded-search").json()

    assert hits["num-found"] == 1
    assert hits["expanded-result"][0] == {
        "orcid-id": people["sofia"],
        "given-names": "Sofía",
        "family-names": "García",
        "credit-name": None,
        "other-name": [],
        "email": ["sofia@uni.example"],
        "institution-name": ["University of Examples"],
    }
    assert none == {"expanded-result": None, "num-found": 0}


def test_csv_search(info, people):
    answer = requests.get(
        f"{pub(info)}/csv-search/",
        params={"q": "given-names:sofia", "fl": "orcid,given-names,family-name,email"},
        headers={"Accept": "text/csv"},
        timeout=5,
    )
    as_json = requests.get(
        f"{pub(info)}/csv-search/", params={"q": "sofia"}, headers={"Accept": JSON}, timeout=5
    )

    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.text.splitlines() == [
        f"{people['sofia']},Sofía,García,sofia@uni.example",
        f"{people['sofia_b']},Sofia,Brown,",
    ]
    assert as_json.status_code == 406


def test_bad_queries(info, people):
    empty = search(info, "")
    unbalanced = search(info, "(family-name:garcia")

    assert empty.status_code == 400
    assert unbalanced.status_code == 400
