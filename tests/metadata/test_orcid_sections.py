"""Affiliations, fundings and peer reviews rendered to ORCID JSON and XML: the XML is valid
against the official ORCID 3.0 XSDs, and says what the JSON says."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from tests.metadata.conftest import _xsd
from worker.metadata.errors import MissingFields, WorkValidationError
from worker.metadata.orcid_items import (
    AFFILIATION_KINDS,
    validate_affiliation,
    validate_funding,
    validate_organization,
    validate_review,
)
from worker.metadata.render.orcid_affiliation import (
    render_affiliation_json,
    render_affiliation_xml,
)
from worker.metadata.render.orcid_funding import render_funding_json, render_funding_xml
from worker.metadata.render.orcid_peer_review import render_review_json, render_review_xml

SOURCE = "https://cris.example.edu"
ORCID = "0000-0002-1825-0097"
HOME = validate_organization(
    {"name": "Example University", "city": "Auckland", "country": "NZ", "ror": "03b94tp07"}
)

C = "{http://www.orcid.org/ns/common}"


def affiliation(kind: str = "employment", **extra: Any) -> dict[str, Any]:
    return {
        "id": "aff-1",
        "orcid": ORCID,
        "kind": kind,
        "department": "Physics",
        "role": "Lecturer",
        "start_date": "2019-02",
        "end_date": "2023-12-31",
        "url": "https://example.edu/staff/ada",
        **extra,
    }


def funding(**extra: Any) -> dict[str, Any]:
    return {
        "id": "fund-1",
        "title": "Identifiers everywhere",
        "type": "grant",
        "funder": {"name": "Marsden Fund", "country": "NZ", "funder_id": "10.13039/501100009193"},
        "grant_number": "MFP-20-001",
        "doi": "10.5555/grant.1",
        "amount": {"value": "450000.00", "currency": "nzd"},
        "start_date": "2021",
        "contributors": [
            {"orcid": ORCID, "given": "Ada", "family": "Lovelace", "role": "lead"},
            {"name": "C. Babbage", "role": "co-lead"},
        ],
        **extra,
    }


def review(**extra: Any) -> dict[str, Any]:
    return {
        "id": "rev-1",
        "orcid": ORCID,
        "completion_date": "2024-03-05",
        "identifiers": [{"type": "doi", "value": "10.5555/review.9"}],
        "journal": {"title": "Journal of Identifiers", "issn": "0317-8471"},
        "subject_doi": "10.5555/paper.3",
        "subject_title": "On persistent identifiers",
        **extra,
    }


@pytest.mark.parametrize("kind", AFFILIATION_KINDS)
def test_each_affiliation_section_renders_valid_xml(kind):
    schema = _xsd(f"orcid-{kind}")
    item = validate_affiliation(affiliation(kind))

    xml = render_affiliation_xml(item, source=SOURCE, organization=HOME, put_code=12)
    root = etree.fromstring(xml.encode())

    assert schema.validate(root), schema.error_log
    assert root.tag == f"{{http://www.orcid.org/ns/{kind}}}{kind}"
    assert root.get("put-code") == "12"
    assert root.findtext(f"{C}organization/{C}name") == "Example University"


def test_the_affiliation_json_carries_the_configured_organisation_and_its_source_id():
    item = validate_affiliation(affiliation())

    body = render_affiliation_json(item, source=SOURCE, organization=HOME)

    assert body["organization"]["disambiguated-organization"] == {
        "disambiguated-organization-identifier": "https://ror.org/03b94tp07",
        "disambiguation-source": "ROR",
    }
    assert body["start-date"] == {"year": {"value": "2019"}, "month": {"value": "02"}, "day": None}
    assert body["external-ids"]["external-id"] == [
        {
            "external-id-type": "source-work-id",
            "external-id-value": f"{SOURCE}:aff-1",
            "external-id-relationship": "self",
        }
    ]


def test_an_affiliation_naming_its_own_organisation_wins_over_the_configured_one():
    item = validate_affiliation(
        affiliation(
            organization={"name": "Other", "city": "Paris", "country": "fr", "ror": "02feahw73"}
        )
    )

    body = render_affiliation_json(item, source=SOURCE, organization=HOME)

    assert body["organization"]["name"] == "Other"
    assert body["organization"]["address"]["country"] == "FR"


def test_an_affiliation_without_any_organisation_cannot_be_rendered():
    with pytest.raises(MissingFields, match="organization"):
        render_affiliation_json(validate_affiliation(affiliation()), source=SOURCE)


def test_funding_renders_valid_xml_with_the_funder_as_fundref():
    schema = _xsd("orcid-funding")
    item = validate_funding(funding())

    root = etree.fromstring(render_funding_xml(item, source=SOURCE).encode())
    body = render_funding_json(item, source=SOURCE)

    assert schema.validate(root), schema.error_log
    assert body["organization"]["disambiguated-organization"] == {
        "disambiguated-organization-identifier": "http://dx.doi.org/10.13039/501100009193",
        "disambiguation-source": "FUNDREF",
    }
    assert [e["external-id-type"] for e in body["external-ids"]["external-id"]] == [
        "grant_number",
        "doi",
        "source-work-id",
    ]
    assert body["amount"] == {"value": "450000.00", "currency-code": "NZD"}
    roles = [
        c["contributor-attributes"]["contributor-role"] for c in body["contributors"]["contributor"]
    ]
    assert roles == ["lead", "co-lead"]


def test_a_funder_with_a_ror_id_is_written_as_ror():
    item = validate_funding(
        funding(
            funder={"name": "Marsden", "country": "NZ", "funder_id": "https://ror.org/03b94tp07"}
        )
    )

    body = render_funding_json(item, source=SOURCE)

    assert body["organization"]["disambiguated-organization"]["disambiguation-source"] == "ROR"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"funder": {"name": "No id", "country": "NZ"}}, "funder"),
        ({"amount": {"value": "lots", "currency": "NZD"}}, "amount.value"),
        ({"amount": {"value": "1", "currency": "dollars"}}, "amount.currency"),
        ({"type": "gift"}, "type"),
        ({"contributors": []}, "contributors"),
        ({"start_date": "2022", "end_date": "2021"}, ""),
    ],
)
def test_bad_fundings_are_refused_naming_the_field(change, field):
    with pytest.raises(WorkValidationError) as caught:
        validate_funding(funding(**change))

    assert field in [path for path, _ in caught.value.problems]


def test_peer_review_renders_valid_xml_in_its_journal_group():
    schema = _xsd("orcid-peer-review")
    item = validate_review(review())

    root = etree.fromstring(render_review_xml(item, source=SOURCE, organization=HOME).encode())
    body = render_review_json(item, source=SOURCE, organization=HOME)

    assert schema.validate(root), schema.error_log
    assert body["review-group-id"] == "issn:0317-8471"
    assert [e["external-id-type"] for e in body["review-identifiers"]["external-id"]] == [
        "doi",
        "source-work-id",
    ]
    assert body["subject-external-identifier"]["external-id-value"] == "10.5555/paper.3"


def test_an_organisation_without_a_ror_id_is_refused_at_the_model():
    with pytest.raises(WorkValidationError) as caught:
        validate_affiliation(
            affiliation(organization={"name": "Somewhere", "city": "X", "country": "NZ"})
        )

    assert [path for path, _ in caught.value.problems] == ["organization"]
