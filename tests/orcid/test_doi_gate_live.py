"""The DOI gate with everything real but the agencies: committed PostgreSQL, the Redis broker,
a dramatiq worker running the registrar and ORCID actors, the sandbox over HTTP. The
registrars tell the ORCID flow by message name (``orcid.doi_settled``); nothing else moves the
waiting placement."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
from sqlalchemy import select

from tests.conftest import make_runtime
from tests.orcid.conftest import with_registrars
from tests.orcid.helpers import authorize, publish_registered, record_works, researcher
from tests.orcid.test_doi_gate import _dois_on_record
from tests.registrars.flow import datacite_work
from worker.config import Settings
from worker.models import DoiRegistration, OrcidPlacement, PlacementState


@pytest.fixture
def settings(sandbox: Any, tmp_path: Any) -> Settings:
    return with_registrars(sandbox, tmp_path)


@pytest.fixture
def live(settings, committed_database, broker, database_url, redis_url, cipher) -> Iterator[Any]:
    """A booted pidsync over the committing database, with two worker threads (a registrar
    retry waits as long as the agency's Retry-After asks)."""
    settings = settings.model_copy(
        update={"doi": settings.doi.model_copy(update={"retry_backoff": [0.3], "max_retries": 100})}
    )
    runtime = make_runtime(settings, committed_database, broker, cipher, database_url, redis_url)
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    yield runtime
    worker.stop()
    runtime.registrars.close()


def _until(database, check: Callable[[Any], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with database.session() as session:
            found = check(session)
            if found:
                return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_places_nothing_during_a_datacite_outage_then_the_confirmed_doi(
    live, committed_database, sandbox, cipher, client_id
):
    database = committed_database
    # Given DataCite is down, and a consenting researcher's work whose DOI pidsync registers
    sandbox.set_faults("datacite", outage_seconds=2)
    orcid = researcher(sandbox)
    with database.session() as session:
        authorize(session, sandbox, cipher, orcid, client_id)
    with database.session() as session:
        publish_registered(session, datacite_work("w-1"), orcid)

    # When the worker has tried the registration during the outage
    reg = _until(
        database,
        lambda s: s.execute(
            select(DoiRegistration).where(DoiRegistration.retry_count >= 1)
        ).scalar_one_or_none(),
        "a try during the outage",
    )
    # Then nothing reached the record, and the placement waits for the DOI
    assert record_works(sandbox, orcid) == []
    with database.session() as session:
        row = session.execute(select(OrcidPlacement)).scalar_one()
        assert row.state == PlacementState.AWAITING_DOI

    # When DataCite is back (the outage ends; the retry is due when DataCite said)
    # Then the worker registers the DOI and places the work with it, once
    _until(database, lambda _s: _dois_on_record(sandbox, orcid) == [reg.doi], "the placement")
    _until(
        database,
        lambda s: s.execute(select(OrcidPlacement.state)).scalar_one() == PlacementState.PLACED,
        "the placement's state",
    )
    assert len(record_works(sandbox, orcid)) == 1
