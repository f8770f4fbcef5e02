"""A placement that may be on the record while no grant lets pidsync write to it.

Its POST reached ORCID and the answer was lost (in doubt), or the worker died before its commit
(nothing local says a POST went out). Then the researcher's consent went, or became read-only:

- with no grant at all pidsync cannot look: the placement says it may be on the record (never
  "removed" unseen, which was a lie to the emitting system), and the next grant resolves it;
- a read-only grant can read the record: the doubt is resolved at once (our work adopted),
  rather than waiting for write consent to return (found by the placement model).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.orcid.helpers import (
    authorize,
    place_pending,
    placement,
    publish,
    receive,
    record_works,
    researcher,
)
from tests.orcid.sections_helpers import (
    funding,
    items,
    place_pending_items,
    record_items,
)
from tests.orcid.sections_helpers import settings as settings  # noqa: PLC0414 - the fixture
from worker.models import OrcidItem, OrcidPlacement, PlacementState
from worker.orcid import backfill, placements
from worker.orcid.sections import placement as item_placement


def _die_after_the_call(session, deps, model: Any, run: Any) -> None:
    """One try of every pending row whose transaction never commits (the worker is killed
    after ORCID applied the write, before the commit)."""
    ids = session.execute(select(model.id).where(model.state == PlacementState.PENDING)).scalars()
    for row_id in list(ids):
        dying = session.begin_nested()
        run(session, deps, row_id)
        dying.rollback()
    session.expire_all()


def _ours(sandbox, orcid: str, client_id: str) -> list[dict[str, Any]]:
    return [w for w in record_works(sandbox, orcid) if w["source_client_id"] == client_id]


def test_a_withdrawal_with_no_grant_left_says_the_work_may_be_on_the_record(
    session, sandbox, cipher, deps, client_id
):
    # Given a work whose POST reached ORCID, its worker killed before the commit
    orcid = researcher(sandbox)
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    _die_after_the_call(session, deps, OrcidPlacement, placements.place)
    assert len(_ours(sandbox, orcid, client_id)) == 1
    assert placement(session, work_row, orcid).put_code is None

    # When the emitting system revokes the researcher's consent, then withdraws the work
    receive(session, "researcher.revoked", {"orcid": orcid})
    receive(session, "work.withdrawn", {"id": "w-1"})
    place_pending(session, deps)

    # Then the placement is not marked removed: it says the work may still be on the record
    row = placement(session, work_row, orcid)
    assert row.state == PlacementState.AWAITING_CONSENT
    assert row.in_doubt
    assert row.last_error is not None and "may be on the record" in row.last_error
    assert len(_ours(sandbox, orcid, client_id)) == 1  # which is the truth

    # And when the researcher authorises again, pidsync looks, finds it and takes it off
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    backfill.backfill(session, deps, grant.id)
    place_pending(session, deps)
    assert _ours(sandbox, orcid, client_id) == []
    row = placement(session, work_row, orcid)
    assert row.state == PlacementState.DELETED and not row.in_doubt


def test_an_item_withdrawn_with_no_grant_left_says_it_may_be_on_the_record(
    session, sandbox, cipher, deps, client_id
):
    # Given a funding whose POST reached ORCID, its worker killed before the commit
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "funding.published", funding(orcid))
    _die_after_the_call(session, deps, OrcidItem, item_placement.place)
    assert len(record_items(sandbox, orcid, "funding")) == 1

    # When consent is revoked, then the funding withdrawn
    receive(session, "researcher.revoked", {"orcid": orcid})
    receive(session, "funding.withdrawn", {"id": "fund-1"})
    place_pending_items(session, deps)

    # Then the item says it may be on the record, rather than "deleted"
    session.expire_all()
    row = items(session, "funding", "fund-1")[0]
    assert (row.state, row.in_doubt) == (PlacementState.AWAITING_CONSENT, True)
    assert row.last_error is not None and "may be on the record" in row.last_error
    assert len(record_items(sandbox, orcid, "funding")) == 1

    # And the next grant reads the section and takes the item off
    authorize(session, sandbox, cipher, orcid, client_id)
    place_pending_items(session, deps)
    assert record_items(sandbox, orcid, "funding") == []
    session.expire_all()
    assert items(session, "funding", "fund-1")[0].state == PlacementState.DELETED


@pytest.mark.parametrize("when", ["while it is retried", "after consent was revoked"])
def test_a_read_only_grant_resolves_a_doubt_by_reading_the_record(
    session, sandbox, cipher, deps, client_id, when
):
    # Given a work whose POST ORCID applied and whose answer was lost (in doubt)
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    sandbox.set_faults("orcid", script=[{"answer": "lost", "method": "POST", "path": "/work"}])
    place_pending(session, deps)
    row = placement(session, work_row, orcid)
    assert row.in_doubt and row.put_code is None
    if when == "after consent was revoked":
        receive(session, "researcher.revoked", {"orcid": orcid})

    # When the researcher's consent is now read-only
    authorize(session, sandbox, cipher, orcid, client_id, scope="/read-limited")
    place_pending(session, deps)

    # Then pidsync read the record with it: our work is adopted, nothing is in doubt, and it
    # waits for write consent to keep it up to date
    on_record = _ours(sandbox, orcid, client_id)
    assert len(on_record) == 1
    row = placement(session, work_row, orcid)
    assert row.put_code == on_record[0]["put_code"]
    assert not row.in_doubt
    assert row.state == PlacementState.AWAITING_CONSENT


def test_a_withdrawal_after_a_post_lost_with_its_transaction_takes_the_work_off(
    session, sandbox, cipher, deps, client_id
):
    # Given a work ORCID created in a try whose answer and transaction were lost
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    _die_after_the_call(session, deps, OrcidPlacement, placements.place)
    assert len(_ours(sandbox, orcid, client_id)) == 1

    # When it is withdrawn before the retry (the researcher's grant in force)
    receive(session, "work.withdrawn", {"id": "w-1"})
    place_pending(session, deps)

    # Then it is off the record too, not left there with pidsync saying "deleted"
    assert _ours(sandbox, orcid, client_id) == []
    assert placement(session, work_row, orcid).state == PlacementState.DELETED
