"""A DOI's sync message that meets a work event on the registration row.

Found by the chaos suite's clean run (CI, a loaded machine: "w7: 10.5072/... does not carry
version 4's title"): a sync message waited for the registration row an event held; the event
committed the work's next version and its pending change; the sync then read the registration
as committed but the work as it was before the event (PostgreSQL re-reads only the rows a
statement locks), found that older version equal to what DataCite had confirmed, and cleared
the pending change. Nothing sent it afterwards: DataCite kept the older version for good.

Run for real: two connections on the committing database, the event's transaction held open
while the sync waits for it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import in_thread, until, waiting_on_a_lock
from tests.registrars.flow import datacite_dois, datacite_work, event, registration, sync
from worker.models import DoiState
from worker.registrars.datacite import service as datacite


@pytest.fixture
def live(committed_runtime: Any) -> Any:
    """The event hooks and the registrar services over the committing database."""
    yield committed_runtime
    committed_runtime.registrars.close()


def _title(sandbox: Any, doi: str) -> str:
    return datacite_dois(sandbox)[doi]["metadata"]["titles"][0]["title"]


def test_a_sync_that_waited_for_an_event_sends_the_version_the_event_committed(
    live, committed_database, sandbox
):
    database, deps = committed_database, live.registrars
    # Given a work's version 1 findable at DataCite
    with database.session() as session:
        assert event(session, "work.published", datacite_work(version=1, title="One")).status
    with database.session() as session:
        reg = registration(session, "w-1")
        assert sync(session, deps, reg) is None
        doi, reg_id = reg.doi, reg.id
    assert _title(sandbox, doi) == "One"

    # When version 2's event holds the registration (its change pending, not yet committed)
    # as a sync message for the DOI arrives and waits for it
    with database.session() as session:
        outcome = event(session, "work.updated", datacite_work(version=2, title="Two"))
        assert outcome.status.value == "done", outcome

        def deliver() -> None:
            with database.session() as worker_session:
                datacite.sync_registration(worker_session, deps, reg_id)

        worker, errors = in_thread(deliver)
        until("the sync waits for the event's lock", lambda: waiting_on_a_lock(database))
    worker.join(timeout=30)
    assert not errors, errors
    # And the message version 2's commit queued runs too
    with database.session() as session:
        datacite.sync_registration(session, deps, reg_id)

    # Then DataCite holds version 2, and nothing is left pending that nobody will send
    assert _title(sandbox, doi) == "Two"
    with database.session() as session:
        reg = registration(session, "w-1")
        assert reg.state == DoiState.FINDABLE
        assert reg.pending_hash is None
