"""How fast the ops dashboard's queries answer on a large database.

Fills a fresh database (``pidsync_bench_ops``) with N works by SQL (``generate_series``): each
with a DataCite registration (1 in 20 failed, 1 in 50 on hold), two inbox events, two ORCID
placements (1 in 30 failed) and five recorded API calls, spread over the last 30 days; plus
dead letters. Then times each query the dashboard and the CLI run (median of 5, milliseconds)
and says whether PostgreSQL planned a sequential scan of a large table for it.

    .venv/bin/python benchmarks/bench_ops.py [--works 100000]

Measured 2026-12-06 on the shared 2-core machine (other suites running), 100,000 works, 1.1 M
rows (median ms; no sequential scan of a large table in any plan): overview 234, works newest
page 24, page 100 35, by id 11, by DOI 12, by ORCID iD 3, tenant + failed 56, stale 68, a
timeline 58, problems grouped 215, one group's items 210 (the grouping normalises each error's
text with regular expressions: every failed row is read). At 20,000 works the planner still
prefers scanning doi_registrations for a few of them: it is small enough then.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import timedelta

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get(
    "PIDSYNC_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PIDSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/") + "/15"
DATABASE = "pidsync_bench_ops"

FILL = """
INSERT INTO works (source, external_id, type, title, doi, metadata, metadata_hash, version,
                   client_id, created_at, updated_at)
SELECT 'https://cris.example.edu', 'w-' || g, 'dataset', 'Work ' || g, NULL, '{}'::jsonb,
       md5(g::text), 1, 'client-' || (g % 7), now() - (g % 43200) * interval '1 minute',
       now() - (g % 43200) * interval '1 minute'
FROM generate_series(1, :n) AS g;

INSERT INTO doi_registrations (work_id, registrar, account, doi, minted, client_id, state,
                               target_state, attempts, retry_count, last_error, pending_hash,
                               pending_since, created_at, updated_at)
SELECT id, 'datacite', 'default', '10.5072/bench-' || id, true, client_id,
       CASE WHEN id % 20 = 0 THEN 'failed' WHEN id % 50 = 1 THEN 'on_hold' ELSE 'findable' END,
       'findable', 1, 0,
       CASE WHEN id % 20 = 0 THEN 'DataCite refused the metadata (422): ' || (id % 5) END,
       CASE WHEN id % 97 = 3 THEN md5(id::text) END,
       CASE WHEN id % 97 = 3 THEN now() - interval '3 hours' END,
       created_at, updated_at
FROM works;

INSERT INTO received_events (receipt, source, event_id, type, client_id, correlation_id, data,
                             options, status, attempts, received_at, enqueued_at, handled_at,
                             work_id, outcome)
SELECT gen_random_uuid(), source, 'e-' || id || '-' || k, 'work.published', client_id, 'c',
       jsonb_build_object('id', external_id), '{}'::jsonb,
       CASE WHEN id % 200 = 0 AND k = 2 THEN 'failed' ELSE 'done' END, 1,
       created_at + k * interval '1 second', created_at, created_at + k * interval '2 seconds',
       id, CASE WHEN id % 200 = 0 AND k = 2 THEN 'no handler' END
FROM works, generate_series(1, 2) AS k;

INSERT INTO orcid_placements (work_id, orcid, client_id, owner, state, attempts, in_doubt,
                              last_error, created_at, updated_at)
SELECT id, '0000-0002-' || lpad(((id * 2 + k) % 10000)::text, 4, '0') || '-000X',
       'APP-BENCH', client_id,
       CASE WHEN id % 30 = k THEN 'failed' ELSE 'placed' END, 1, false,
       CASE WHEN id % 30 = k THEN 'ORCID answered 500' END, created_at, updated_at
FROM works, generate_series(1, 2) AS k;

INSERT INTO api_calls (service, method, url, status, latency_ms, work_id, created_at)
SELECT (ARRAY['datacite', 'orcid', 'crossref'])[1 + (id + k) % 3], 'PUT', 'https://api/x',
       CASE WHEN (id + k) % 40 = 0 THEN 429 WHEN (id + k) % 25 = 0 THEN 500 ELSE 200 END,
       20 + (id * k) % 400, id, created_at + k * interval '1 second'
