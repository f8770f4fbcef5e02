"""Scenario **metrics-scrape**: what one scrape of the web's ``/metrics`` costs on a large database.

The state gauges (events, DOIs, placements, grants, Crossref submissions, dead letters, queue
depths and ages) are read from PostgreSQL and Redis at every scrape. This fills the scenario's
fresh database with a few years' worth of rows (500,000 events; ``--quick`` 20,000), then times
the collector as Prometheus calls it (10 scrapes; ``--quick`` 3) after one warming scrape.

The rows are as a running system has them: most settled (events done, DOIs findable, works
placed), about 1-3 % waiting or failed; the gauges count only those (worker/metrics/state.py).
The collector runs in this process (it is what is measured); the database and Redis are the
scenario's own (:class:`worker.bench.stack.Stack`).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

import psycopg

from worker.bench._procs import libpq
from worker.bench.stack import Stack

FILL = """
INSERT INTO received_events (receipt, source, event_id, type, client_id, body_hash,
                             correlation_id, data, options, status, attempts, received_at)
SELECT gen_random_uuid(), 'https://cris.example.edu', 'e-' || n,
       (ARRAY['work.published','work.updated', 'researcher.authorized'])[1 + n % 3],
       'cris', NULL, 'c-' || n, '{}', '{}',
       CASE WHEN n % 1000 < 2 THEN 'received' WHEN n % 100 = 50 THEN 'failed'
            WHEN n % 50 = 7 THEN 'stale' ELSE 'done' END, 0,
       now() - (n || ' seconds')::interval
FROM generate_series(1, @EVENTS@) AS n;

INSERT INTO works (source, external_id, type, title, metadata, metadata_hash, client_id)
SELECT 'https://cris.example.edu', 'w-' || n, 'dataset', 'Work ' || n, '{}', md5(n::text), 'cris'
FROM generate_series(1, @WORKS@) AS n;

INSERT INTO doi_registrations (work_id, registrar, account, doi, minted, state, target_state,
                               attempts, retry_count)
SELECT id, (ARRAY['datacite','crossref'])[1 + id % 2], 'default', '10.5555/b-' || id, true,
       CASE WHEN id % 200 = 3 THEN 'failed' WHEN id % 500 = 9 THEN 'submitted'
            WHEN id % 3 = 0 THEN 'registered' ELSE 'findable' END,
       'findable', 1, 0
FROM works;

INSERT INTO orcid_placements (work_id, orcid, client_id, owner, state, attempts, in_doubt)
SELECT id, '0000-0002-' || lpad((id % 10000)::text, 4, '0') || '-000X', 'APP-1', 'cris',
       CASE WHEN id % 50 = 1 THEN 'awaiting_consent' WHEN id % 200 = 2 THEN 'failed'
            WHEN id % 1000 = 3 THEN 'pending' ELSE 'placed' END,
       0, false
FROM works;

INSERT INTO researchers (orcid) SELECT '0000-' || lpad((n / 10000)::text, 4, '0') || '-'
       || lpad((n % 10000)::text, 4, '0') || '-0000' FROM generate_series(1, @GRANTS@) AS n;
INSERT INTO orcid_grants (researcher_id, client_id, scope, access_token_enc, status)
SELECT id, 'APP-' || (1 + id % 3), '/activities/update', '\\x00',
       (ARRAY['active','active','active','revoked'])[1 + id % 4]
FROM researchers;

INSERT INTO crossref_deposits (account, prefix, file_name, doi_batch_id, content, status,
                               poll_count, upload_attempts, retry_count, stale)
SELECT 'default', '10.32013', 'f-' || n || '.xml', 'b-' || n, '<doi_batch/>',
       CASE WHEN n % 100 = 1 THEN 'queued' WHEN n % 100 = 2 THEN 'in_process'
            WHEN n % 500 = 3 THEN 'failed' ELSE 'completed' END,
       0, 1, 0, n % 500 = 0
FROM generate_series(1, @DEPOSITS@) AS n;

INSERT INTO dead_letters (queue, actor, message_id, args, reason, retries)
SELECT 'pidsync', 'events.process', 'm-' || n, '[1]', 'gave up after 8 tries', 8
FROM generate_series(1, @DEAD@) AS n;
ANALYZE;
"""


def run(quick: bool) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry, generate_latest

    from worker.broker import build_broker
    from worker.db import Database
    from worker.metrics.state import StateCollector

    events = 20_000 if quick else 500_000
    scrapes = 3 if quick else 10
    sizes = {
        "events": events,
        "works": events // 2,
        "grants": events // 20,
        "deposits": events // 100,
        "dead": 1000,
    }
    with Stack("metrics-scrape") as stack:
        started = time.perf_counter()
        sql = FILL
        for name, size in sizes.items():  # whole numbers only: nothing to escape
            sql = sql.replace(f"@{name.upper()}@", str(int(size)))
        with psycopg.connect(libpq(stack.database_url), autocommit=True) as conn:
            conn.execute(sql.encode())
        fill_seconds = round(time.perf_counter() - started, 1)
        broker = build_broker(stack.redis_url, record_dead_letter=lambda *_: None)
        stack.callback(broker.close)
        database = Database(stack.database_url)
        stack.callback(database.engine.dispose)
        registry = CollectorRegistry()
        registry.register(StateCollector(database, broker))
        generate_latest(registry)  # warm the connection pool and the plans
        times = []
        body = b""
        for _ in range(scrapes):
            started = time.perf_counter()
            body = generate_latest(registry)
            times.append((time.perf_counter() - started) * 1000)
    return {
        **{f"{name}_rows": size for name, size in sizes.items()},
        "fill_seconds": fill_seconds,
        "scrapes": scrapes,
        "scrape_bytes": len(body),
        "median_ms": round(statistics.median(times), 1),
        "slowest_ms": round(max(times), 1),
    }


if __name__ == "__main__":
    json.dump(run("--quick" in sys.argv), sys.stdout, indent=2)
    sys.stdout.write("\n")
