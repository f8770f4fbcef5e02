"""No bad row stalls a sweep: each row is handled in its own transaction; one the handler cannot
process is parked with its reason (where the status API shows it) and the sweep goes on.

The bad rows here hold a timestamp PostgreSQL stores but Python cannot read back (year 0 in
UTC), as the intake once let in through ``"time": "0001-01-01T00:00:00+14:00"``."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text

from tests.helpers import queued_messages, work
from worker.clock import utcnow
from worker.config import Settings
from worker.events.sweep import resend_stalled_events
from worker.models import (
    DoiRegistration,
    DoiState,
    EventStatus,
    OrcidPlacement,
    PlacementState,
    ReceivedEvent,
)
from worker.models import Work as WorkRow
from worker.orcid.sweep import resend_stalled_placements
from worker.registrars.sweep import resend_stalled
from worker.scheduler import Job, run_due_jobs

UNREADABLE = "0001-01-01T00:00:00+14:00"
LONG_AGO = utcnow() - timedelta(hours=2)


def _event(session, event_id: str) -> int:
    row = ReceivedEvent(
        source="https://cris.example.edu", event_id=event_id, type="work.published",
        client_id="cris", correlation_id=f"c-{event_id}", data=work(event_id),
        status=EventStatus.RECEIVED, enqueued_at=LONG_AGO,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row.id


def _poison(session, table: str, column: str, row_id: int) -> None:
    session.execute(
        text(f"UPDATE {table} SET {column} = :t WHERE id = :id"),
        {"t": UNREADABLE, "id": row_id},
    )


def test_an_unreadable_event_is_parked_and_the_others_are_sent_again(
    database, broker, redis_client, settings: Settings, client
):
    # Given two stalled events, the first of which cannot be read back
    with database.session() as session:
        bad = _event(session, "bad")
        good = _event(session, "good")
        _poison(session, "received_events", "event_time", bad)
    # When the sweep runs
    assert resend_stalled_events(database, settings) == 1
    # Then the good one is sent again, the bad one is failed with the reason
    assert ("events.process", (good,)) in queued_messages(redis_client)
    with database.session() as session:
        status, outcome = session.execute(
            select(ReceivedEvent.status, ReceivedEvent.outcome).where(ReceivedEvent.id == bad)
        ).one()
    assert status == EventStatus.FAILED
    assert "resend_stalled_events: could not handle this row" in outcome
    assert "year" in outcome  # the driver's own reason: the year is out of range
    # And the status API shows it, with the reason
    from tests.conftest import INTAKE_SECRET
    from tests.helpers import signed_get

    with database.session() as session:
        receipt = session.get(ReceivedEvent, bad).receipt
    shown = signed_get(client, f"/events/{receipt}", secret=INTAKE_SECRET).json()
    assert shown["status"] == "failed"
    assert shown["outcome"] == outcome
    # And the next run neither fails nor picks it again
    redis_client.flushdb()
    assert resend_stalled_events(database, settings) == 0
    assert queued_messages(redis_client) == []


def test_the_scheduler_goes_on_past_a_bad_row(database, broker, redis_client, settings: Settings):
    with database.session() as session:
        bad = _event(session, "bad")
        _poison(session, "received_events", "event_time", bad)
    ran: list[str] = []
    jobs = [
        Job("events", 1, lambda db: resend_stalled_events(db, settings)),
        Job("after", 1, lambda _db: ran.append("after") or 0),
    ]
    run_due_jobs(database, jobs, now=10.0)
    assert ran == ["after"]
    with database.session() as session:
        assert (
            session.execute(
                select(ReceivedEvent.status).where(ReceivedEvent.id == bad)
            ).scalar_one()
            == EventStatus.FAILED
        )


def _work(session, external_id: str) -> int:
    row = WorkRow(
        source="https://cris.example.edu", external_id=external_id, type="dataset",
        title="t", work_metadata=work(external_id), metadata_hash="h",
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row.id


def test_an_unreadable_registration_is_parked_failed(
    database, broker, redis_client, settings: Settings
):
    with database.session() as session:
        regs = []
        for name in ("bad", "good"):
            reg = DoiRegistration(
                work_id=_work(session, name), registrar="datacite", account="default",
                doi=f"10.5555/{name}", state=DoiState.RESERVED, pending_hash="p",
                pending_since=LONG_AGO, next_attempt_at=LONG_AGO,
            )  # fmt: skip
            session.add(reg)
            session.flush()
            regs.append(reg.id)
        _poison(session, "doi_registrations", "registered_at", regs[0])
    assert resend_stalled(database, settings=settings) == 1
    assert ("registrars.datacite.sync", (regs[1],)) in queued_messages(redis_client)
    with database.session() as session:
        state, error = session.execute(
            select(DoiRegistration.state, DoiRegistration.last_error).where(
                DoiRegistration.id == regs[0]
            )
        ).one()
    assert state == DoiState.FAILED
    assert "resend_stalled_dois: could not handle this row" in error
    assert resend_stalled(database, settings=settings, now=utcnow() + timedelta(days=1)) == 1


def test_an_unreadable_placement_is_parked_failed(
    database, broker, redis_client, settings: Settings
):
    with database.session() as session:
        ids = []
        for name in ("bad", "good"):
            row = OrcidPlacement(
                work_id=_work(session, name), orcid="0000-0002-1825-0097",
                client_id="APP-TESTCLIENT0001", state=PlacementState.PENDING,
                enqueued_at=LONG_AGO, put_code=7,
            )  # fmt: skip
            session.add(row)
            session.flush()
            ids.append(row.id)
        _poison(session, "orcid_placements", "placed_at", ids[0])
    assert resend_stalled_placements(database, settings) == 1
    assert ("orcid.place", (ids[1],)) in queued_messages(redis_client)
    with database.session() as session:
        state, error = session.execute(
            select(OrcidPlacement.state, OrcidPlacement.last_error).where(
                OrcidPlacement.id == ids[0]
            )
        ).one()
    assert state == PlacementState.FAILED
    assert "could not handle this row" in error


def test_two_sweeps_interleaved_send_each_stalled_event_once(
    committed_database, broker, redis_client, settings: Settings, monkeypatch
):
    # Given 30 stalled events
    with committed_database.session() as session:
        ids = [_event(session, f"e-{n}") for n in range(30)]
    # When a second sweep runs to its end between the first one's pick and its handling
    from worker.events import repository

    pick = repository.stalled_event_ids
    other: list[int] = []

    def pick_then_let_the_other_sweep_run(session, **kwargs):
        picked = pick(session, **kwargs)
        if not other:
            monkeypatch.setattr(repository, "stalled_event_ids", pick)
            other.append(resend_stalled_events(committed_database, settings))
        return picked

    monkeypatch.setattr(repository, "stalled_event_ids", pick_then_let_the_other_sweep_run)
    first = resend_stalled_events(committed_database, settings)
    # Then the other sweep sent all of them, the first none again: one message per event
    assert (other[0], first) == (30, 0)
    sent = sorted(args[0] for name, args in queued_messages(redis_client))
    assert sent == sorted(ids)
