"""No placement is lost to a race between a researcher's grant and a work naming them.

The two events are processed truly concurrently: two threads, each with its own session and
connection on the committing database, released together by a barrier, as two workers would.
Whichever commits second must see the first: the work then finds the grant, or the grant's
backfill finds the work's placement. A placement left ``awaiting_consent`` although the
researcher consented is the failure (and the healing sweep's job if it ever happens)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import make_runtime
from tests.helpers import SOURCE, at_once, process_event, session_database, work
from tests.orcid.helpers import authorize, placement, publish, record_works
from worker.models import (
    EventStatus,
    GrantStatus,
    OrcidGrant,
    OrcidPlacement,
    PlacementState,
    ReceivedEvent,
)
from worker.orcid import placements, repository, sweep
from worker.orcid.grants import seal_token_response

#: Concurrent runs per scenario (the report names the total tried).
RUNS = 50


@pytest.fixture
def live(settings, committed_database, broker, database_url, redis_url, cipher):
    """The booted runtime over the committing database (the event hooks read it)."""
    return make_runtime(settings, committed_database, broker, cipher, database_url, redis_url)


def _inbox(database, event_type: str, data: dict[str, Any], event_id: str) -> int:
    with database.session() as session:
        row = ReceivedEvent(
            source=SOURCE,
            event_id=event_id,
            type=event_type,
            client_id="cris",
            correlation_id=f"corr-{event_id}",
            data=data,
        )
        session.add(row)
        session.flush()
        return row.id


def _together(database, event_ids: list[int]) -> list[str]:
    """Process the events at the same moment, one thread (and connection) each; their
    outcomes, in the order given."""
    return at_once(database, [lambda s, e=e: _outcome(process_event(s, e)) for e in event_ids])


def _outcome(outcome) -> str:
    return f"{outcome.status.value}: {outcome.message}"


def _contributor(orcid: str) -> list[dict[str, str]]:
    return [{"given": "Ada", "family": "Lovelace", "orcid": orcid}]


@pytest.mark.parametrize("scenario", ["published", "updated_to_name_them"])
def test_grant_and_work_processed_at_once_strand_no_placement(
    live, committed_database, sandbox, cipher, client_id, scenario
):
    database = committed_database
    orders: Counter[str] = Counter()
    for run in range(RUNS):
        # Given a researcher who consents at ORCID, and a work naming them, whose events
        # reach two workers at the same moment
        orcid = sandbox.add_researcher(given_names="Ada", family_name=f"Lovelace {run}")
        token = sandbox.issue_token(orcid, client_id, "")
        work_id = f"race-{scenario}-{run}"
        work_type = "work.published"
        if scenario == "updated_to_name_them":  # the work exists; this version names them
            first = _inbox(database, work_type, work(work_id, version=1), f"{work_id}-v1")
            with database.session() as session:
                process_event(session, first)
            work_type = "work.updated"
        data = work(work_id, version=2, contributors=_contributor(orcid))
        work_event = _inbox(database, work_type, data, f"{work_id}-v2")
        grant_event = _inbox(
            database,
            "researcher.authorized",
            seal_token_response(cipher, token, client_id),
            f"grant-{work_id}",
        )

        # When both are processed concurrently
        work_outcome, grant_outcome = _together(database, [work_event, grant_event])

        # Then both succeeded and the placement is queued for the consenting researcher's
        # client: never left awaiting consent
        assert work_outcome.startswith("done"), work_outcome
        assert grant_outcome.startswith("done"), grant_outcome
        with database.session() as session:
            rows = list(
                session.execute(
                    select(OrcidPlacement).where(OrcidPlacement.orcid == orcid)
                ).scalars()
            )
            assert [(r.state, r.client_id) for r in rows] == [
                (PlacementState.PENDING, client_id)
            ], (run, work_outcome, grant_outcome, [r.last_error for r in rows])
        orders["work saw the grant" if "1 queued" in work_outcome else "grant saw the work"] += 1
    # Which path saw the other, per run (printed for the report: the runs really raced)
    print(f"\n{scenario}: {RUNS} concurrent runs, {dict(orders)}")


def test_the_healing_sweep_queues_a_stranded_placement_of_a_consenting_researcher(
    live, committed_database, sandbox, cipher, client_id
):
    database = committed_database
    # Given a placement left awaiting consent although the researcher's grant is stored (as
    # a race or a lost message could leave it)
    orcid = sandbox.add_researcher(given_names="Ada", family_name="Lovelace")
    stranded = _inbox(
        database, "work.published", work("w-1", contributors=_contributor(orcid)), "e1"
    )
    with database.session() as session:
        process_event(session, stranded)
    token = sandbox.issue_token(orcid, client_id, "")
    grant_event = _inbox(
        database, "researcher.authorized", seal_token_response(cipher, token, client_id), "e2"
    )
    with database.session() as session:
        process_event(session, grant_event)
        row = session.execute(select(OrcidPlacement)).scalar_one()
        row.state = PlacementState.AWAITING_CONSENT  # undo the backfill's claim: stranded
        row.client_id = ""
    # And one awaiting a researcher who has only a read-only grant
    reader = sandbox.add_researcher(given_names="Bo", family_name="Reader")
    waiting = _inbox(
        database, "work.published", work("w-2", contributors=_contributor(reader)), "e3"
    )
    read_only = sandbox.issue_token(reader, client_id, "/read-limited")
    reader_grant = _inbox(
        database, "researcher.authorized", seal_token_response(cipher, read_only, client_id), "e4"
    )
    with database.session() as session:
        process_event(session, waiting)
        assert process_event(session, reader_grant).status == EventStatus.DONE

    # When the sweep runs (twice: the second finds nothing left)
    assert sweep.heal_waiting_placements(database, live.settings) == 1
    assert sweep.heal_waiting_placements(database, live.settings) == 0

    # Then the consenting researcher's placement is queued for their client; the other waits
    with database.session() as session:
        states = {
            r.orcid: (r.state, r.client_id)
            for r in session.execute(select(OrcidPlacement)).scalars()
        }
    assert states == {
        orcid: (PlacementState.PENDING, client_id),
        reader: (PlacementState.AWAITING_CONSENT, None),
    }


def test_the_healing_sweep_leaves_a_work_another_client_placed(
    session, settings, runtime, sandbox, cipher, client_id
):
    # Given a researcher who consented, and a work of theirs on the record from another
    # ORCID client whose grant ended (awaiting consent to that client: ours may not take it)
    orcid = sandbox.add_researcher(given_names="Ada", family_name="Lovelace")
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    row = placement(session, work_row, orcid)
    row.state = PlacementState.AWAITING_CONSENT
    row.client_id = "APP-ANOTHERCLIENT"
    row.put_code = 4242
    session.flush()

    # When the sweep runs, then it neither moves it nor keeps selecting it
    assert repository.consented_awaiting_ids(session, 10) == []
    assert sweep.heal_waiting_placements(session_database(session), settings) == 0
    session.expire_all()
    assert placement(session, work_row, orcid).state == PlacementState.AWAITING_CONSENT


def test_a_placement_finding_no_grant_while_one_is_being_stored_comes_back_for_it(
    live, committed_database, committed_deps, sandbox, cipher, client_id
):
    database = committed_database
    # Given a pending placement whose researcher's grant is (for the moment) not active
    orcid = sandbox.add_researcher(given_names="Ada", family_name="Lovelace")
    with database.session() as session:
        grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
        work_row = publish(session, "w-1", orcid)
        placement_id = placement(session, work_row, orcid).id
        grant.status = GrantStatus.REVOKED
        grant_id = grant.id

    # And the grant path storing the researcher's renewed consent right now: it holds the
    # researcher's lock and has not committed
    grant_path = database.sessionmaker()
    renewed = grant_path.get(OrcidGrant, grant_id)
    renewed.status = GrantStatus.ACTIVE
    grant_path.flush()
    repository.lock_researchers(grant_path, [orcid])

    # When a worker runs the placement at that moment
    from worker.errors import Postpone

    try:
        with database.session() as session, pytest.raises(Postpone) as postponed:
            placements.place(session, committed_deps, placement_id)
        # Then it steps back (no wait that could close a circle with an event's hook), its
        # placement untouched, rather than parking it for consent where the grant path (which
        # read the placements before) would never look again
        assert "being stored" in postponed.value.reason
        with database.session() as session:
            assert placement(session, work_row, orcid).state == PlacementState.PENDING
        grant_path.commit()
    finally:
        grant_path.close()  # rolls back what was not committed: nothing left holding locks

    # And its message, back a moment later, sees the renewed grant and places the work
    with database.session() as session:
        note = placements.place(session, committed_deps, placement_id).note
    assert note.startswith("added"), note
    assert len(record_works(sandbox, orcid)) == 1
