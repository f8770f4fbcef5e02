"""The simulated ORCID's affiliations, fundings, peer reviews and group-id registry, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.sandbox.test_orcid_helpers import (
    api,
    client_token,
    error_code,
    first_client,
    headers,
    member_token,
    pub,
    put_code_of,
    researcher,
    second_client,
)
from worker.sandbox.orcid.activity_check import AFFILIATIONS

ROR = "https://ror.org/03yrm5c26"


def org(**override: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "California Digital Library",
        "address": {"city": "Oakland", "region": "CA", "country": "US"},
        "disambiguated-organization": {
            "disambiguated-organization-identifier": ROR,
            "disambiguation-source": "ROR",
        },
    }
    body.update(override)
    return body


def affiliation(**extra: Any) -> dict[str, Any]:
    return {
        "department-name": "Library",
        "role-title": "Curator",
        "start-date": {"year": {"value": "2020"}, "month": {"value": "01"}},
        "organization": org(),
        **extra,
    }


def funding(grant: str = "G-1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "grant",
        "title": {"title": {"value": "Persistent identifiers for all"}},
        "amount": {"value": "1000", "currency-code": "EUR"},
        "external-ids": {
            "external-id": [
                {
                    "external-id-type": "grant_number",
                    "external-id-value": grant,
                    "external-id-relationship": "self",
                }
            ]
        },
        "organization": org(
            name="European Commission",
            address={"city": "Brussels", "country": "BE"},
            **{
                "disambiguated-organization": {
                    "disambiguated-organization-identifier": "501100000780",
                    "disambiguation-source": "FUNDREF",
                }
            },
        ),
        **extra,
    }


def review(group_id: str = "issn:1234-5678", ident: str = "rev-1") -> dict[str, Any]:
    return {
        "reviewer-role": "reviewer",
        "review-identifiers": {
            "external-id": [
                {
                    "external-id-type": "source-work-id",
                    "external-id-value": ident,
                    "external-id-relationship": "self",
                }
            ]
        },
        "review-type": "review",
        "review-completion-date": {"year": {"value": "2024"}},
        "review-group-id": group_id,
        "convening-organization": org(),
    }


@pytest.fixture
def owner(sandbox):
    orcid = researcher(sandbox, given_names="Josiah", family_name="Carberry")
    return orcid, member_token(sandbox, orcid)


def post(info, orcid, token, section, body) -> requests.Response:
    return requests.post(
        f"{api(info)}/{orcid}/{section}", json=body, headers=headers(token), timeout=5
    )


@pytest.mark.parametrize("section", AFFILIATIONS)
def test_each_affiliation_section_is_written_read_updated_and_deleted(info, owner, section):
    orcid, token = owner

    created = post(info, orcid, token, section, affiliation())
    put_code = put_code_of(created)
    url = f"{api(info)}/{orcid}/{section}/{put_code}"
    read = requests.get(url, headers=headers(token), timeout=5).json()
    changed = requests.put(
        url,
        json={**affiliation(**{"role-title": "Director"}), "put-code": put_code},
        headers=headers(token),
        timeout=5,
    )
    summary = requests.get(f"{api(info)}/{orcid}/{section}s", headers=headers(token), timeout=5)
    gone = requests.delete(url, headers=headers(token), timeout=5)
    after = requests.get(url, headers=headers(token), timeout=5)

    assert created.status_code == 201
    assert created.headers["Location"].endswith(f"/v3.0/{orcid}/{section}/{put_code}")
    assert read["role-title"] == "Curator"
    assert read["path"] == f"/{orcid}/{section}/{put_code}"
    assert changed.status_code == 200
    assert changed.json()["role-title"] == "Director"
    groups = summary.json()["affiliation-group"]
    assert [g["summaries"][0][f"{section}-summary"]["put-code"] for g in groups] == [put_code]
    assert gone.status_code == 204
    assert after.status_code == 404
    assert error_code(after) == 9016


@pytest.mark.parametrize(
    ("organization", "words"),
    [
        (org(**{"disambiguated-organization": None}), "disambiguated organization"),
        (
            org(
                **{
                    "disambiguated-organization": {
                        "disambiguated-organization-identifier": "x",
                        "disambiguation-source": "WIKIDATA",
                    }
                }
            ),
            "disambiguation-source",
        ),
        (org(address={"city": "Oakland"}), "country"),
        (org(name=" "), "name"),
    ],
)
def test_an_organisation_without_what_orcid_requires_is_refused(info, owner, organization, words):
    orcid, token = owner

    answer = post(info, orcid, token, "employment", affiliation(organization=organization))

    assert answer.status_code == 400
    assert error_code(answer) == 9020
    assert words in answer.json()["developer-message"]


def test_unknown_fields_and_bad_dates_are_refused(info, owner):
    orcid, token = owner

    unknown = post(info, orcid, token, "education", affiliation(colour="blue"))
    bad_date = post(
        info, orcid, token, "education", affiliation(**{"end-date": {"year": {"value": "20"}}})
    )

    assert (unknown.status_code, error_code(unknown)) == (400, 9047)
    assert bad_date.status_code == 400
    assert error_code(bad_date) in (9049, 9020)


def test_a_second_funding_with_the_same_self_id_from_the_same_client_is_409(sandbox, info, owner):
    orcid, token = owner
    other_token = member_token(sandbox, orcid, client_id=second_client(sandbox)[0])

    first = put_code_of(post(info, orcid, token, "funding", funding("G-7")))
    again = post(info, orcid, token, "funding", funding("g-7 "))
    other = post(info, orcid, other_token, "funding", funding("G-7"))
    summary = requests.get(f"{api(info)}/{orcid}/fundings", headers=headers(token), timeout=5)

    assert again.status_code == 409
    assert error_code(again) == 9021
    assert f"put-code {first}" in again.json()["developer-message"]
    assert other.status_code == 201  # another client's funding is not a duplicate
    groups = summary.json()["group"]
    assert len(groups) == 1  # grouped by the shared grant number
    assert len(groups[0]["funding-summary"]) == 2


def test_funding_needs_a_title_and_a_type(info, owner):
    orcid, token = owner

    untitled = post(info, orcid, token, "funding", funding(title={"title": {"value": ""}}))
    bad_type = post(info, orcid, token, "funding", funding(type="gift"))

    assert (untitled.status_code, error_code(untitled)) == (400, 9022)
    assert (bad_type.status_code, error_code(bad_type)) == (400, 9051)


def test_only_the_source_may_change_an_item(sandbox, info, owner):
    orcid, token = owner
    other_token = member_token(sandbox, orcid, client_id=second_client(sandbox)[0])
    put_code = put_code_of(post(info, orcid, token, "membership", affiliation()))
    url = f"{api(info)}/{orcid}/membership/{put_code}"

    put = requests.put(
        url, json={**affiliation(), "put-code": put_code}, headers=headers(other_token), timeout=5
    )
    delete = requests.delete(url, headers=headers(other_token), timeout=5)

    assert (put.status_code, error_code(put)) == (403, 9010)
    assert (delete.status_code, error_code(delete)) == (403, 9010)


def test_public_reads_show_the_items_and_activities_lists_every_section(info, owner):
    orcid, token = owner
    employment = put_code_of(post(info, orcid, token, "employment", affiliation()))
    put_code_of(post(info, orcid, token, "funding", funding()))

    public = requests.get(
        f"{pub(info)}/{orcid}/employment/{employment}", headers=headers(), timeout=5
    )
    activities = requests.get(
        f"{pub(info)}/{orcid}/activities", headers=headers(), timeout=5
    ).json()

    assert public.status_code == 200
    assert public.json()["organization"]["name"] == "California Digital Library"
    assert len(activities["employments"]["affiliation-group"]) == 1
    assert len(activities["fundings"]["group"]) == 1
    assert activities["peer-reviews"]["group"] == []


def test_a_peer_review_needs_its_group_id_registered_first(sandbox, info, owner):
    orcid, token = owner
    client = first_client(sandbox)
    registry = f"{api(info)}/group-id-record"
    group = {
        "name": "Journal of Identifiers",
        "group-id": "issn:1234-5678",
        "description": "A journal",
        "type": "journal",
    }

    before = post(info, orcid, token, "peer-review", review())
    with_member_token = requests.post(registry, json=group, headers=headers(token), timeout=5)
    cc = client_token(info, client, "/group-id-record/update")
    made = requests.post(registry, json=group, headers=headers(cc), timeout=5)
    twice = requests.post(registry, json=group, headers=headers(cc), timeout=5)
    found = requests.get(
        registry, params={"group-id": "issn:1234-5678"}, headers=headers(cc), timeout=5
    )
    after = post(info, orcid, token, "peer-review", review())
    duplicate = post(info, orcid, token, "peer-review", review())
    summary = requests.get(f"{api(info)}/{orcid}/peer-reviews", headers=headers(token), timeout=5)

    assert (before.status_code, error_code(before)) == (400, 9020)
    assert "group-id registry" in before.json()["developer-message"]
    assert (with_member_token.status_code, error_code(with_member_token)) == (403, 9038)
    assert made.status_code == 201
    assert (twice.status_code, error_code(twice)) == (409, 9030)
    assert found.json()["put-code"] == put_code_of(made)
    assert after.status_code == 201
    assert (duplicate.status_code, error_code(duplicate)) == (409, 9021)
    groups = summary.json()["group"]
    assert groups[0]["external-ids"]["external-id"][0]["external-id-value"] == "issn:1234-5678"
    assert len(groups[0]["peer-review-group"]) == 1


def test_the_researcher_deleting_an_item_makes_a_put_404(sandbox, info, owner):
    orcid, token = owner
    put_code = put_code_of(post(info, orcid, token, "service", affiliation()))

    sandbox.delete_activity(orcid, put_code)
    put = requests.put(
        f"{api(info)}/{orcid}/service/{put_code}",
        json={**affiliation(), "put-code": put_code},
        headers=headers(token),
        timeout=5,
    )

    assert (put.status_code, error_code(put)) == (404, 9016)
    state = sandbox.state()["orcid"]["records"][orcid]
    assert state["activities"] == []


def test_hostile_writes_are_refused_before_anything_changes(sandbox, info, owner):
    orcid, token = owner
    put_code = put_code_of(post(info, orcid, token, "distinction", affiliation()))
    url = f"{api(info)}/{orcid}/distinction/{put_code}"
    other_orcid = researcher(sandbox)

    wrong_code = requests.put(
        url, json={**affiliation(), "put-code": put_code + 1}, headers=headers(token), timeout=5
    )
    with_code = post(info, orcid, token, "distinction", {**affiliation(), "put-code": 5})
    other_record = post(info, other_orcid, token, "distinction", affiliation())
    as_xml = requests.post(
        f"{api(info)}/{orcid}/distinction",
        data=b"<distinction/>",
        headers=headers(token, content="application/vnd.orcid+xml"),
        timeout=5,
    )
    wrong_section = requests.get(
        f"{api(info)}/{orcid}/funding/{put_code}", headers=headers(token), timeout=5
    )

    assert (wrong_code.status_code, error_code(wrong_code)) == (400, 9019)
    assert (with_code.status_code, error_code(with_code)) == (400, 9024)
    assert (other_record.status_code, error_code(other_record)) == (401, 9017)
    assert as_xml.status_code == 415
    assert (wrong_section.status_code, error_code(wrong_section)) == (404, 9016)
    assert [a["put_code"] for a in sandbox.state()["orcid"]["records"][orcid]["activities"]] == [
        put_code
    ]
