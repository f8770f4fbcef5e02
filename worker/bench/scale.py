"""Scenario **scale**: events/s and worker CPU per event with 10k, 100k and 1M works already in
the database (``--quick``: 10k), limits and latency off, each event registering a DataCite DOI.

The database is seeded in SQL (one ``INSERT ... SELECT generate_series`` per table: no ORM, no
round trip per row) with what N works leave behind: the work, its inbox event, its findable DOI,
its DataCite call, its webhook row, and an ORCID placement for one work in three; registered a
month ago and read back (reconciled) yesterday, as in a deployment that has run for a while.

The worker processes load ``worker.bench._probe``: every SQL statement is counted and timed,
and the costliest reads and updates are ``EXPLAIN (ANALYZE, BUFFERS)``-ed on the seeded data
with their real parameters, the scheduler's sweeps (``scheduler --once``) too. A statement whose
time per call grows with the database, or whose plan scans a seeded table, is a finding.

    python -m worker.bench.scale [--quick] [--sizes 10000,100000,1000000] [--events 1000]
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from worker.bench import _procs, stack

SEEDED = ("works", "received_events", "doi_registrations", "orcid_placements", "api_calls",
          "outbound_notifications")  # fmt: skip

SEED_SQL = (
    """INSERT INTO works (source, external_id, type, title, doi, metadata, metadata_hash,
         version, client_id)
       SELECT 'https://cris.seed.example.edu', 'seed-' || g, 'dataset', 'Seeded dataset ' || g,
         '10.5072/seed-' || g,
         jsonb_build_object('id', 'seed-' || g, 'type', 'dataset', 'title', 'Seeded dataset ' || g,
           'publisher', 'Seed University', 'publication_date', '2020-01-01'),
         md5(g::text), 1, %(client)s
       FROM generate_series(%(first)s::bigint, %(last)s::bigint) g""",
    """INSERT INTO doi_registrations (work_id, registrar, account, doi, minted, client_id, state,
         target_state, confirmed_hash, attempts, retry_count, registered_at, confirmed_at,
         reconciled_at)
       SELECT id, 'datacite', 'SANDBOX.REPO', doi, true, client_id, 'findable', 'findable',
         metadata_hash, 1, 0, now() - interval '30 days', now() - interval '30 days',
         now() - interval '1 day'
       FROM works WHERE id > %(above)s""",
    """INSERT INTO received_events (receipt, source, event_id, type, client_id, correlation_id,
         data, options, status, attempts, handled_at, work_id)
       SELECT gen_random_uuid(), source, external_id, 'work.published', client_id, external_id,
         metadata, '{}', 'done', 1, now(), id
       FROM works WHERE id > %(above)s""",
    """INSERT INTO api_calls (service, method, url, status, latency_ms, work_id)
       SELECT 'datacite', 'PUT', 'https://api.datacite.org/dois/' || doi, 201, 120, id
       FROM works WHERE id > %(above)s""",
    """INSERT INTO outbound_notifications (client_id, event_type, work_id, payload, status,
         attempts)
       SELECT client_id, 'doi.registered', id, jsonb_build_object('doi', doi), 'no_endpoint', 0
       FROM works WHERE id > %(above)s""",
    """INSERT INTO orcid_placements (work_id, orcid, client_id, owner, put_code, state,
         attempts, in_doubt, placed_at, confirmed_hash)
       SELECT id, '0000-0002-' || lpad(((id / 10000) %% 10000)::text, 4, '0') || '-'
         || lpad((id %% 10000)::text, 4, '0'), 'APP-SANDBOX', client_id, id, 'placed', 1, false,
         now(), metadata_hash
       FROM works WHERE id > %(above)s AND id %% 3 = 0""",
)


def seed(database_url: str, have: int, want: int) -> float:
    """Grow the seeded works from ``have`` to ``want``; seconds taken."""
    import psycopg

    began = time.monotonic()
    with psycopg.connect(_procs.libpq(database_url), autocommit=True) as conn:
        above = conn.execute("SELECT coalesce(max(id), 0) FROM works").fetchone()
        params = {"client": _procs.CLIENT, "first": have + 1, "last": want, "above": above[0]}  # type: ignore[index]
        for sql in SEED_SQL:
            conn.execute(sql, params)
        for table in SEEDED:
            conn.execute(f"VACUUM ANALYZE {table}")
    return time.monotonic() - began


def _event(n: int, prefix: str) -> dict[str, Any]:
    data = _procs.dataset(n, prefix, registration={"registrar": "datacite"})
    return _procs.work_event(n, prefix, data)


def _findable(database_url: str, prefix: str) -> int:
    return int(
        _procs.scalar(
            database_url,
            "SELECT count(*) FROM doi_registrations r JOIN works w ON w.id = r.work_id "
            "WHERE r.state = 'findable' AND w.external_id LIKE %s",
            (f"{prefix}-%",),
        )
    )


#: The indexes the scale run found missing (migration 161c28ed1d9d): each plan is also taken
#: without them, so before and after come from the same data in the same run.
NEW_INDEXES = (
    "ix_orcid_placements_state_id",
    "ix_doi_registrations_pending",
    "ix_doi_registrations_read_back",
)


def _probe_env(env: dict[str, str], folder: Path) -> dict[str, str]:
    return {
        **env,
        "PIDSYNC_BENCH_PROBE_DIR": str(folder),
        "PIDSYNC_BENCH_PROBE_WITHOUT": ",".join(NEW_INDEXES),
    }


def _run_scheduler_once(env: dict[str, str]) -> None:
    code = (
        "import sys, worker.bench._probe; from worker.cli import main; "
        "sys.argv = ['pidsync', 'scheduler', '--once']; main()"
    )
    proc = _procs.spawn("scheduler", [sys.executable, "-c", code], env)
    proc.popen.wait(300)


def _collect(folder: Path) -> tuple[dict[str, list[float]], dict[str, str]]:
    statements: dict[str, list[float]] = {}
    plans: dict[str, str] = {}
    for path in folder.glob("*.json"):
        document = json.loads(path.read_text())
        for sql, (calls, seconds) in document["statements"].items():
            entry = statements.setdefault(sql, [0, 0.0])
            entry[0] += calls
            entry[1] += seconds
        plans.update(document.get("plans", {}))
    return statements, plans


def measure(
    url: str, database_url: str, redis: str, env: dict[str, str], size: int, events: int
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"pidsync-scale-{size}-"))
    workers = _procs.start_workers(_probe_env(env, folder), 1, 8, "worker.bench._probe")
    try:
        warm = f"warm{size}"
        _procs.post_all(url, (_event(i, warm) for i in range(20)))
        _procs.wait_until(lambda: _findable(database_url, warm) >= 20, 120, "warm-up DOIs")
        _procs.wait_until(lambda: stack.queues_empty(redis), 120, "the warm-up queue empty")
        prefix = f"s{size}"
        cpu_before = workers.cpu_seconds()
        began = time.monotonic()
        poster = threading.Thread(
            target=_procs.post_all, args=(url, [_event(i, prefix) for i in range(events)])
        )
        poster.start()
        _procs.wait_until(
            lambda: _findable(database_url, prefix) >= events, events + 300, "the DOIs", every=0.1
        )
        seconds = time.monotonic() - began
        poster.join()
        _procs.wait_until(lambda: stack.queues_empty(redis), 300, "the queue empty", every=0.1)
        cpu = workers.cpu_seconds() - cpu_before
        (folder / "explain").touch()
        _run_scheduler_once(_probe_env(env, folder))

        def planned() -> bool:
            return any("plans" in json.loads(p.read_text()) for p in folder.glob("*.json"))

        _procs.wait_until(planned, 300, "the plans")
    finally:
        workers.stop()
    statements, plans = _collect(folder)
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "works": size,
        "events": events,
        "events_per_s": round(events / seconds, 1),
        "cpu_ms_per_event": round(1000 * cpu / events, 2),
        "statements": statements,
        "plans": plans,
    }


def _execution_ms(plan: str) -> float | None:
    for line in plan.splitlines():
        if line.startswith("Execution Time:"):
            return float(line.split()[2])
    return None


def findings(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per costly statement: its mean time per call at each size, and at the largest size its
    plan and execution time with the indexes and without them; scans of seeded tables first."""
    largest = runs[-1]
    found = []
    for sql, plans in largest["plans"].items():
        before = plans.get("without", "")
        after = plans["with"]
        means = {}
        for run in runs:
            calls, seconds = run["statements"].get(sql, [0, 0.0])
            if calls:
                means[str(run["works"])] = round(1000 * seconds / calls, 3)
        by_size = {
            str(run["works"]): {
                "with_ms": _execution_ms(run["plans"].get(sql, {}).get("with", "")),
                "without_ms": _execution_ms(run["plans"].get(sql, {}).get("without", "")),
            }
            for run in runs
        }
        found.append({
            "sql": " ".join(sql.split()),
            "seq_scans_without": [t for t in SEEDED if f"Seq Scan on {t}" in before],
            "seq_scans_with": [t for t in SEEDED if f"Seq Scan on {t}" in after],
            "mean_ms": means,
            "explain_ms": by_size,
            "plan_with": after,
            "plan_without": before,
        })  # fmt: skip
    found.sort(key=lambda f: (not f["seq_scans_without"], -max(f["mean_ms"].values(), default=0)))
    return found


