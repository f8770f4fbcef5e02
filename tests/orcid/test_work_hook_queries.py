"""An event naming several researchers finds their grants and writes their placements in as
many statements as one naming a single researcher (issue 13: a grant query, a flush and an
advisory-lock round trip per contributor were a fifth of the worker's CPU), and each
contributor still gets the placement their consent allows."""

from __future__ import annotations

from sqlalchemy import select

from tests.helpers import statements_run
from tests.orcid.helpers import authorize, placement, publish, researcher
from worker.models import PlacementState, Work


def _statements_to_publish(session, work_id: str, orcids: list[str]) -> int:
    with statements_run(session) as ran:
        publish(session, work_id, *orcids)
    return len(ran)


def test_a_work_naming_many_researchers_costs_the_statements_of_one(
    session, sandbox, cipher, client_id
):
    # Given six researchers, five of whom authorised placing works
    consented = [researcher(sandbox) for _ in range(5)]
    waiting = researcher(sandbox)
    for orcid in consented:
        authorize(session, sandbox, cipher, orcid, client_id)

    # When a work naming one of them, then a work naming all six, are published
    one = _statements_to_publish(session, "one-author", consented[:1])
    six = _statements_to_publish(session, "six-authors", [*consented, waiting])

    # Then the second ran as many statements as the first
    assert six == one
    # And every consented researcher's placement is queued for their grant's client, the
    # other's waits for consent
    work = session.execute(select(Work).where(Work.external_id == "six-authors")).scalar_one()
    for orcid in consented:
        row = placement(session, work, orcid)
        assert row.state == PlacementState.PENDING
        assert row.client_id == client_id
    row = placement(session, work, waiting)
    assert row.state == PlacementState.AWAITING_CONSENT
    assert row.client_id is None
