"""A backlog of events does not stand between a DOI and DataCite: the effects have a queue of
their own (worker.broker.EFFECTS_QUEUE), so a worker registers DOIs while it reads the backlog."""

from __future__ import annotations

import dramatiq
import pytest
from sqlalchemy import func, select

from tests.conftest import make_runtime
from tests.helpers import event
from tests.registrars.flow import datacite_work
from worker.events.intake import check_events, store_events
from worker.events.types import IntakeContext
from worker.models import ApiCall, DoiRegistration, DoiState, EventStatus, ReceivedEvent
from worker.queues import join_all, queue_depths

BACKLOG = 40


@pytest.fixture
def _booted():
    """Overrides the package's rolled-back runtime: this test commits."""


def test_dois_are_registered_while_a_backlog_of_events_is_read(
    settings, committed_database, broker, database_url, redis_url, cipher
):
    make_runtime(settings, committed_database, broker, cipher, database_url, redis_url)
    # Given a backlog of events, each publishing a DataCite DOI, queued while no worker runs
    checked = check_events(
        [
            event("work.published", datacite_work(f"w-{n}"), event_id=f"e-{n}")
            for n in range(BACKLOG)
        ],
        IntakeContext.from_settings(settings),
        batch=True,
    )
    with committed_database.session() as session:
        store_events(session, checked, client_id="cris", cipher=cipher)
    ready = {q.name: q.depth for q in queue_depths(broker) if q.kind == "ready"}
    assert ready == {"pidsync": BACKLOG, "pidsync-effects": 0}

    # When a worker starts and drains everything
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        join_all(broker, timeout_ms=120_000)
        worker.join()
    finally:
        worker.stop()

    # Then every DOI is findable, and the first one was sent to DataCite while most of the
    # backlog was still unread: with one queue in order, every event came first.
    with committed_database.session() as session:
        states = session.execute(select(DoiRegistration.state)).scalars().all()
        assert states == [DoiState.FINDABLE] * BACKLOG
        first_put = session.execute(
            select(func.min(ApiCall.created_at)).where(ApiCall.service == "datacite")
        ).scalar_one()
        read_before = session.execute(
            select(func.count())
            .select_from(ReceivedEvent)
            .where(ReceivedEvent.status == EventStatus.DONE, ReceivedEvent.handled_at < first_put)
        ).scalar_one()
        assert read_before < BACKLOG // 2, f"{read_before} of {BACKLOG} events read first"
