"""Affiliation, funding and review events at the intake: what a tenant may assert about which
organisation, the 422s naming the field, the status API signed and scoped to the owner."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import INTAKE_SECRET
from tests.helpers import event, signed_get, signed_post
from tests.orcid.sections_helpers import HOME, OTHER_ORG, affiliation, funding
from tests.orcid.sections_helpers import settings as settings  # noqa: PLC0414 - the fixture
from worker.events.openapi import cloudevent_schema
from worker.models import ReceivedEvent

ORCID = "0000-0002-1825-0097"


def _count(session) -> int:
    return session.execute(select(func.count()).select_from(ReceivedEvent)).scalar_one()


def _post(client, body, who: str = "cris"):
    secret = INTAKE_SECRET if who == "cris" else "other-secret"
    return signed_post(client, body, secret=secret, client_id=who)


def test_an_affiliation_naming_another_organisation_is_403_and_nothing_is_stored(client, session):
    body = event("affiliation.published", affiliation(ORCID, organization=OTHER_ORG))

    response = _post(client, body)

    assert response.status_code == 403, response.text
    [problem] = response.json()["problems"]
    assert problem["path"] == "$.data.organization"
    assert "other_organizations is false" in problem["message"]
    assert _count(session) == 0


def test_naming_its_own_organisation_is_accepted(client, session):
    own = {**HOME, "ror": "03b94tp07"}  # the same ROR id, spelled bare

    response = _post(client, event("affiliation.published", affiliation(ORCID, organization=own)))

    assert response.status_code == 202, response.text
    assert response.json()["status_url"] == ("/affiliations/https%3A%2F%2Fcris.example.edu/aff-1")


def test_a_client_allowed_other_organisations_may_name_them():
    from worker.config import IntakeClient
    from worker.events.cloudevents import parse_event
    from worker.events.tenancy import organization_refusals

    client = IntakeClient(id="hub", secrets=["s"], sources=["*"], other_organizations=True)
    bare = IntakeClient(id="bare", secrets=["s"], sources=["*"])
    data = affiliation(ORCID, organization={**OTHER_ORG, "ror": "https://ror.org/02feahw73"})
    parsed, _ = parse_event(event("affiliation.published", data), "$")
    assert parsed is not None

    assert organization_refusals(client, parsed.type, data, "$") == []
    refused = organization_refusals(bare, parsed.type, affiliation(ORCID), "$")
    assert [p.path for p in refused] == ["$.data.organization"]
    assert "no organization configured" in refused[0].message


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (affiliation(ORCID, kind="job"), "$.data.kind"),
        (affiliation("0000-0002-1825-0098"), "$.data.orcid"),
        (affiliation(ORCID, start_date="2020-13"), "$.data.start_date"),
        (
            affiliation(ORCID, organization={"name": "X", "city": "Y", "country": "NZ"}),
            "$.data.organization",
        ),
        (affiliation(ORCID, colour="blue"), "$.data.colour"),
    ],
)
def test_bad_affiliations_are_422_naming_the_field(client, session, data, path):
    response = _post(client, event("affiliation.published", data))

    assert response.status_code == 422, response.text
    assert path in [p["path"] for p in response.json()["problems"]]
    assert _count(session) == 0


def test_the_status_api_is_signed_and_scoped_to_the_owner(client, session):
    from tests.helpers import process_event

    response = _post(client, event("funding.published", funding(ORCID)))
    assert response.status_code == 202, response.text
    row = session.execute(select(ReceivedEvent)).scalar_one()
    process_event(session, row.id)
    target = response.json()["status_url"]
    assert target == "/fundings/https%3A%2F%2Fcris.example.edu/fund-1"

    unsigned = client.get(target)
    mine = signed_get(client, target, secret=INTAKE_SECRET)
    theirs = signed_get(client, target, secret="other-secret", client_id="other")
    unknown = signed_get(client, target.replace("fund-1", "nope"), secret=INTAKE_SECRET)

    assert unsigned.status_code == 401
    assert mine.status_code == 200, mine.text
    assert mine.json()["kind"] == "funding"
    assert [(i["orcid"], i["state"], i["section"]) for i in mine.json()["orcid"]] == [
        (ORCID, "awaiting_consent", "funding")
    ]
    assert theirs.status_code == 404
    assert unknown.status_code == 404


def test_the_intake_schema_documents_every_new_event_type():
    titles = [option["title"] for option in cloudevent_schema()["oneOf"]]

    for event_type in (
        "affiliation.published",
        "affiliation.updated",
        "affiliation.withdrawn",
        "funding.published",
        "funding.updated",
        "funding.withdrawn",
        "review.published",
        "review.withdrawn",
    ):
        assert event_type in titles
