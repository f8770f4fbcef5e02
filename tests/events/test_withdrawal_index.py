"""Every first publication of a work or an item asks the inbox for its owner's earlier
withdrawals: on an inbox of millions of events that must be an index look-up, whatever the
kind (the partial index ``ix_received_events_withdrawal_of``), never a scan."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.helpers import statements_run
from worker.events import repository as inbox
from worker.events.repository import WITHDRAWAL_TYPES
from worker.models import OrcidItemKind


@pytest.fixture
def seeded(session):
    """20,000 events of every type (a fifth of them withdrawals), as an inbox holds after a
    while."""
    types = [*WITHDRAWAL_TYPES, "work.published", "work.updated", "funding.published"]
    session.execute(
        text(
            """
            INSERT INTO received_events (receipt, source, event_id, type, client_id,
              correlation_id, data, options, status, attempts)
            SELECT gen_random_uuid(), 'https://seed.example.edu', 'seed-' || g, (CAST(:types AS text[]))[1 + g % :n],
              'cris', 'c-' || g, jsonb_build_object('id', 'item-' || g, 'version', 1), '{}',
              'done', 1
            FROM generate_series(1, 20000) g
            """
        ),
        {"types": types, "n": len(types)},
    )
    session.execute(text("ANALYZE received_events"))
    return session


def test_every_withdrawal_type_is_an_event_type_of_its_kind():
    # An item's kind names its withdrawal's type: each must be in the index's predicate.
    assert {f"{kind.value}.withdrawn" for kind in OrcidItemKind} | {"work.withdrawn"} == set(
        WITHDRAWAL_TYPES
    )


@pytest.mark.parametrize("withdrawal_type", WITHDRAWAL_TYPES)
def test_earlier_withdrawals_are_found_through_the_partial_index(seeded, withdrawal_type):
    with statements_run(seeded) as ran:
        inbox.withdrawals_before(
            seeded, withdrawal_type, source="https://seed.example.edu", item_id="item-7",
            client_id="cris", version=1,
        )  # fmt: skip
    connection = seeded.connection()
    ((sql, params),) = ran
    plan = "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, params))
    assert "ix_received_events_withdrawal_of" in plan, plan


def test_a_type_that_is_no_withdrawal_is_refused(session):
    with pytest.raises(ValueError, match="not a withdrawal"):
        inbox.withdrawals_before(
            session, "work.published", source="s", item_id="i", client_id="c", version=1
        )
