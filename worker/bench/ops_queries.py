"""Scenario **ops-queries**: how fast the ops dashboard's and the CLI's queries answer on a large
database, and whether PostgreSQL scans a large table whole for any of them.

Fills the scenario's fresh database with N works by SQL (``generate_series``; 100,000, ``--quick``
2,000): each with a DataCite registration (1 in 20 failed, 1 in 50 on hold), two inbox events,
two ORCID placements (1 in 30 failed) and five recorded API calls, spread over the last 30 days;
plus dead letters. Then times each query (median of 5, ``--quick`` 3; milliseconds) as
:mod:`worker.ops` runs it, and names the large tables its plans scan sequentially.

The queries are called in this process (they are what is measured, not a server around them);
the database and Redis are the scenario's own (:class:`worker.bench.stack.Stack`).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from worker.bench.stack import Stack

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

Case = Callable[[Session], object]


def _median_ms(case: Case, session: Session, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        case(session)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def _seq_scans(session: Session, case: Case) -> list[str]:
    """The large tables PostgreSQL plans to scan whole for the statements ``case`` runs."""
    statements: list[tuple[str, Any]] = []
    bind = session.get_bind()

    def capture(*args: Any) -> None:  # conn, cursor, statement, parameters, context, many
        statements.append((args[2], args[3]))

    event.listen(bind, "before_cursor_execute", capture)
    try:
        case(session)
    finally:
        event.remove(bind, "before_cursor_execute", capture)
    scanned: set[str] = set()
    raw = session.connection().connection.driver_connection
    if raw is None:  # a live session's connection always has its psycopg connection
        raise RuntimeError("no driver connection")
    for statement, parameters in statements:
        for (line,) in raw.execute("EXPLAIN " + statement, parameters).fetchall():
            scanned.update(t for t in LARGE if f"Seq Scan on {t} " in line + " ")
    return sorted(scanned)


def _found(work: Any) -> Any:
    if work is None:  # the fill gives every work a DOI: a missing one is a broken fill
        raise LookupError("the filled DOI was not found")
    return work


def _cases(n: int, redis_url: str) -> dict[str, Case]:
    import redis

    from worker.broker import build_broker
    from worker.clock import utcnow
    from worker.config import Settings
    from worker.ops import overview, problems, works
    from worker.ratelimit import RateLimiter

    settings = Settings(_env_file=None, env="test")
    broker = build_broker(redis_url, record_dead_letter=lambda *_a: None)
    limiter = RateLimiter(redis.Redis.from_url(redis_url))
    stale = utcnow() - timedelta(hours=1)
    some_doi = f"10.5072/bench-{n // 2}"
    reason = "DataCite refused the metadata (422): 3"
    return {
        "overview": lambda s: overview.overview(s, broker, limiter),
        "works_newest_page": lambda s: works.search(s, limit=50),
        "works_page_100": lambda s: works.search(s, limit=50, offset=5000),
        "works_by_id": lambda s: works.search(s, query=f"w-{n // 3}"),
        "works_by_doi": lambda s: works.search(s, query=some_doi),
        "works_by_orcid": lambda s: works.search(s, query="0000-0002-0042-000X"),
        "works_tenant_failed": lambda s: works.search(s, tenant="client-3", state="failed"),
        "works_stale": lambda s: works.search(s, state="stale", stale_before=stale),
        "works_timeline": lambda s: works.timeline(s, _found(works.find(s, some_doi))),
        "problems_groups": lambda s: problems.groups(s, settings),
        "problems_one_reason": lambda s: problems.items(s, settings, reason),
    }


def run(quick: bool) -> dict[str, Any]:
    from worker.db import Database

    n = 2_000 if quick else 100_000
    runs = 3 if quick else 5
    with Stack("ops-queries") as stack:
        database = Database(stack.database_url)
        stack.callback(database.engine.dispose)
        started = time.perf_counter()
        with database.engine.begin() as conn:
            for statement in FILL.split(";\n"):
                if statement.strip():
                    conn.execute(text(statement), {"n": n})
        fill_seconds = round(time.perf_counter() - started, 1)
        tables = (*LARGE, "dead_letters")
        rows = sum(stack.scalar(f"SELECT count(*) FROM {t}") for t in tables)  # noqa: S608
        median_ms: dict[str, float] = {}
        seq_scans: dict[str, str] = {}
        for name, case in _cases(n, stack.redis_url).items():
            with database.session() as session:
                median_ms[name] = _median_ms(case, session, runs)
                seq_scans[name] = ", ".join(_seq_scans(session, case)) or "-"
    return {
        "works": n,
        "rows": rows,
        "fill_seconds": fill_seconds,
        "runs": runs,
        "median_ms": median_ms,
        "seq_scans_of_large_tables": seq_scans,
    }


if __name__ == "__main__":
    json.dump(run("--quick" in sys.argv), sys.stdout, indent=2)
    sys.stdout.write("\n")
