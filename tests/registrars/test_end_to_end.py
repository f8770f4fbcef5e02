"""Intake → worker → agency, with everything real but the agencies: the signed HTTP intake, a
committed PostgreSQL, the Redis broker, a dramatiq worker, the sandbox over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import dramatiq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import INTAKE_SECRET, make_runtime
from tests.helpers import SOURCE, event, signed_get, signed_post
from tests.registrars.flow import crossref_dois, crossref_work, datacite_dois, datacite_work
from worker.models import DoiRegistration, DoiState, EventStatus, ReceivedEvent


@pytest.fixture
def _booted():
    """Overrides the package's rolled-back runtime: these tests commit."""


@pytest.fixture
def system(settings, committed_database, broker, database_url, redis_url, cipher):
    settings = settings.model_copy(
        update={"doi": settings.doi.model_copy(update={"retry_backoff": [0.3]})}
    )
    runtime = make_runtime(settings, committed_database, broker, cipher, database_url, redis_url)
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=50)
    worker.start()
    from worker.web.app import create_app

    with TestClient(create_app(runtime)) as client:
        yield runtime, client
    worker.stop()


def _post(client, event_type: str, data: dict[str, Any], event_id: str) -> None:
    answer = signed_post(client, event(event_type, data, event_id=event_id), secret=INTAKE_SECRET)
    assert answer.status_code == 202, answer.text


def _wait(runtime, check: Callable[[Any], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.database.session() as session:
            if check(session):
                return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _registration(session, work_id: str) -> DoiRegistration | None:
    return session.execute(
        select(DoiRegistration).where(DoiRegistration.work.has(external_id=work_id, source=SOURCE))
    ).scalar_one_or_none()


def _state(work_id: str, state: DoiState) -> Callable[[Any], bool]:
    def check(session) -> bool:
        reg = _registration(session, work_id)
        return reg is not None and reg.state == state and reg.pending_hash is None

    return check


def test_datacite_publish_update_withdraw_through_the_worker(system, sandbox):
    runtime, client = system
    _post(client, "work.published", datacite_work(version=1), "e-1")
    _wait(runtime, _state("w-1", DoiState.FINDABLE), "the DOI to be findable")
    _post(client, "work.updated", datacite_work(version=2, title="Renamed"), "e-2")
    _wait(
        runtime,
        lambda s: (
            datacite_dois(sandbox)
            and next(iter(datacite_dois(sandbox).values()))["metadata"]["titles"][0]["title"]
            == "Renamed"
            and _state("w-1", DoiState.FINDABLE)(s)
        ),
        "the update",
    )
    _post(client, "work.withdrawn", {"id": "w-1", "version": 3}, "e-3")
    _wait(runtime, _state("w-1", DoiState.WITHDRAWN), "the withdrawal")
    (held,) = datacite_dois(sandbox).values()
    assert held["state"] == "registered"
    status = signed_get(client, f"/works/{quote(SOURCE, safe='')}/w-1", secret=INTAKE_SECRET).json()
    assert status["doi"]["state"] == "withdrawn"
    assert [e["status"] for e in status["events"]] == ["done", "done", "done"]


def test_crossref_deposit_is_followed_to_its_outcome_through_the_worker(system, sandbox):
    runtime, client = system
    _post(client, "work.published", crossref_work("a-1"), "e-1")
    _post(client, "work.published", crossref_work("a-2"), "e-2")
    _wait(
        runtime,
        lambda s: _state("a-1", DoiState.REGISTERED)(s) and _state("a-2", DoiState.REGISTERED)(s),
        "both Crossref DOIs to be registered",
        timeout=30,
    )
    assert len(crossref_dois(sandbox)) == 2


def test_lost_answer_through_the_worker_still_makes_one_doi(system, sandbox):
    runtime, client = system
    sandbox.set_faults("datacite", lost_response_rate=1)
    _post(client, "work.published", datacite_work(), "e-1")

    def retried(session) -> bool:
        reg = _registration(session, "w-1")
        return reg is not None and reg.retry_count >= 1

    _wait(runtime, retried, "a lost answer and a scheduled retry")
    sandbox.set_faults("datacite", lost_response_rate=0)
    _wait(runtime, _state("w-1", DoiState.FINDABLE), "the retry to confirm the DOI")
    assert len(datacite_dois(sandbox)) == 1
    with runtime.database.session() as session:
        events = session.execute(select(ReceivedEvent)).scalars().all()
        assert [e.status for e in events] == [EventStatus.DONE]
