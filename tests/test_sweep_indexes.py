"""The scheduler's sweeps run every 30 s over tables that grow with every work ever handled:
each must read its few open rows through an index, never by scanning every row (benchmark
``scale``: a sequential scan per sweep on 1M works). The queries are the repository's own,
captured as they run and EXPLAINed on a seeded table."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.helpers import statements_run
from worker.clock import utcnow
from worker.orcid import repository as orcid_repository
from worker.registrars import repository as registrar_repository

SEEDED = 20_000


@pytest.fixture
def seeded(session):
    """20,000 works with a findable DOI each (confirmed a month ago, read back yesterday) and a
    placed ORCID work each: what a deployment holds after a while; a few rows still open."""
    session.execute(
        text(
            """
            WITH w AS (
              INSERT INTO works (source, external_id, type, title, metadata, metadata_hash,
                client_id)
              SELECT 'https://seed.example.edu', 'seed-' || g, 'dataset', 'Seeded ' || g,
                '{}', md5(g::text), 'cris'
              FROM generate_series(1, :n) g RETURNING id
            ), r AS (
              INSERT INTO doi_registrations (work_id, registrar, account, doi, minted, state,
                target_state, confirmed_hash, attempts, retry_count, confirmed_at, reconciled_at)
              SELECT id, 'datacite', 'SANDBOX.REPO', '10.5072/seed-' || id, true, 'findable',
                'findable', 'h', 1, 0, now() - interval '30 days', now() - interval '1 day'
              FROM w RETURNING work_id
            )
            INSERT INTO orcid_placements (work_id, orcid, client_id, state, attempts, in_doubt)
            SELECT work_id, '0000-0002-0000-' || lpad((work_id % 10000)::text, 4, '0'),
              'APP-SANDBOX', 'placed', 1, false
            FROM r
            """
        ),
        {"n": SEEDED},
    )
    session.execute(text("ANALYZE works, doi_registrations, orcid_placements"))
    return session


def _plans(session, call) -> list[str]:
    """Run ``call`` and EXPLAIN every statement it ran, with its own parameters."""
    with statements_run(session) as ran:
        call()
    connection = session.connection()
    assert ran, "the repository ran no statement"
    return [
        "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, params))
        for sql, params in ran
    ]


SWEEPS = {
    "stalled placements": lambda s: orcid_repository.stalled_placement_keys(
        s, utcnow() - timedelta(minutes=5), 500
    ),
    "placements awaiting consent with a grant": lambda s: orcid_repository.consented_awaiting_ids(
        s, 500
    ),
    "placements awaiting a settled DOI": lambda s: orcid_repository.settled_awaiting_doi_ids(
        s, 500
    ),
    "registrations with a change to send": lambda s: registrar_repository.stalled_registration_ids(
        s, overdue=utcnow() - timedelta(minutes=5), limit=500
    ),
    "registrations due for a read-back": lambda s: registrar_repository.due_reconciliations(
        s,
        confirmed_before=utcnow() - timedelta(hours=1),
        read_back_before=utcnow() - timedelta(days=7),
        limit=500,
    ),
}


@pytest.mark.parametrize("sweep", sorted(SWEEPS))
def test_each_sweep_reads_its_open_rows_through_an_index(seeded, sweep):
    plans = _plans(seeded, lambda: SWEEPS[sweep](seeded))

    for plan in plans:
        assert "Seq Scan on orcid_placements" not in plan, plan
        assert "Seq Scan on doi_registrations" not in plan, plan


def test_the_sweeps_still_find_the_open_rows_among_the_settled_ones(seeded):
    # Given one pending placement and one registration with a change, long overdue, among
    # 20,000 settled ones
    old = utcnow() - timedelta(hours=2)
    seeded.execute(
        text(
            "UPDATE orcid_placements SET state = 'pending', enqueued_at = :old "
            "WHERE id = (SELECT max(id) FROM orcid_placements)"
        ),
        {"old": old},
    )
    seeded.execute(
        text(
            "UPDATE doi_registrations SET pending_hash = 'p', pending_since = :old, "
            "state = 'submitted' WHERE id = (SELECT max(id) FROM doi_registrations)"
        ),
        {"old": old},
    )
    overdue = utcnow() - timedelta(minutes=5)

    # When the sweeps look, each finds exactly that row (the indexes changed how, not what)
    stalled = orcid_repository.stalled_placement_keys(seeded, overdue, 500)
    changes = registrar_repository.stalled_registration_ids(seeded, overdue=overdue, limit=500)
    due = registrar_repository.due_reconciliations(
        seeded, confirmed_before=overdue, read_back_before=utcnow() - timedelta(days=7), limit=5
    )

    last_placement = seeded.execute(text("SELECT max(id) FROM orcid_placements")).scalar_one()
    last_registration = seeded.execute(text("SELECT max(id) FROM doi_registrations")).scalar_one()
    assert [row[0] for row in stalled] == [last_placement]
    assert changes == [last_registration]
    assert due == []  # every settled DOI was read back yesterday
