"""ORCID member API works: every status and error code pidsync meets, over plain requests."""

from __future__ import annotations

import pytest
import requests
from lxml import etree

from tests.sandbox.test_orcid_helpers import (
    JSON,
    XML,
    api,
    error_code,
    headers,
    member_token,
    post_work,
    pub,
    put_code_of,
    researcher,
    second_client,
    work,
)
from worker import reference
from worker.sandbox.orcid.api import negotiate


@pytest.fixture
def owner(sandbox):
    """A researcher and a full member token of the seeded client for their record."""
    orcid = researcher(sandbox, given_names="Josiah", family_name="Carberry")
    return orcid, member_token(sandbox, orcid)


def test_post_answers_201_with_absolute_location_and_empty_body(info, owner):
    orcid, token = owner

    answer = post_work(info, orcid, token, work())

    assert answer.status_code == 201
    assert answer.content == b""
    location = answer.headers["Location"]
    assert location.startswith(info["orcid_api_url"] + f"/v3.0/{orcid}/work/")
    assert location.rsplit("/", 1)[1].isdigit()


def test_put_codes_increase_and_the_work_reads_back(sandbox, info, owner):
    orcid, token = owner
    first = put_code_of(post_work(info, orcid, token, work("10.5555/a")))
    second = put_code_of(post_work(info, orcid, token, work("10.5555/b", title="Second")))

    read = requests.get(f"{api(info)}/{orcid}/work/{second}", headers=headers(token), timeout=5)

    assert second > first
    assert read.status_code == 200
    assert read.headers["Content-Type"].startswith(JSON)
    body = read.json()
    assert body["put-code"] == second
    assert body["path"] == f"/{orcid}/work/{second}"
    assert body["title"]["title"]["value"] == "Second"
    assert body["source"]["source-client-id"]["path"] == sandbox.ctx.accounts.orcid_client.client_id
    assert body["external-ids"]["external-id"][0]["external-id-normalized"] == {
        "value": "10.5555/b",
        "transient": True,
    }
    assert body["visibility"] == "public"
    assert isinstance(body["created-date"]["value"], int)


def test_duplicate_self_id_from_the_same_client_is_409_naming_the_put_code(sandbox, info, owner):
    orcid, token = owner
    original = put_code_of(post_work(info, orcid, token, work("10.5555/DUP")))

    # The same DOI spelled as a URL and in upper case still matches once normalised
    again = post_work(info, orcid, token, work("https://doi.org/10.5555/dup"))

    assert again.status_code == 409
    body = again.json()
    assert body["error-code"] == 9021
    assert body["response-code"] == 409
    assert f"please see element with put-code {original}" in body["developer-message"]
    assert set(body) == {
        "response-code",
        "developer-message",
        "user-message",
        "error-code",
        "more-info",
    }


def test_same_doi_from_another_client_is_not_a_duplicate(sandbox, info, owner):
    orcid, token = owner
    post_work(info, orcid, token, work("10.5555/shared"))
    other = member_token(sandbox, orcid, client_id=second_client(sandbox)[0])

    answer = post_work(info, orcid, other, work("10.5555/shared"))

    assert answer.status_code == 201


def test_put_updates_and_answers_the_work(info, owner):
    orcid, token = owner
    code = put_code_of(post_work(info, orcid, token, work()))

    updated = requests.put(
        f"{api(info)}/{orcid}/work/{code}",
        json=work(title="Renamed", **{"put-code": code}),
        headers=headers(token),
        timeout=5,
    )

    assert updated.status_code == 200
    assert updated.json()["title"]["title"]["value"] == "Renamed"
    assert updated.json()["put-code"] == code


def test_put_with_a_different_put_code_in_the_body_is_9019(info, owner):
    orcid, token = owner
    code = put_code_of(post_work(info, orcid, token, work()))

    answer = requests.put(
        f"{api(info)}/{orcid}/work/{code}",
        json=work(**{"put-code": code + 5}),
        headers=headers(token),
        timeout=5,
    )

    assert answer.status_code == 400
    assert error_code(answer) == 9019
    assert (
        f"The put code in the URL was {code} whereas the one in the body was {code + 5}."
        in answer.json()["developer-message"]
    )


