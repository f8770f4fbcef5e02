"""An operator follows one event by its correlation id: every log line it causes, in every
actor it reaches (events, ORCID placement, webhook delivery), carries the CloudEvent's id."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import INTAKE_SECRET, make_runtime
from tests.helpers import event, signed_post, work
from tests.orcid.helpers import authorize
from tests.orcid.helpers import researcher as new_researcher
from worker.models import OrcidPlacement, PlacementState


@pytest.fixture
def _booted() -> None:
    """Overrides the package's rolled-back runtime: this test commits."""


@pytest.fixture
def lines(monkeypatch) -> Iterator[list[dict[str, Any]]]:
    """Every line pidsync's modules log, with the context the worker's middleware bound (what
    an operator's log shipper sees), as event dicts."""
    capture = structlog.testing.LogCapture()
    saved = structlog.get_config()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, capture],
        cache_logger_on_first_use=False,
    )
    for name, module in list(sys.modules.items()):
        if name.startswith("worker") and hasattr(module, "log"):
            monkeypatch.setattr(module, "log", structlog.get_logger(name))
    yield capture.entries
    structlog.configure(**saved)


def test_an_events_placement_and_webhook_lines_carry_its_correlation_id(
    settings, committed_database, broker, database_url, redis_url, cipher, sandbox, client_id,
    lines,
):  # fmt: skip
    settings = settings.model_copy(update={"notify_urls": {"cris": "http://127.0.0.1:9/none"}})
    runtime = make_runtime(settings, committed_database, broker, cipher, database_url, redis_url)
    orcid = new_researcher(sandbox)
    with committed_database.session() as session:
        authorize(session, sandbox, cipher, orcid, client_id)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        # When a work naming the researcher arrives with a correlation id
        body = event(
            data=work(contributors=[{"given": "Ada", "family": "Lovelace", "orcid": orcid}]),
            correlationid="trace-4711",
        )
        with TestClient(create_app_for(runtime)) as client:
            answer = signed_post(client, body, secret=INTAKE_SECRET)
        assert answer.status_code == 202, answer.text
        _wait_placed(committed_database)
        _wait_for(lambda: any(e.get("actor_name") == "notify.deliver" for e in lines))
    finally:
        worker.stop()
    # Then every line the worker logged for it, in each actor it reached, carries that id
    in_actors = [e for e in lines if e.get("actor_name")]
    actors = {e["actor_name"] for e in in_actors}
    assert {"events.process", "orcid.place", "notify.deliver"} <= actors
    assert {e.get("correlation_id") for e in in_actors} == {"trace-4711"}
    placed = [e for e in in_actors if e["event"] == "orcid_placed"]
    assert [e["correlation_id"] for e in placed] == ["trace-4711"]


def create_app_for(runtime: Any) -> Any:
    from worker.web.app import create_app

    return create_app(runtime)


def _wait_for(check: Any, what: str = "the webhook's delivery", timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _wait_placed(database: Any) -> None:
    def placed() -> bool:
        with database.session() as session:
            state = session.execute(select(OrcidPlacement.state)).scalar_one_or_none()
            return state == PlacementState.PLACED

    _wait_for(placed, "the placement")


def test_a_transient_failure_is_one_warning_line_in_every_flow(
    settings, committed_database, broker, database_url, redis_url, cipher, sandbox, client_id,
    lines, caplog,
):  # fmt: skip
    # Given DataCite and ORCID failing with 503s and the CRIS's webhook endpoint down
    settings = settings.model_copy(update={"notify_urls": {"cris": "http://127.0.0.1:9/none"}})
    runtime = make_runtime(settings, committed_database, broker, cipher, database_url, redis_url)
    orcid = new_researcher(sandbox)
    with committed_database.session() as session:
        authorize(session, sandbox, cipher, orcid, client_id)
    sandbox.set_faults("datacite", error_rate=1)
    sandbox.set_faults("orcid", error_rate=1)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        # When a DataCite work and a work naming the researcher (an external DOI) arrive
        registered = work("w-dc", url="https://repo.example.edu/w-dc")
        registered["registration"] = {"registrar": "datacite"}
        placed = work("w-orcid", contributors=[{"given": "A", "family": "L", "orcid": orcid}])
        with TestClient(create_app_for(runtime)) as client:
            for event_id, data in (("e-dc", registered), ("e-orcid", placed)):
                body = event(data=data, event_id=event_id, correlationid=f"trace-{event_id}")
                assert signed_post(client, body, secret=INTAKE_SECRET).status_code == 202
        wanted = {"doi_retry_scheduled", "orcid_retry_scheduled", "webhook_retry_scheduled"}
        _wait_for(lambda: wanted <= {e["event"] for e in lines}, "a retry in each flow")
    finally:
        worker.stop()
    # Then each flow's retry is a WARNING line carrying its event's correlation id, and no
    # line anywhere is an ERROR or carries a traceback
    retries = [e for e in lines if e["event"] in wanted]
    assert {e["log_level"] for e in retries} == {"warning"}
    assert {e["correlation_id"] for e in retries} == {"trace-e-dc", "trace-e-orcid"}
    assert [e for e in lines if e["log_level"] in ("error", "critical") or "exc_info" in e] == []
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []
    assert not [r for r in caplog.records if r.exc_info]
