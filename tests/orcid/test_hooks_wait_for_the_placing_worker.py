"""An event about a work or an item while a worker is placing it: the event's hook waits for
that worker and decides from what it wrote (found by the full chaos run: a hook that read the
placement before the worker committed queued an update the worker's commit then cancelled,
and a withdrawal marked "never sent" an item the worker had just put on the record)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from tests.orcid.helpers import authorize, place_pending, publish, receive, researcher
from tests.orcid.sections_helpers import funding, place_pending_items, record_items
from worker.models import OrcidItem, OrcidPlacement, PlacementState
from worker.orcid import placements
from worker.orcid.sections import placement as item_placement

#: How long the sandbox holds the answer to a write it has applied: the placing worker's
#: transaction (and its row lock) stays open this long after ORCID has the work.
HELD_MS = 1500


def _placing_while(
    database, deps, sandbox, place: Callable[[Any, Any, int], Any], row_id: int, event: Callable
) -> None:
    """Run ``place`` for ``row_id`` in a worker thread; once ORCID holds its write (the answer
    held back, the worker's transaction open), send ``event`` from another session."""
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with database.session() as session:
                place(session, deps, row_id)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    sandbox.set_faults("orcid", answer_delay_ms=HELD_MS)
    thread = threading.Thread(target=worker)
    thread.start()
    deadline = time.monotonic() + 10
    while not _on_a_record(sandbox) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _on_a_record(sandbox), "the worker's write never reached ORCID"
    assert thread.is_alive(), "the worker finished before the event: no race was made"
    with database.session() as session:
        event(session)
    thread.join(timeout=30)
    sandbox.set_faults("orcid", answer_delay_ms=0)
    assert not errors, errors


def _on_a_record(sandbox) -> bool:
    records = sandbox.state()["orcid"]["records"].values()
    return any(r["works"] or r["activities"] for r in records)


def _placement_id(database) -> int:
    with database.session() as session:
        return session.execute(select(OrcidPlacement.id)).scalar_one()


@pytest.mark.parametrize("change", ["updated", "withdrawn"])
def test_a_work_changed_while_its_placement_is_being_written(
    change, committed_database, committed_deps, sandbox, cipher, client_id
):
    # Given a work to place on a researcher's record
    database, deps = committed_database, committed_deps
    orcid = researcher(sandbox)
    with database.session() as session:
        authorize(session, sandbox, cipher, orcid, client_id)
        publish(session, "w-1", orcid, title="The first title")

    # When its update (or withdrawal) arrives while a worker is placing it
    def event(session) -> None:
        if change == "updated":
            publish(session, "w-1", orcid, event_type="work.updated", title="The second title")
        else:
            receive(session, "work.withdrawn", {"id": "w-1"})

    _placing_while(database, deps, sandbox, placements.place, _placement_id(database), event)
    with database.session() as session:
        place_pending(session, deps)

    # Then the record ends as the newest event asks: the new title, or nothing
    works = sandbox.state()["orcid"]["records"][orcid]["works"]
    with database.session() as session:
        row = session.execute(select(OrcidPlacement)).scalar_one()
    if change == "updated":
        assert len(works) == 1 and "The second title" in str(works[0]), works
        assert row.state == PlacementState.PLACED
    else:
        assert works == []
        assert row.state == PlacementState.DELETED and row.put_code is None


def test_a_funding_withdrawn_while_it_is_being_written(
    committed_database, committed_deps, sandbox, cipher, client_id
):
    # Given a funding to place on a researcher's record
    database, deps = committed_database, committed_deps
    orcid = researcher(sandbox)
    with database.session() as session:
        authorize(session, sandbox, cipher, orcid, client_id)
        receive(session, "funding.published", funding(orcid))
    with database.session() as session:
        item_id = session.execute(select(OrcidItem.id)).scalar_one()

    # When its withdrawal arrives while a worker is placing it
    def event(session) -> None:
        receive(session, "funding.withdrawn", {"id": "fund-1"})

    _placing_while(database, deps, sandbox, item_placement.place, item_id, event)
    with database.session() as session:
        place_pending_items(session, deps)

    # Then it is off the record
    assert record_items(sandbox, orcid, "funding") == []
    with database.session() as session:
        row = session.execute(select(OrcidItem)).scalar_one()
    assert row.state == PlacementState.DELETED