def test_put_and_delete_by_another_client_are_9010(sandbox, info, owner):
    orcid, token = owner
    code = put_code_of(post_work(info, orcid, token, work()))
    other = member_token(sandbox, orcid, client_id=second_client(sandbox)[0])

    put = requests.put(
        f"{api(info)}/{orcid}/work/{code}",
        json=work(**{"put-code": code}),
        headers=headers(other),
        timeout=5,
    )
    delete = requests.delete(f"{api(info)}/{orcid}/work/{code}", headers=headers(other), timeout=5)

    assert put.status_code == 403 and error_code(put) == 9010
    assert delete.status_code == 403 and error_code(delete) == 9010
    assert "You are not the source of the work" in delete.json()["developer-message"]


def test_delete_then_unknown_put_code_is_404_9016(info, owner):
    orcid, token = owner
    code = put_code_of(post_work(info, orcid, token, work()))

    deleted = requests.delete(f"{api(info)}/{orcid}/work/{code}", headers=headers(token), timeout=5)
    gone = requests.get(f"{api(info)}/{orcid}/work/{code}", headers=headers(token), timeout=5)
    put = requests.put(
        f"{api(info)}/{orcid}/work/{code}",
        json=work(**{"put-code": code}),
        headers=headers(token),
        timeout=5,
    )

    assert deleted.status_code == 204
    assert gone.status_code == 404 and error_code(gone) == 9016
    assert gone.json()["developer-message"] == "404 Not Found: The resource was not found."
    assert put.status_code == 404 and error_code(put) == 9016


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (work(title=""), 9022),
        ({k: v for k, v in work().items() if k != "title"}, 9022),
        (work(**{"external-ids": {"external-id": []}}), 9023),
        (
            work(
                **{
                    "external-ids": {
                        "external-id": [
                            {
                                "external-id-type": "doi",
                                "external-id-value": "10.5555/x",
                                "external-id-relationship": "part-of",
                            }
                        ]
                    }
                }
            ),
            9023,
        ),
        (
            work(
                **{
                    "external-ids": {
                        "external-id": [
                            {
                                "external-id-type": "not-a-type",
                                "external-id-value": "x",
                                "external-id-relationship": "self",
                            }
                        ]
                    }
                }
            ),
            9023,
        ),
        (work(type="JOURNAL_ARTICLE"), 9037),
        ({k: v for k, v in work().items() if k != "type"}, 9037),
        (work(**{"put-code": 12}), 9024),
        (
            work(
                **{
                    "publication-date": {
                        "year": {"value": "2021"},
                        "month": {"value": "02"},
                        "day": {"value": "30"},
                    }
                }
            ),
            9049,
        ),
        (work(**{"publication-date": {"year": {"value": "21"}}}), 9049),
        (work(citation={"citation-type": "bibtex", "citation-value": " "}), 9020),
        (
            work(
                **{
                    "external-ids": {
                        "external-id": [
                            {
                                "external-id-type": "doi",
                                "external-id-value": "10.5555/x",
                                "external-id-relationship": "SELF",
                            }
                        ]
                    }
                }
            ),
            9051,
        ),
        (work(citation={"citation-type": "BIBTEX", "citation-value": "@article{x}"}), 9051),
        (
            work(
                contributors={
                    "contributor": [{"contributor-attributes": {"contributor-role": "boss"}}]
                }
            ),
            9058,
        ),
        (work(unknown_field=1), 9047),
    ],
    ids=[
        "empty-title",
        "no-title",
        "no-external-id",
        "no-self-id",
        "unknown-id-type",
        "v2-type",
        "no-type",
        "put-code-on-post",
        "impossible-date",
        "two-digit-year",
        "empty-citation",
        "bad-relationship",
        "bad-citation-type",
        "bad-role",
        "unknown-field",
    ],
)
def test_validation_errors(info, owner, body, code):
    orcid, token = owner

    answer = post_work(info, orcid, token, body)

    assert answer.status_code == 400, answer.text
    assert error_code(answer) == code
    assert answer.json()["response-code"] == 400


