"""Affiliations, fundings and peer reviews against another tenant: a client limited to its own
organisation cannot put another institution's name on a record by borrowing its own ROR id;
tenant B can neither read, nor alter, nor withdraw tenant A's item of the same (source, id)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import INTAKE_SECRET
from tests.helpers import SOURCE, event, signed_get, signed_post
from tests.orcid.sections_helpers import HOME, affiliation, funding, review, sections_settings
from worker.config import Settings
from worker.models import OrcidAssertion, ReceivedEvent

ORCID = "0000-0002-1825-0097"


@pytest.fixture
def settings(sandbox, tmp_path: Any) -> Settings:
    return sections_settings(sandbox, tmp_path)


def _count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def _post(client, body, who: str = "cris"):
    secret = INTAKE_SECRET if who == "cris" else "other-secret"
    return signed_post(client, body, secret=secret, client_id=who)


@pytest.mark.parametrize(
    ("make", "kind"),
    [(lambda org: affiliation(ORCID, organization=org), "affiliation"),
     (lambda org: review(ORCID, organization=org), "review")],
)  # fmt: skip
def test_its_own_ror_id_does_not_let_a_client_name_another_institution(client, session, make, kind):
    # Given a client limited to its own organisation, naming its own ROR id under another
    # institution's name and country
    borrowed = {"name": "Harvard University", "city": "Cambridge", "country": "US",
                "ror": HOME["ror"]}  # fmt: skip
    answer = _post(client, event(f"{kind}.published", make(borrowed)))
    # Then it is refused naming the organisation, and nothing is stored
    assert answer.status_code == 403, answer.text
    assert any(p["path"] == "$.data.organization" for p in answer.json()["problems"])
    assert _count(session, ReceivedEvent) == 0


def test_its_own_organisation_spelled_out_is_still_accepted(client):
    answer = _post(client, event("affiliation.published", affiliation(ORCID, organization=HOME)))
    assert answer.status_code == 202, answer.text


@pytest.mark.parametrize("kind", ["affiliation", "funding"])
def test_another_tenant_cannot_touch_an_item_through_its_source(client, session, kind):
    # Given tenant A's item stored and processed
    data = affiliation(ORCID) if kind == "affiliation" else funding(ORCID)
    assert _post(client, event(f"{kind}.published", data, event_id="a-1")).status_code == 202
    # When tenant B sends an update and a withdrawal naming A's source and the same id
    for verb, body in (("updated", {**data, "department": "Hacked"}), ("withdrawn", data)):
        forged = event(f"{kind}.{verb}", body, event_id=f"b-{verb}")
        answer = _post(client, forged, who="other")
        # Then each is refused (B does not own the source) and nothing is stored
        assert answer.status_code == 403, answer.text
        assert "does not own source" in answer.text
    assert _count(session, ReceivedEvent) == 1
    # And B's signed read of A's item answers as for an unknown one
    path = f"/{kind}s/{SOURCE.replace(':', '%3A').replace('/', '%2F')}/{data['id']}"
    seen = signed_get(client, path, secret="other-secret", client_id="other")
    assert seen.status_code == 404, seen.text
    assert _count(session, OrcidAssertion) == 0  # not processed here: nothing leaked by B


def _receive_as_other(session, event_type: str, data: dict[str, Any]) -> ReceivedEvent:
    from tests.helpers import process_event
    from tests.orcid.helpers import CONTEXT

    row = ReceivedEvent(
        source="https://other.example/cris",
        event_id=f"other-{event_type}",
        type=event_type,
        client_id="other",
        correlation_id=f"corr-other-{event_type}",
        data=data,
    )
    session.add(row)
    session.flush()
    process_event(session, row.id, CONTEXT[-1] if CONTEXT else None)
    return row


def test_a_funding_of_another_tenant_never_uses_a_grant_given_to_the_first(
    session, sandbox, cipher, deps, client_id
):
    from tests.orcid.helpers import authorize, researcher
    from tests.orcid.sections_helpers import place_pending_items, record_items
    from worker.models import OrcidItem, PlacementState

    # Given a researcher who authorised tenant "cris" only (its researcher.authorized event)
    ada = researcher(sandbox)
    authorize(session, sandbox, cipher, ada, client_id)
    # When tenant "other" publishes a funding naming her as a contributor
    done = _receive_as_other(session, "funding.published", funding(ada, item_id="f-other"))
    assert done.status.value == "done", done.outcome
    place_pending_items(session, deps)
    # Then nothing is written on her record with cris's grant: the item waits for her consent
    assert record_items(sandbox, ada, "funding") == []
    session.expire_all()
    states = session.execute(select(OrcidItem.state)).scalars().all()
    assert states == [PlacementState.AWAITING_CONSENT]
