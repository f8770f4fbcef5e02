"""One scheduler leads; the sweep re-sends stalled work (Postgres is the source of truth)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text, update

from tests.helpers import work
from worker.broker import DEFAULT_QUEUE
from worker.events.sweep import resend_stalled_events
from worker.models import ReceivedEvent
from worker.scheduler import default_jobs, run_scheduler, try_lead


def test_only_one_scheduler_leads(committed_database):
    with (
        committed_database.engine.connect() as first,
        committed_database.engine.connect() as second,
    ):
        assert try_lead(first) is True
        assert try_lead(second) is False
        first.invalidate()  # the leader dies: its session ends, the lock is free
        # The server ends the dead session asynchronously: the lock frees within moments.
        deadline = time.monotonic() + 10
        while not try_lead(second) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert try_lead(second) is True


def test_follower_runs_nothing_while_leader_holds_the_lock(committed_database, committed_runtime):
    with committed_database.engine.connect() as leader:
        assert try_lead(leader)
        jobs = default_jobs(committed_runtime)
        ran = run_scheduler(committed_database, jobs, stop=threading.Event(), once=True)
        assert ran is False


def test_sweep_resends_events_whose_message_was_lost(
    committed_database, broker, redis_client, settings
):
    with committed_database.session() as session:
        row = ReceivedEvent(
            source="s",
            event_id="lost",
            type="work.published",
            client_id="c",
            correlation_id="x",
            data=work(),
        )
        fresh = ReceivedEvent(
            source="s",
            event_id="fresh",
            type="work.published",
            client_id="c",
            correlation_id="y",
            data=work("w-2"),
        )
        session.add_all([row, fresh])
    with committed_database.session() as session:
        session.execute(
            update(ReceivedEvent)
            .where(ReceivedEvent.event_id == "lost")
            .values(enqueued_at=datetime.now(UTC) - timedelta(minutes=5))
        )
    assert resend_stalled_events(committed_database, settings) == 1
    assert redis_client.llen(f"pidsync:{DEFAULT_QUEUE}") == 1
    assert resend_stalled_events(committed_database, settings) == 0  # not again within grace


def test_the_leaders_session_has_postgres_notice_a_silent_host(committed_database):
    # A leader whose host loses power sends no FIN: only keepalive probes on its session let
    # Postgres drop it, and its lock with it, so a standby leads (about the lock timeout).
    from worker.scheduler import _keepalives

    with committed_database.engine.connect() as conn:
        _keepalives(conn, 30)
        shown = {
            name: conn.execute(text(f"SHOW {name}")).scalar()
            for name in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count")
        }
    assert shown == {
        "tcp_keepalives_idle": "10",
        "tcp_keepalives_interval": "5",
        "tcp_keepalives_count": "4",
    }
