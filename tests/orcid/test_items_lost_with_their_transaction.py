"""An item's POST reached ORCID, then its worker died (or PostgreSQL restarted) before the
commit: the answer and everything the try wrote locally are gone, the in-doubt marker with
them. The retry must find the item ORCID made and adopt it, never add a second one (chaos run,
seed 17: a duplicate employment). Affiliations, fundings and peer reviews share the engine."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.orcid.helpers import authorize, receive, researcher
from tests.orcid.sections_helpers import (
    affiliation,
    funding,
    items,
    place_pending_items,
    record_items,
    review,
)
from tests.orcid.sections_helpers import settings as settings  # noqa: PLC0414 - the fixture
from worker.models import OrcidItem, PlacementState
from worker.orcid.sections import placement


def _place_and_die(session, deps) -> None:
    """One try of every pending item whose transaction never commits (the worker is killed
    after ORCID created the item, before the commit)."""
    ids = session.execute(
        select(OrcidItem.id).where(OrcidItem.state == PlacementState.PENDING)
    ).scalars()
    for item_id in list(ids):
        dying = session.begin_nested()
        placement.place(session, deps, item_id)
        dying.rollback()
    session.expire_all()


CASES = [
    ("affiliation", "aff-1", "employment", affiliation),
    ("funding", "fund-1", "funding", funding),
    ("review", "rev-2", "peer-review", lambda orcid: review(orcid, item_id="rev-2")),
]


def _created_then_lost(session, sandbox, cipher, deps, client_id, kind, section, data):
    """A consenting researcher's item that ORCID created in a try whose answer was lost and
    whose worker died before its commit (a review after an earlier one registered its
    journal's group id): the researcher's iD and how many items the section held before."""
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    if kind == "review":
        receive(session, "review.published", review(orcid, issn="0317-8471"))
        place_pending_items(session, deps)
    before = len(record_items(sandbox, orcid, section))
    receive(session, f"{kind}.published", data(orcid))
    sandbox.set_faults("orcid", script=[{"answer": "lost", "method": "POST", "path": section}])
    _place_and_die(session, deps)
    assert len(record_items(sandbox, orcid, section)) == before + 1
    return orcid, before


@pytest.mark.parametrize(("kind", "item_id", "section", "data"), CASES)
def test_a_post_lost_with_its_transaction_is_adopted_not_repeated(
    session, sandbox, cipher, deps, client_id, kind, item_id, section, data
):
    # Given a researcher who authorised the institution (and, for a review, its journal's
    # group id already registered by an earlier review); when ORCID creates the item but its
    # answer is lost and the worker dies before commit
    orcid, before = _created_then_lost(
        session, sandbox, cipher, deps, client_id, kind, section, data
    )
    row = items(session, kind, item_id)[0]
    assert row.put_code is None and not row.in_doubt and row.state == PlacementState.PENDING

    # And the message is redelivered
    place_pending_items(session, deps)

    # Then the record holds that one item, and pidsync's row its put-code
    on_record = record_items(sandbox, orcid, section)
    assert len(on_record) == before + 1
    row = items(session, kind, item_id)[0]
    assert row.state == PlacementState.PLACED and not row.in_doubt
    assert row.put_code == on_record[-1]["put_code"]


@pytest.mark.parametrize(("kind", "item_id", "section", "data"), CASES)
def test_a_withdrawal_after_a_post_lost_with_its_transaction_takes_the_item_off(
    session, sandbox, cipher, deps, client_id, kind, item_id, section, data
):
    # Given an item ORCID created in a try whose answer and transaction were lost
    orcid, before = _created_then_lost(
        session, sandbox, cipher, deps, client_id, kind, section, data
    )

    # When it is withdrawn before the retry
    receive(session, f"{kind}.withdrawn", {"id": item_id})
    place_pending_items(session, deps)

    # Then it is off the record too, not left there with nothing local knowing it
    assert len(record_items(sandbox, orcid, section)) == before
    assert [i.state for i in items(session, kind, item_id)] == [PlacementState.DELETED]
