"""An affiliation's, funding's or peer review's withdrawal that overtook its publication by more
than the events' backoff: it waited for the item, gave up, and the older publication that came
at last must not put the item on the record (as for works: RELIABILITY.md items 15 and 18)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import process_event
from tests.orcid.helpers import CONTEXT, authorize, receive, researcher
from tests.orcid.sections_helpers import (
    affiliation,
    assertion,
    funding,
    place_pending_items,
    record_items,
    review,
)
from tests.orcid.sections_helpers import settings as settings  # noqa: PLC0414 - the fixture
from worker.models import OrcidItem

BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "affiliation": lambda orcid, **extra: affiliation(orcid, item_id="it-1", **extra),
    "funding": lambda orcid, **extra: funding(orcid, item_id="it-1", **extra),
    "review": lambda orcid, **extra: review(orcid, item_id="it-1", **extra),
}


def _given_up(session, kind: str, version: int) -> Any:
    """The item's withdrawal, processed before any publication, after its last try."""
    withdrawal = receive(session, f"{kind}.withdrawn", {"id": "it-1", "version": version})
    assert withdrawal.status.value == "received", withdrawal.outcome  # waiting for the item
    withdrawal.attempts = 7  # the tries spent (settings.events' backoff)
    session.flush()
    process_event(session, withdrawal.id, CONTEXT[-1] if CONTEXT else None)
    assert withdrawal.status.value == "failed", withdrawal.outcome
    return withdrawal


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_a_publication_arriving_after_its_withdrawal_gave_up_is_stored_withdrawn(
    session, sandbox, cipher, deps, client_id, kind
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    withdrawal = _given_up(session, kind, version=2)

    # When the older publication arrives at last
    late = receive(session, f"{kind}.published", BUILDERS[kind](orcid, version=1))
    place_pending_items(session, deps)

    # Then the item is stored withdrawn at the withdrawal's version, on no record, and the
    # withdrawal is done, saying so
    assert late.status.value == "stale", late.outcome
    assert "after the withdrawal of version 2" in (late.outcome or "")
    stored = assertion(session, kind, "it-1")
    assert stored.withdrawn_at is not None and stored.version == 2
    assert session.query(OrcidItem).count() == 0
    assert record_items(sandbox, orcid) == []
    session.refresh(withdrawal)
    assert withdrawal.status.value == "done"
    assert "arrived after this withdrawal" in (withdrawal.outcome or "")

    # And a newer version brings it back, as after any withdrawal (a review has no update
    # event: its publication carries the newer version)
    event = f"{kind}.published" if kind == "review" else f"{kind}.updated"
    back = receive(session, event, BUILDERS[kind](orcid, version=3))
    place_pending_items(session, deps)
    assert back.status.value == "done", back.outcome
    assert len(record_items(sandbox, orcid)) == 1


def test_a_withdrawal_of_an_older_version_does_not_hold_back_a_newer_publication(
    session, sandbox, cipher, deps, client_id
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    _given_up(session, "funding", version=1)
    published = receive(session, "funding.published", BUILDERS["funding"](orcid, version=2))
    place_pending_items(session, deps)
    assert published.status.value == "done", published.outcome
    assert len(record_items(sandbox, orcid)) == 1


def test_another_clients_withdrawal_holds_back_nothing(session, sandbox, cipher, deps, client_id):
    # Tenancy: only the owner's own withdrawal counts (another client cannot pre-empt an item
    # by withdrawing its id first)
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    foreign = receive(session, "funding.withdrawn", {"id": "it-1", "version": 5}, client_id="other")
    foreign.attempts = 7
    session.flush()
    process_event(session, foreign.id, CONTEXT[-1] if CONTEXT else None)
    published = receive(session, "funding.published", BUILDERS["funding"](orcid, version=1))
    place_pending_items(session, deps)
    assert published.status.value == "done", published.outcome
    assert len(record_items(sandbox, orcid)) == 1