FROM works, generate_series(1, 5) AS k;

INSERT INTO dead_letters (queue, actor, message_id, args, reason, retries)
SELECT 'pidsync', 'events.process', 'm-' || g, jsonb_build_array(g), 'gave up', 3
FROM generate_series(1, :n / 100) AS g;
ANALYZE;
"""

#: Tables large enough that a sequential scan of one is a slow page on a real site.
LARGE = ("works", "doi_registrations", "received_events", "orcid_placements", "api_calls")


def fresh_database() -> str:
    from worker.migrate import upgrade

    admin = make_url(ADMIN_URL)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    url = admin.set(database=DATABASE).render_as_string(hide_password=False)
    upgrade(url)
    return url


def timed(fn, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def seq_scans(session, fn) -> list[str]:
    """The large tables PostgreSQL scanned whole for the statements ``fn`` ran."""
    from sqlalchemy import event

    statements: list[tuple[str, object]] = []
    bind = session.get_bind()

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    event.listen(bind, "before_cursor_execute", capture)
    try:
        fn()
    finally:
        event.remove(bind, "before_cursor_execute", capture)
    scanned = set()
    raw = session.connection().connection.driver_connection
    for statement, parameters in statements:
        plan = raw.execute("EXPLAIN " + statement, parameters).fetchall()
        for (line,) in plan:
            for table in LARGE:
                if f"Seq Scan on {table} " in line + " ":
                    scanned.add(table)
    return sorted(scanned)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--works", type=int, default=100_000)
    n = parser.parse_args().works

    import redis

    from worker.broker import build_broker
    from worker.clock import utcnow
    from worker.config import Settings
    from worker.db import Database
    from worker.ops import overview, problems, works
    from worker.ratelimit import RateLimiter

    url = fresh_database()
    database = Database(url)
    started = time.perf_counter()
    with database.engine.begin() as conn:
        for statement in FILL.split(";\n"):
            if statement.strip():
                conn.execute(text(statement), {"n": n})
    rows = 0
    with database.engine.connect() as conn:
        for table in (*LARGE, "dead_letters"):
            rows += conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    print(f"filled {n:,} works, {rows:,} rows in {time.perf_counter() - started:.1f} s")

    settings = Settings(_env_file=None, env="test")
    broker = build_broker(REDIS_URL, record_dead_letter=lambda *_a: None)
    limiter = RateLimiter(redis.Redis.from_url(REDIS_URL))
    stale = utcnow() - timedelta(hours=1)
    some_doi = f"10.5072/bench-{n // 2}"
    cases = {
        "overview": lambda s: overview.overview(s, broker, limiter),
        "works: newest page": lambda s: works.search(s, limit=50),
        "works: page 100": lambda s: works.search(s, limit=50, offset=5000),
        "works: by id": lambda s: works.search(s, query=f"w-{n // 3}"),
        "works: by DOI": lambda s: works.search(s, query=some_doi),
        "works: by ORCID iD": lambda s: works.search(s, query="0000-0002-0042-000X"),
        "works: tenant, failed": lambda s: works.search(s, tenant="client-3", state="failed"),
        "works: stale": lambda s: works.search(s, state="stale", stale_before=stale),
        "works: timeline": lambda s: works.timeline(s, works.find(s, some_doi)),
        "problems: groups": lambda s: problems.groups(s, settings),
        "problems: one reason": lambda s: problems.items(
            s, settings, "DataCite refused the metadata (422): 3"
        ),
    }
    print(f"{'query':<24} {'median ms':>10}  sequential scans of large tables")
    for name, case in cases.items():
        with database.session() as session:
            ms = timed(lambda case=case, session=session: case(session))
            scans = seq_scans(session, lambda case=case, session=session: case(session))
        print(f"{name:<24} {ms:>10.1f}  {', '.join(scans) or '-'}")
    database.engine.dispose()


if __name__ == "__main__":
    main()
