"""A grant's backfill looks up the works naming the researcher among every work stored: by the
GIN index on works.metadata (migration 7e4b2c9d5a13), never by reading every work."""

from __future__ import annotations

from sqlalchemy import text

from tests.helpers import statements_run
from worker.orcid import repository

SEEDED = 20_000
ORCID = "0000-0002-0000-0042"


def _seed(session) -> None:
    # 20,000 works, each naming one of 10,000 researchers: what a deployment holds after a while
    session.execute(
        text(
            """
            INSERT INTO works (source, external_id, type, title, metadata, metadata_hash,
              client_id)
            SELECT 'https://seed.example.edu', 'seed-' || g, 'dataset', 'Seeded ' || g,
              jsonb_build_object('contributors', jsonb_build_array(jsonb_build_object(
                'given', 'Ada', 'family', 'Seed',
                'orcid', '0000-0002-0000-' || lpad((g % 10000)::text, 4, '0')))),
              md5(g::text), 'cris'
            FROM generate_series(1, :n) g
            """
        ),
        {"n": SEEDED},
    )
    session.execute(text("ANALYZE works"))


def _explained(session, call):
    with statements_run(session) as ran:
        found = call()
    connection = session.connection()
    plans = [
        "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, params))
        for sql, params in ran
    ]
    return found, plans


def test_the_works_naming_a_researcher_are_found_through_the_index(session):
    _seed(session)

    found, plans = _explained(session, lambda: repository.unplaced_works_naming(session, ORCID))

    # The two works naming them (ids 42 and 10,042 of the series), found without a scan
    assert sorted(w.external_id for w in found) == ["seed-10042", "seed-42"]
    assert plans
    for plan in plans:
        assert "Seq Scan on works" not in plan, plan
    assert any("ix_works_metadata_path_ops" in plan for plan in plans), plans
