"""What one scrape of the web's ``/metrics`` costs on a large database.

The state gauges (events, DOIs, placements, grants, Crossref submissions, dead letters, queue
depths and ages) are read from Postgres and Redis at every scrape. This fills a scratch
database with a few years' worth of rows, then times the collector as Prometheus would call it
(every 15 s by default), and prints each query's plan time so a slow one is easy to find.

    .venv/bin/python benchmarks/bench_metrics_scrape.py [--events 500000] [--scrapes 10]

The rows are as a running system has them: most settled (events done, DOIs findable, works
placed), about 1-3 % waiting or failed; the gauges count only those (worker/metrics/state.py).

Measured 2026-12-06 on the shared, loaded 2-core machine (500,000 events, 250,000 DOIs and
placements, 25,000 grants, 5,000 submissions): median 250-430 ms a scrape, most of it the
heap reads of the 6,000 failed or waiting events; before the gauges were limited to unsettled
rows (full grouped counts): 620 ms, growing with the whole database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import psycopg
import redis
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.engine import make_url

from worker.broker import build_broker
from worker.db import Database
from worker.metrics.state import StateCollector
from worker.migrate import upgrade

ADMIN_URL = os.environ.get(
    "PIDSYNC_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PIDSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/") + "/15"
DATABASE = "pidsync_bench_metrics_" + os.environ.get("PIDSYNC_TEST_RUN", "local")

FILL = """
INSERT INTO received_events (receipt, source, event_id, type, client_id, body_hash,
                             correlation_id, data, options, status, attempts, received_at)
SELECT gen_random_uuid(), 'https://cris.example.edu', 'e-' || n, (ARRAY['work.published','work.updated',
       'researcher.authorized'])[1 + n % 3], 'cris', NULL, 'c-' || n, '{}', '{}',
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--scrapes", type=int, default=10)
    args = parser.parse_args()

    admin = make_url(ADMIN_URL)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    url = admin.set(database=DATABASE).render_as_string(hide_password=False)
    try:
        upgrade(url)
        sizes = {
            "events": args.events,
            "works": args.events // 2,
            "grants": args.events // 20,
            "deposits": args.events // 100,
            "dead": 1000,
        }
        started = time.perf_counter()
        with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(
            hide_password=False), autocommit=True) as conn:  # fmt: skip
            sql = FILL
            for name, size in sizes.items():  # whole numbers only: nothing to escape
                sql = sql.replace(f"@{name.upper()}@", str(int(size)))
            conn.execute(sql.encode())
        print(f"filled {sizes} in {time.perf_counter() - started:.1f} s")

        client = redis.Redis.from_url(REDIS_URL)
        client.flushdb()
        broker = build_broker(REDIS_URL, record_dead_letter=lambda *_: None)
        database = Database(url)
        registry = CollectorRegistry()
        registry.register(StateCollector(database, broker))
        generate_latest(registry)  # warm the connection pool and the plans
        times = []
        for _ in range(args.scrapes):
            started = time.perf_counter()
            body = generate_latest(registry)
            times.append((time.perf_counter() - started) * 1000)
        print(f"scrape: {len(body)} bytes; median {statistics.median(times):.1f} ms, "
              f"slowest {max(times):.1f} ms over {args.scrapes} scrapes")  # fmt: skip
        database.engine.dispose()
        broker.close()
        client.flushdb()
    finally:
        if not os.environ.get("BENCH_KEEP_DATABASE"):  # kept: to EXPLAIN a query afterwards
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    main()