def test_invalid_json_is_9047_and_type_error_lists_valid_values(info, owner):
    orcid, token = owner

    broken = requests.post(
        f"{api(info)}/{orcid}/work", data=b"{not json", headers=headers(token), timeout=5
    )
    bad_type = post_work(info, orcid, token, work(type="article"))

    assert broken.status_code == 400 and error_code(broken) == 9047
    assert bad_type.json()["developer-message"].startswith(
        "Invalid work type, valid values are: annotation, "
    )


def test_token_for_another_record_is_401_9017(sandbox, info, owner):
    orcid, _token = owner
    other = researcher(sandbox)
    foreign = member_token(sandbox, other)

    answer = post_work(info, orcid, foreign, work())

    assert answer.status_code == 401
    assert error_code(answer) == 9017


def test_missing_scope_is_403_9038_with_orcids_conflict_wording(sandbox, info, owner):
    orcid, _token = owner
    read_only = member_token(sandbox, orcid, scope="/read-limited")

    answer = post_work(info, orcid, read_only, work())

    assert answer.status_code == 403
    assert error_code(answer) == 9038
    assert answer.json()["developer-message"].startswith("409 Conflict:")


def test_unknown_revoked_and_missing_tokens(sandbox, info, owner):
    orcid, token = owner

    unknown = post_work(info, orcid, "00000000-0000-0000-0000-000000000000", work())
    sandbox.revoke_token(token)
    revoked = post_work(info, orcid, token, work())
    anonymous = requests.get(f"{api(info)}/{orcid}/works", headers={"Accept": JSON}, timeout=5)

    assert unknown.status_code == 401
    assert unknown.json() == {
        "error": "invalid_token",
        "error_description": "Invalid access token: 00000000-0000-0000-0000-000000000000",
    }
    assert revoked.status_code == 401 and revoked.json()["error"] == "invalid_token"
    assert anonymous.status_code == 403 and anonymous.json()["error"] == "forbidden"


def test_content_negotiation_406_and_415(info, owner):
    orcid, token = owner

    not_acceptable = requests.get(
        f"{api(info)}/{orcid}/works", headers=headers(token, accept="text/html"), timeout=5
    )
    unsupported = requests.post(
        f"{api(info)}/{orcid}/work",
        data="title",
        headers=headers(token, content="text/plain"),
        timeout=5,
    )
    plain_json = requests.get(
        f"{api(info)}/{orcid}/works", headers=headers(token, accept="application/json"), timeout=5
    )
    default = requests.get(
        f"{api(info)}/{orcid}/works", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )

    assert not_acceptable.status_code == 406
    assert unsupported.status_code == 415
    assert plain_json.headers["Content-Type"].startswith("application/json")
    assert default.headers["Content-Type"].startswith(XML)


def test_bulk_post_answers_each_item_in_order(info, owner):
    orcid, token = owner
    existing = put_code_of(post_work(info, orcid, token, work("10.5555/old")))
    bulk = {
        "bulk": [
            {"work": work("10.5555/new-1")},
            {"work": work("10.5555/old")},
            {"work": work("10.5555/new-2", title="")},
            {"work": work("10.5555/new-1")},
            {"work": work("10.5555/new-3", type="nonsense")},
        ]
    }

    answer = requests.post(
        f"{api(info)}/{orcid}/works", json=bulk, headers=headers(token), timeout=5
    )

    assert answer.status_code == 200
    items = answer.json()["bulk"]
    assert [next(iter(item)) for item in items] == ["work", "error", "error", "error", "error"]
    assert isinstance(items[0]["work"]["put-code"], int)
    assert items[1]["error"]["error-code"] == 9021
    assert f"put-code {existing}" in items[1]["error"]["developer-message"]
    assert items[2]["error"]["error-code"] == 9022
    assert items[3]["error"]["error-code"] == 9021
    assert items[4]["error"]["error-code"] == 9037


