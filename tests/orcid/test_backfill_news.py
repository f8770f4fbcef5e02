"""A backfill tells the emitting systems what it placed with one webhook per bulk request (and
intake client), not one per work: a 1,000-work backfill recorded and delivered 1,000 rows
(benchmark ``backfill``). Each client hears only of its own works."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import INTAKE_SECRET
from tests.helpers import SOURCE, process_event, statements_run, work
from tests.orcid import helpers
from tests.orcid.conftest import orcid_settings
from tests.orcid.helpers import authorize, notifications, publish, researcher
from worker.models import OrcidPlacement, PlacementState, ReceivedEvent, Work
from worker.orcid import backfill

LAB = "https://lab.example.edu"


@pytest.fixture
def settings(sandbox, tmp_path):
    clients = [
        {"id": "cris", "secrets": [INTAKE_SECRET], "sources": [SOURCE]},
        {"id": "lab", "secrets": [INTAKE_SECRET + "-lab"], "sources": [LAB]},
    ]
    return orcid_settings(sandbox, tmp_path, intake_clients=clients)


def _from_lab(session, work_id: str, orcid: str) -> None:
    """A work.published of the second intake client (its own source)."""
    data = work(work_id, contributors=[{"given": "Ada", "family": "Lovelace", "orcid": orcid}])
    row = ReceivedEvent(source=LAB, event_id=f"lab-ev-{work_id}", type="work.published",
                        client_id="lab", correlation_id=f"lab-{work_id}", data=data)  # fmt: skip
    session.add(row)
    session.flush()
    process_event(session, row.id, helpers.CONTEXT[-1])
    session.refresh(row)
    assert row.status.value == "done", row.outcome


def _placed(session, orcid: str) -> dict[tuple[str, str], int]:
    """(source, id) -> put-code of every work placed on the record."""
    session.expire_all()
    rows = session.execute(
        select(Work.source, Work.external_id, OrcidPlacement.put_code)
        .join(Work, Work.id == OrcidPlacement.work_id)
        .where(OrcidPlacement.orcid == orcid, OrcidPlacement.state == PlacementState.PLACED)
    ).all()
    return {(r[0], r[1]): r[2] for r in rows}


def test_a_backfill_tells_each_bulk_request_once(session, sandbox, cipher, deps, client_id):
    # Given 120 works waiting for the researcher's consent
    orcid = researcher(sandbox)
    for i in range(120):
        publish(session, f"bf-{i}", orcid)
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)

    # When the backfill runs its two bulk requests (100, then 20)
    first = backfill.backfill(session, deps, grant.id)
    second = backfill.backfill(session, deps, grant.id)

    # Then two webhooks tell all 120 placements, each with its put-code, and none per work
    assert first.note.startswith("bulk: 100 placed") and second.note.startswith("bulk: 20 placed")
    told = notifications(session, "orcid.backfilled")
    assert len(told) == 2
    assert notifications(session, "orcid.placed") == []
    items = [item for row in told for item in row.payload["works"]]
    placed = _placed(session, orcid)
    assert {(i["source"], i["id"]): i["put_code"] for i in items} == placed
    assert len(placed) == 120
    assert all(i["action"] == "added" for i in items)
    assert {row.client_id for row in told} == {"cris"}
    assert all(row.payload["orcid"] == orcid for row in told)
    assert all(row.payload["client_id"] == client_id for row in told)


def test_an_intake_client_never_hears_of_another_clients_works(
    session, sandbox, cipher, deps, client_id
):
    # Given works of two intake clients naming the same researcher
    orcid = researcher(sandbox)
    for i in range(3):
        publish(session, f"cris-{i}", orcid)
        _from_lab(session, f"lab-{i}", orcid)
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)

    # When the grant the first client sent is backfilled
    result = backfill.backfill(session, deps, grant.id)

    # Then that client hears of its three works in one webhook, and nothing names the other
    # client's works (the grant is the first client's: it places only that client's works)
    assert result.note.startswith("bulk: 3 placed")
    told = notifications(session, "orcid.backfilled")
    assert [row.client_id for row in told] == ["cris"]
    assert sorted(i["id"] for i in told[0].payload["works"]) == ["cris-0", "cris-1", "cris-2"]
    assert all(i["source"] == SOURCE for i in told[0].payload["works"])


def _statements_for_grant(session, sandbox, cipher, client_id, works: int) -> int:
    orcid = researcher(sandbox)
    for i in range(works):
        publish(session, f"n{works}-{i}", orcid)
    session.expire_all()  # nothing of these works cached: what a worker process starts with
    with statements_run(session) as ran:
        authorize(session, sandbox, cipher, orcid, client_id)
    return len(ran)


def test_a_grant_claims_its_waiting_works_in_queries_that_do_not_grow_with_them(
    session, sandbox, cipher, client_id
):
    # Given researchers with 5 and with 40 works waiting for their consent, when each grant
    # arrives, then it claims them all in as many statements (no query per work)
    few = _statements_for_grant(session, sandbox, cipher, client_id, 5)
    many = _statements_for_grant(session, sandbox, cipher, client_id, 40)

    assert many == few