def run(quick: bool, sizes: list[int] | None = None, events: int | None = None) -> dict[str, Any]:
    sizes = sizes or ([10_000] if quick else [10_000, 100_000, 1_000_000])
    events = events or (300 if quick else 1000)
    # pidsync's own limiter off too: only pidsync's cost is measured.
    with _procs.scenario(
        "scale", ("--datacite-limit", "0", "--orcid-rate", "0"),
        PIDSYNC_DATACITE_LIMIT_COUNT="100000000", PIDSYNC_DATACITE_LIMIT_WINDOW_SECONDS="1",
    ) as stage:  # fmt: skip
        database_url, redis, env, url = stage.database_url, stage.redis, stage.env, stage.url
        runs = []
        have = 0
        for size in sizes:
            seeded_s = seed(database_url, have, size)
            have = size
            result = measure(url, database_url, redis, env, size, events)
            result["seed_seconds"] = round(seeded_s, 1)
            runs.append(result)
            print(f"scale: {size} works: {result['events_per_s']} events/s, "  # noqa: T201
                  f"{result['cpu_ms_per_event']} ms CPU/event", file=sys.stderr)  # fmt: skip
        return {
            "scenario": "scale",
            "quick": quick,
            "events": events,
            "sizes": sizes,
            "events_per_s": [r["events_per_s"] for r in runs],
            "cpu_ms_per_event": [r["cpu_ms_per_event"] for r in runs],
            "seed_seconds": [r["seed_seconds"] for r in runs],
            "findings": findings(runs),
        }


if __name__ == "__main__":
    args = sys.argv[1:]
    chosen = None
    count = None
    if "--sizes" in args:
        chosen = [int(s) for s in args[args.index("--sizes") + 1].split(",")]
    if "--events" in args:
        count = int(args[args.index("--events") + 1])
    json.dump(run("--quick" in args, chosen, count), sys.stdout, indent=2)
    sys.stdout.write("\n")