def test_bulk_body_is_read_whole_before_anything_else(sandbox, info, owner):
    # A bad enum value anywhere fails the whole request, as Jersey reads the entity first
    orcid, token = owner
    read_only = member_token(sandbox, orcid, scope="/read-limited")
    bad_enum = {
        "bulk": [
            {"work": work("10.5555/ok")},
            {"work": work(citation={"citation-type": "BibTeX", "citation-value": "x"})},
        ]
    }

    answer = requests.post(
        f"{api(info)}/{orcid}/works", json=bad_enum, headers=headers(token), timeout=5
    )
    unreadable = requests.post(
        f"{api(info)}/{orcid}/work", data=b"[", headers=headers(read_only), timeout=5
    )

    assert answer.status_code == 400 and error_code(answer) == 9051
    assert sandbox.state()["orcid"]["records"][orcid]["works"] == []
    assert unreadable.status_code == 400 and error_code(unreadable) == 9047


def test_bulk_of_more_than_100_is_9006(info, owner):
    orcid, token = owner
    bulk = {"bulk": [{"work": work(f"10.5555/n{i}")} for i in range(101)]}

    answer = requests.post(
        f"{api(info)}/{orcid}/works", json=bulk, headers=headers(token), timeout=5
    )

    assert answer.status_code == 400
    assert error_code(answer) == 9006
    assert (
        "You are allowed to add up to 100 elements per request."
        in answer.json()["developer-message"]
    )


def test_works_summary_groups_by_external_id(sandbox, info, owner):
    # Given two clients' works with the same DOI and one unrelated work
    orcid, token = owner
    a = put_code_of(post_work(info, orcid, token, work("10.5555/grouped")))
    other = member_token(sandbox, orcid, client_id=second_client(sandbox)[0])
    b = put_code_of(post_work(info, orcid, other, work("10.5555/GROUPED", title="Same DOI")))
    c = put_code_of(post_work(info, orcid, token, work("10.5555/alone")))

    # When the summary is read
    summary = requests.get(f"{api(info)}/{orcid}/works", headers=headers(token), timeout=5).json()

    # Then the two share a group
    assert summary["path"] == f"/{orcid}/works"
    groups = [[ws["put-code"] for ws in group["work-summary"]] for group in summary["group"]]
    assert sorted(groups) == sorted([[a, b], [c]])
    first = summary["group"][0]
    assert first["external-ids"]["external-id"][0]["external-id-type"] == "doi"
    ws = first["work-summary"][0]
    assert {
        "put-code",
        "created-date",
        "last-modified-date",
        "source",
        "title",
        "external-ids",
        "url",
        "type",
        "publication-date",
        "journal-title",
        "visibility",
        "path",
        "display-index",
    } == set(ws)
    assert isinstance(summary["last-modified-date"]["value"], int)


def test_bulk_read_by_put_codes(info, owner):
    orcid, token = owner
    code = put_code_of(post_work(info, orcid, token, work()))

    answer = requests.get(
        f"{api(info)}/{orcid}/works/{code},999999", headers=headers(token), timeout=5
    )
    too_many = requests.get(
        f"{api(info)}/{orcid}/works/" + ",".join(str(i) for i in range(1, 102)),
        headers=headers(token),
        timeout=5,
    )

    assert answer.status_code == 200
    items = answer.json()["bulk"]
    assert items[0]["work"]["put-code"] == code
    assert items[1]["error"]["error-code"] == 9034
    assert too_many.status_code == 400 and error_code(too_many) == 9042


def test_record_work_limit_is_409_9048(sandbox, info, owner):
    orcid, token = owner
    sandbox.control("POST", "/orcid/settings", {"max_works": 2})
    post_work(info, orcid, token, work("10.5555/1"))
    post_work(info, orcid, token, work("10.5555/2"))

    answer = post_work(info, orcid, token, work("10.5555/3"))

    assert answer.status_code == 409
    assert error_code(answer) == 9048


