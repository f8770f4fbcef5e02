"""No transaction holds a row for good, and no one waits on a held row for good (issue 17: an
event's row lock was never released; the redelivered message and the scheduler's sweeps queued
behind it for ten minutes and more).

Every pidsync session carries ``lock_timeout`` (a lock wait ends with an error the broker
retries) and ``idle_in_transaction_session_timeout`` (PostgreSQL ends a session left inside a
transaction, which frees its locks). The holder here is another real connection."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from tests.conftest import committed
from tests.helpers import work
from worker.broker import retry_when
from worker.clock import utcnow
from worker.db import Database, is_lock_timeout
from worker.events import repository
from worker.events.sweep import park_event
from worker.models import EventStatus, ReceivedEvent
from worker.sweeping import RowSweep, run_sweep

#: How long a test waits for a call that must end on its own before calling it stuck.
STUCK = 20.0


@pytest.fixture
def limited(database_url: str) -> Iterator[Database]:
    """pidsync's Database as booted, with small limits so the tests are fast."""
    yield from committed(Database(database_url, lock_timeout=0.3, idle_in_transaction_timeout=0.5))


@pytest.fixture
def holder(database_url: str) -> Iterator[Engine]:
    """Another process's connections: no limits of pidsync's."""
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def _events(database: Database, count: int) -> list[int]:
    ids = []
    with database.session() as session:
        for n in range(count):
            row = ReceivedEvent(
                source="https://cris.example.edu", event_id=f"e{n}", type="work.published",
                client_id="cris", correlation_id=f"c{n}", data=work(f"w{n}"),
                status=EventStatus.RECEIVED, enqueued_at=utcnow(),
            )  # fmt: skip
            session.add(row)
            session.flush()
            ids.append(row.id)
    return ids


def _finishes(call: Callable[[], Any]) -> Any:
    """``call()``'s result or exception, from a thread; fails the test if it hangs."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(STUCK)
    assert not thread.is_alive(), "stuck waiting on a lock another transaction holds"
    return outcome


def test_a_wait_for_a_held_event_ends_in_an_error_the_broker_retries(limited, holder):
    # Given an event whose row another transaction holds and does not release
    (event_id,) = _events(limited, 1)
    with holder.connect() as other, other.begin():
        other.execute(
            text("SELECT 1 FROM received_events WHERE id = :id FOR UPDATE"), {"id": event_id}
        )

        # When a worker's unit of work locks it (as events.process does)
        def process() -> None:
            with limited.session() as session:
                repository.lock_event(session, event_id)

        outcome = _finishes(process)

    # Then the wait ends with a lock timeout the broker retries with backoff
    error = outcome.get("error")
    assert isinstance(error, OperationalError), outcome
    assert is_lock_timeout(error)
    assert retry_when(0, error)
    # and the event is untouched: still open, for the retry (or the sweep) to process
    with limited.session() as session:
        row = session.get(ReceivedEvent, event_id)
        assert row is not None
        assert row.status == EventStatus.RECEIVED
        assert row.attempts == 0


def test_a_session_left_in_a_transaction_is_ended_and_its_lock_freed(limited, holder):
    # Given a pidsync session that locked an event and was then abandoned mid-transaction
    # (a thread killed by the time limit between two statements)
    (event_id,) = _events(limited, 1)
    abandoned = limited.sessionmaker()
    abandoned.execute(repository._LOCK_EVENT, {"id": event_id})

    # When another process locks the same row, waiting at most a few seconds
    def lock_elsewhere() -> int:
        with holder.connect() as other, other.begin():
            other.execute(text("SET LOCAL lock_timeout = '10s'"))
            query = text("SELECT id FROM received_events WHERE id = :id FOR UPDATE")
            return int(other.execute(query, {"id": event_id}).scalar_one())

    outcome = _finishes(lock_elsewhere)

    # Then it gets the row: PostgreSQL ended the idle session, which freed the lock
    assert outcome.get("result") == event_id, outcome
    # and the abandoned session finds its connection gone, an error the broker retries (the
    # pool replaces the connection)
    with pytest.raises(DBAPIError) as raised:
        abandoned.execute(text("SELECT 1"))
    assert raised.value.connection_invalidated
    assert retry_when(0, raised.value)
    abandoned.close()
    with limited.session() as session:
        assert session.execute(text("SELECT 1")).scalar_one() == 1


def test_a_sweep_leaves_a_held_row_to_its_next_run_and_handles_the_others(limited, holder):
    # Given three stalled events and a sweep whose handler locks each (without SKIP LOCKED,
    # as a handler locking a second row does), the middle one held by another transaction
    first, held, last = _events(limited, 3)

    def handle(session: Any, event_id: int) -> bool:
        event = session.execute(
            select(ReceivedEvent).where(ReceivedEvent.id == event_id).with_for_update()
        ).scalar_one()
        event.outcome = "sent again"
        return True

    sweep = RowSweep("test_sweep", lambda s: [first, held, last], handle, park_event)
    with holder.connect() as other, other.begin():
        other.execute(text("SELECT 1 FROM received_events WHERE id = :id FOR UPDATE"), {"id": held})

        # When the sweep runs (pidsync's sessions here wait 0.3 s for a lock; the sweep's own
        # limit is shorter still)
        outcome = _finishes(lambda: run_sweep(limited, sweep, error_chars=200, lock_timeout=0.1))

    # Then it handled the other two and left the held one as it was: not parked, not failed
    assert outcome.get("result") == 2, outcome
    with limited.session() as session:
        rows = {r.id: r for r in session.execute(select(ReceivedEvent)).scalars()}
    assert rows[first].outcome == rows[last].outcome == "sent again"
    assert rows[held].status == EventStatus.RECEIVED
    assert rows[held].outcome is None
    # and its next run, the lock released, handles it
    assert run_sweep(limited, sweep, error_chars=200, lock_timeout=0.1) == 3
