"""``orcid.doi_settled`` places the works it wakes itself, each in its own unit of work
(worker.orcid.settled, issue 13): every researcher's record gets the work once, with its
confirmed DOI, and no ``orcid.place`` message is sent unless a placement must wait. A
placement that fails for now, or whose record another worker is writing, becomes its own
message; a worker that died after ORCID accepted a POST leaves it to the redelivered message,
which adopts the work rather than adding a second copy. What reached ORCID is read from the
sandbox's record, what waits from the broker."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from tests.helpers import statements_run
from tests.orcid.conftest import with_registrars
from tests.orcid.helpers import authorize, placement, receive, record_works, researcher
from tests.registrars.flow import datacite_work, registration, sync
from worker.config import Settings
from worker.models import (
    DoiRegistration,
    GrantStatus,
    OrcidGrant,
    OrcidPlacement,
    PlacementState,
    Researcher,
    Work,
)
from worker.orcid.placements import place, settle_doi
from worker.orcid.settled import settle_and_place
from worker.queues import queue_depths

AUTHORS = 3


@pytest.fixture
def settings(sandbox: Any, tmp_path: Any) -> Settings:
    return with_registrars(sandbox, tmp_path)


@pytest.fixture
def confirmed(session, sandbox, cipher, client_id, registrars) -> tuple[Work, list[str]]:
    """A dataset naming three consenting researchers, its DataCite DOI just confirmed: its
    placements wait for ``orcid.doi_settled``."""
    orcids = [researcher(sandbox) for _ in range(AUTHORS)]
    for orcid in orcids:
        authorize(session, sandbox, cipher, orcid, client_id)
    data = datacite_work("w-1")
    data["contributors"] = [{"given": "Ada", "family": str(n), "orcid": o} for n, o in enumerate(orcids)]  # fmt: skip
    event = receive(session, "work.published", data)
    assert event.status.value == "done", event.outcome
    work = session.get(Work, registration(session, "w-1").work_id)
    assert {placement(session, work, o).state for o in orcids} == {PlacementState.AWAITING_DOI}
    sync(session, registrars, registration(session, "w-1"))
    session.flush()
    return work, orcids


def _waiting(broker) -> dict[str, int]:
    """Messages the broker holds, by queue (ready or delayed), leaving out empty queues."""
    return {q.name: q.total for q in queue_depths(broker) if q.total}


def _dois(sandbox, orcid: str) -> list[str]:
    return [
        e["value"]
        for work in record_works(sandbox, orcid)
        for e in work["external_ids"]
        if e["type"] == "doi"
    ]


def test_the_settled_message_places_every_work_itself_once(
    session, database, broker, sandbox, deps, confirmed
):
    work, orcids = confirmed
    doi = registration(session, "w-1").doi

    # When orcid.doi_settled runs
    result = settle_and_place(database, deps, work.id)

    # Then every record carries the work once, with its confirmed DOI, and nothing waits
    assert result.note == f"DOI settled: {AUTHORS} placement(s) queued, 0 waiting or skipped"
    assert all(_dois(sandbox, orcid) == [doi] for orcid in orcids)
    assert {placement(session, work, o).state for o in orcids} == {PlacementState.PLACED}
    assert _waiting(broker) == {}


def test_a_placement_that_fails_for_now_waits_as_its_own_message(
    session, database, broker, sandbox, deps, confirmed
):
    work, orcids = confirmed
    # Given ORCID answers the first POST of a work with a 503
    sandbox.set_faults("orcid", script=[{"answer": 503, "method": "POST", "path": "/work"}])

    settle_and_place(database, deps, work.id)

    # Then the other two are placed; the first waits with its try recorded, as its own
    # delayed orcid.place message
    rows = sorted((placement(session, work, o) for o in orcids), key=lambda r: r.id)
    assert [r.state for r in rows] == [PlacementState.PENDING] + [PlacementState.PLACED] * 2
    assert rows[0].attempts == 1 and rows[0].next_attempt_at is not None
    assert record_works(sandbox, rows[0].orcid) == []
    assert _waiting(broker) == {"pidsync-effects.DQ": 1}


def test_a_record_another_worker_writes_is_left_to_a_later_message(
    session, database, broker, sandbox, deps, confirmed
):
    work, orcids = confirmed
    # Given another worker holds the first researcher's record
    token = deps.locks.try_acquire(orcids[0])
    assert token is not None
    deps.locks.wait = 0.05
    try:
        settle_and_place(database, deps, work.id)
    finally:
        deps.locks.release(orcids[0], token)

    # Then that placement stays pending, untried, for a delayed orcid.place; the others placed
    first = placement(session, work, orcids[0])
    assert first.state == PlacementState.PENDING and first.attempts == 0
    assert record_works(sandbox, orcids[0]) == []
    assert all(len(record_works(sandbox, o)) == 1 for o in orcids[1:])
    assert _waiting(broker) == {"pidsync-effects.DQ": 1}


def test_a_worker_that_died_after_orcid_accepted_is_adopted_on_redelivery(
    session, database, broker, sandbox, deps, confirmed
):
    work, orcids = confirmed
    # Given the settled message committed the placements as its own to place...
    with database.session() as settling:
        _, ids = settle_doi(settling, deps.settings, work.id, inline=10)
    assert len(ids) == AUTHORS
    # ...and its worker died after ORCID accepted the first POST, before the commit
    with pytest.raises(RuntimeError), database.session() as dying:
        place(dying, deps, ids[0])
        raise RuntimeError("the worker died here")
    assert len(record_works(sandbox, orcids[0])) == 1
    assert placement(session, work, orcids[0]).state == PlacementState.PENDING

    # When the message is delivered again
    settle_and_place(database, deps, work.id)

    # Then the work ORCID holds is adopted, not added twice; the others are placed once
    assert all(len(record_works(sandbox, o)) == 1 for o in orcids)
    row = session.get(OrcidPlacement, ids[0])
    session.refresh(row)
    assert row.state == PlacementState.PLACED
    assert row.put_code == record_works(sandbox, orcids[0])[0]["put_code"]
    assert _waiting(broker) == {}


def test_placements_waiting_for_their_doi_are_written_once(session, sandbox, cipher, client_id):
    orcids = [researcher(sandbox) for _ in range(AUTHORS)]
    for orcid in orcids:
        authorize(session, sandbox, cipher, orcid, client_id)
    data = datacite_work("w-1")
    data["contributors"] = [{"given": "Ada", "family": str(n), "orcid": o} for n, o in enumerate(orcids)]  # fmt: skip
    # When a work whose DOI DataCite has yet to confirm is published
    with statements_run(session) as captured:
        assert receive(session, "work.published", data).status.value == "done"
    ran = [statement for statement, _params in captured]

    # Then its placements are inserted waiting for the DOI, never inserted then updated
    work = session.get(Work, registration(session, "w-1").work_id)
    assert {placement(session, work, o).state for o in orcids} == {PlacementState.AWAITING_DOI}
    assert [s for s in ran if s.startswith("INSERT INTO orcid_placements")]
    assert not [s for s in ran if s.startswith("UPDATE orcid_placements")]


def test_an_event_reads_its_works_registration_once(session, sandbox, cipher, client_id):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    data = datacite_work("w-1")
    data["contributors"] = [{"given": "Ada", "family": "Lovelace", "orcid": orcid}]
    # When a work with a DataCite DOI is published, then updated
    with statements_run(session) as published:
        assert receive(session, "work.published", data).status.value == "done"
    data["title"] = "A new title"
    with statements_run(session) as updated:
        assert receive(session, "work.updated", data).status.value == "done"

    def reads(captured, table):
        return [s for s, _params in captured if s.startswith(f"SELECT {table}.id")]

    # Then the update read the registration once: the registrars' hook hands it to the ORCID
    # hook (which reads its DOI's state) instead of the ORCID hook loading it again
    assert len(reads(updated, "doi_registrations")) == 1, reads(updated, "doi_registrations")
    assert len(reads(updated, "orcid_placements")) == 1
    # And the publication read neither the registration nor the placements: its transaction
    # inserted the work, so nothing else could have written a row naming it (issue 13)
    assert reads(published, "doi_registrations") == []
    assert reads(published, "orcid_placements") == []
    # yet both exist, once each, and the update found them rather than adding more
    assert len(session.execute(select(DoiRegistration)).scalars().all()) == 1
    assert len(session.execute(select(OrcidPlacement)).scalars().all()) == 1


def test_a_placement_reads_its_row_and_its_grant_in_one_statement(
    session, sandbox, deps, confirmed
):
    work, orcids = confirmed
    _, ids = settle_doi(session, deps.settings, work.id, inline=10)
    rows = {session.get(OrcidPlacement, i).orcid: i for i in ids}
    # Given the last researcher's grant has since been revoked
    session.execute(
        update(OrcidGrant)
        .where(OrcidGrant.researcher_id == Researcher.id, Researcher.orcid == orcids[2])
        .values(status=GrantStatus.REVOKED)
    )

    # When the first researcher's placement is written
    with statements_run(session) as captured:
        place(session, deps, rows[orcids[0]])
    grant_reads = [s for s, _params in captured if s.startswith("SELECT") and "orcid_grants" in s]

    # Then the grant came with the placement's row (issue 13: a statement fewer per placement)
    assert len(grant_reads) == 1 and "FROM orcid_placements" in grant_reads[0], grant_reads
    assert placement(session, work, orcids[0]).state == PlacementState.PLACED
    assert len(record_works(sandbox, orcids[0])) == 1
    # And a revoked grant is never the one read: that placement waits for consent, unsent
    place(session, deps, rows[orcids[2]])
    assert placement(session, work, orcids[2]).state == PlacementState.AWAITING_CONSENT
    assert record_works(sandbox, orcids[2]) == []