def test_xml_work_round_trip_against_the_official_schemas(info, owner):
    schema = reference.xsd("orcid-work")
    if schema is None:
        pytest.skip("ORCID XSDs are not at hand (../shared/reference)")
    orcid, token = owner
    body = (
        b'<work:work xmlns:common="http://www.orcid.org/ns/common" xmlns:work="http://www.orcid.org/ns/work">'
        b"<work:title><common:title>XML work</common:title></work:title>"
        b"<work:type>data-set</work:type>"
        b"<common:external-ids><common:external-id><common:external-id-type>doi</common:external-id-type>"
        b"<common:external-id-value>10.5555/xml</common:external-id-value>"
        b"<common:external-id-relationship>self</common:external-id-relationship>"
        b"</common:external-id></common:external-ids></work:work>"
    )
    xml_headers = headers(token, accept=XML, content=XML)

    created = requests.post(f"{api(info)}/{orcid}/work", data=body, headers=xml_headers, timeout=5)
    read = requests.get(created.headers["Location"], headers=xml_headers, timeout=5)
    as_json = requests.get(created.headers["Location"], headers=headers(token), timeout=5)
    duplicate = requests.post(
        f"{api(info)}/{orcid}/work", data=body, headers=xml_headers, timeout=5
    )
    invalid = requests.post(
        f"{api(info)}/{orcid}/work",
        data=b"<work:work xmlns:work='http://www.orcid.org/ns/work'/>",
        headers=xml_headers,
        timeout=5,
    )

    assert created.status_code == 201
    assert read.headers["Content-Type"].startswith(XML)
    schema.assertValid(etree.fromstring(read.content))
    assert as_json.json()["type"] == "data-set"
    assert duplicate.status_code == 409
    error_schema = reference.xsd("orcid-error")
    assert error_schema is not None
    error_schema.assertValid(etree.fromstring(duplicate.content))
    assert invalid.status_code == 400


def test_hidden_and_limited_works(sandbox, info, owner):
    # Given a public work and one the researcher made private, another made limited
    orcid, token = owner
    shown = put_code_of(post_work(info, orcid, token, work("10.5555/shown")))
    hidden = put_code_of(post_work(info, orcid, token, work("10.5555/hidden")))
    limited = put_code_of(post_work(info, orcid, token, work("10.5555/limited")))
    sandbox.hide_work(orcid, hidden)
    sandbox.control(
        "POST", f"/orcid/researchers/{orcid}/works/{limited}/hide", {"visibility": "limited"}
    )
    other = member_token(sandbox, orcid, client_id=second_client(sandbox)[0], scope="/read-limited")

    # Then the public API shows the public one only
    public = requests.get(f"{pub(info)}/{orcid}/works", headers={"Accept": JSON}, timeout=5).json()
    public_codes = [ws["put-code"] for g in public["group"] for ws in g["work-summary"]]
    assert public_codes == [shown]
    assert (
        requests.get(
            f"{pub(info)}/{orcid}/work/{hidden}", headers={"Accept": JSON}, timeout=5
        ).json()["error-code"]
        == 9039
    )
    # And the source still sees its private work; another client with /read-limited sees limited ones
    assert (
        requests.get(
            f"{api(info)}/{orcid}/work/{hidden}", headers=headers(token), timeout=5
        ).json()["visibility"]
        == "private"
    )
    assert (
        requests.get(
            f"{api(info)}/{orcid}/work/{hidden}", headers=headers(other), timeout=5
        ).json()["error-code"]
        == 9013
    )
    assert (
        requests.get(
            f"{api(info)}/{orcid}/work/{limited}", headers=headers(other), timeout=5
        ).status_code
        == 200
    )
    # And a PUT that tries to change the visibility is refused
    answer = requests.put(
        f"{api(info)}/{orcid}/work/{shown}",
        json=work("10.5555/shown", **{"put-code": shown, "visibility": "private"}),
        headers=headers(token),
        timeout=5,
    )
    assert answer.status_code == 403 and error_code(answer) == 9035


