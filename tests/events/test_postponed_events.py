"""An event postponed by a transient failure runs again from its own message, in a real
dramatiq worker on the real Redis: it does not wait for the scheduler's sweep."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import INTAKE_SECRET, TOKEN_KEY
from tests.helpers import event
from worker.config import Settings
from worker.events.intake import check_events, store_events
from worker.events.types import IntakeContext
from worker.models import EventStatus, ReceivedEvent


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The events' backoff short, so the test sees every try.
    return Settings(
        _env_file=None,
        env="test",
        data_dir=tmp_path,
        intake_clients={"cris": INTAKE_SECRET},
        token_keys=[TOKEN_KEY],
        events={"retry_backoff": [0.2], "max_retries": 3},
    )


@pytest.fixture
def worker(real_worker):
    return real_worker


def test_a_postponed_event_is_tried_again_by_its_own_message(committed_database, worker, cipher):
    # Found by the chaos traffic: the events actor dropped the delay the service returned,
    # so a postponed event waited for the sweep's grace period (minutes) instead of its backoff.
    # Given a withdrawal of a work that has not arrived (each try is postponed; no sweep runs)
    data = {"id": "not-yet", "version": 2}
    checked = check_events([event("work.withdrawn", data)], IntakeContext(()), batch=False)
    with committed_database.session() as session:
        store_events(session, checked, client_id="cris", cipher=cipher)

    def stored() -> ReceivedEvent:
        with committed_database.session() as session:
            return session.execute(select(ReceivedEvent)).scalar_one()

    # When the worker runs it: then every try runs from the postponed message, until the
    # tries are spent and it fails with its reason
    deadline = time.monotonic() + 30
    while stored().status == EventStatus.RECEIVED and time.monotonic() < deadline:
        time.sleep(0.05)
    final = stored()
    assert final.status == EventStatus.FAILED, final.outcome
    assert final.attempts == 3
    assert "gave up after 3 attempts: unknown work 'not-yet'" in (final.outcome or "")