def test_researcher_deletion_through_control_and_state_snapshot(sandbox, info, owner):
    orcid, token = owner
    code = put_code_of(post_work(info, orcid, token, work("10.5555/snap")))

    record = sandbox.state()["orcid"]["records"][orcid]
    sandbox.delete_work(orcid, code)
    after = requests.get(f"{api(info)}/{orcid}/work/{code}", headers=headers(token), timeout=5)

    assert record["works"][0]["put_code"] == code
    assert record["works"][0]["source_client_id"] == sandbox.ctx.accounts.orcid_client.client_id
    assert record["works"][0]["external_ids"] == [
        {"type": "doi", "value": "10.5555/snap", "relationship": "self"}
    ]
    assert record["works"][0]["title"] == "A sandbox work"
    assert record["works"][0]["visibility"] == "public"
    assert after.status_code == 404
    assert sandbox.state()["orcid"]["records"][orcid]["works"] == []


def test_record_and_person_reads(sandbox, info):
    orcid = researcher(
        sandbox,
        given_names="Ada",
        family_name="Lovelace",
        email="ada@example.org",
        affiliation="Analytical Engines",
        ror="https://ror.org/05dxps055",
    )

    record = requests.get(f"{pub(info)}/{orcid}/record", headers={"Accept": JSON}, timeout=5).json()
    person = requests.get(f"{pub(info)}/{orcid}/person", headers={"Accept": JSON}, timeout=5).json()
    unknown = requests.get(
        f"{pub(info)}/0000-0002-1825-0097/record", headers={"Accept": JSON}, timeout=5
    )

    assert record["orcid-identifier"]["path"] == orcid
    assert record["person"]["name"]["family-name"] == {"value": "Lovelace"}
    employment = record["activities-summary"]["employments"]["affiliation-group"][0]["summaries"][
        0
    ]["employment-summary"]
    assert (
        employment["organization"]["disambiguated-organization"][
            "disambiguated-organization-identifier"
        ]
        == "https://ror.org/05dxps055"
    )
    assert person["emails"]["email"][0]["email"] == "ada@example.org"
    assert unknown.status_code == 404 and error_code(unknown) == 9016


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, XML),
        ("*/*", XML),
        ("application/json, text/plain, */*", "application/json"),
        ("application/xml;q=0.9, application/json;q=0.8", "application/xml"),
        ("application/orcid+json", "application/orcid+json"),
        ("text/html", None),
    ],
)
def test_negotiation_follows_jersey(accept, chosen):
    fmt = negotiate(accept)
    assert (fmt.media_type if fmt else None) == chosen


def test_xml_answers_validate_against_the_official_schemas(sandbox, info, owner):
    folder = reference.reference_dir()
    if folder is None:
        pytest.skip("ORCID XSDs are not at hand (../shared/reference)")

    def schema(name):
        return etree.XMLSchema(etree.parse(str(folder / "orcid-3.0" / "record_3.0" / name)))

    orcid, token = owner
    sandbox.control("POST", f"/orcid/researchers/{orcid}", {"email": "josiah@example.org"})
    post_work(info, orcid, token, work("10.5555/xml-1"))
    bulk = {"bulk": [{"work": work("10.5555/xml-2")}, {"work": work("10.5555/xml-1")}]}
    xml_headers = headers(token, accept=XML)
    answers = {
        "activities-3.0.xsd": requests.get(
            f"{api(info)}/{orcid}/works", headers=xml_headers, timeout=5
        ),
        "record-3.0.xsd": requests.get(f"{pub(info)}/{orcid}/record", timeout=5),
        "person-3.0.xsd": requests.get(f"{pub(info)}/{orcid}/person", timeout=5),
        "search-3.0.xsd": requests.get(f"{pub(info)}/search/", params={"q": "carberry"}, timeout=5),
        "expanded-search-3.0.xsd": requests.get(
            f"{pub(info)}/expanded-search/", params={"q": "carberry"}, timeout=5
        ),
        "bulk-3.0.xsd": requests.post(
            f"{api(info)}/{orcid}/works", json=bulk, headers=xml_headers, timeout=5
        ),
    }

    for name, answer in answers.items():
        assert answer.status_code == 200, (name, answer.text)
        assert answer.content.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>')
        schema(name).assertValid(etree.fromstring(answer.content))
