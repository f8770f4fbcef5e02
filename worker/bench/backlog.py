"""Scenario **backlog**: 100,000 events (``--quick``: 5,000; ``--events N``) queued at once, then
drained: the memory of every process (web, each worker process, scheduler) sampled over time.

1. queue: the workers are stopped; the events are posted to the intake (batches of 100), so the
   whole backlog sits in the inbox and in Redis;
2. drain: the workers (2 processes x 4 threads, as ``pidsync worker``) start and register every
   DOI at the sandbox (limits and latency off: what is measured is pidsync, not the agency).

Reports ``peak_rss_mb`` per process, the RSS of each at 10 %, 50 % and 100 % of the drain, Redis'
memory at the start and end of the drain, ``drain_seconds`` and, beside it, the time DataCite's
real limit (3,000 requests per 5 minutes per repository) would need for as many DOIs: the drain
is bounded by the agency when pidsync's own drain is shorter.

    python -m worker.bench.backlog [--quick] [--events N] [--plot PNG]
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from worker.bench import _procs

DATACITE_PER_S = 3000 / 300  # DataCite's real limit


def _count(database_url: str, sql: str) -> int:
    return int(_procs.scalar(database_url, sql))


def _at_fraction(
    progress: list[tuple[float, int]], samples: list[tuple[float, dict[str, float]]], share: float
) -> dict[str, float]:
    """Each process's RSS at the first sample once ``share`` of the events were done."""
    total = progress[-1][1]
    when = next(t for t, done in progress if done >= share * total)
    return next((sizes for t, sizes in samples if t >= when), samples[-1][1])


def _redis_mb(url: str) -> float:
    import redis

    used = redis.Redis.from_url(url).info("memory")["used_memory"]
    return round(int(used) / 2**20, 1)


def run(quick: bool, events: int | None = None) -> dict[str, Any]:
    n = events or (5_000 if quick else 100_000)
    with _procs.scenario(
        "backlog", ("--datacite-limit", "0", "--orcid-rate", "0"),
        PIDSYNC_DATACITE_LIMIT_COUNT="100000000", PIDSYNC_DATACITE_LIMIT_WINDOW_SECONDS="1",
    ) as stage:  # fmt: skip
        database_url, redis, env, web, url = (
            stage.database_url,
            stage.redis,
            stage.env,
            stage.web,
            stage.url,
        )
        scheduler = _procs.start_scheduler(env)
        stage.procs.append(scheduler)
        sampler = _procs.RssSampler([web, scheduler]).start()

        began = time.monotonic()
        data = {"registration": {"registrar": "datacite"}}
        _procs.post_all(url, (_procs.work_event(i, "bl", _procs.dataset(i, "bl", **data))
                              for i in range(n)))  # fmt: skip
        queue_seconds = time.monotonic() - began
        redis_start = _redis_mb(redis)

        workers = _procs.start_workers(env, processes=2, threads=4)
        stage.procs.append(workers)
        sampler.procs.append(workers)
        drain_began = time.monotonic()
        drained_at = drain_began - sampler.started  # on the sampler's clock
        done_sql = "SELECT count(*) FROM doi_registrations WHERE state = 'findable'"
        progress: list[tuple[float, int]] = []

        def drained() -> bool:
            done = _count(database_url, done_sql)
            progress.append((time.monotonic() - sampler.started, done))
            return done >= n

        _procs.wait_until(drained, n + 600, f"{n} DOIs", every=1.0)
        drain_seconds = time.monotonic() - drain_began
        cpu_s = workers.cpu_seconds()
        redis_end = _redis_mb(redis)
        sampler.stop()
        drain = [(t, d) for t, d in progress if t >= drained_at]
        samples = [(t, s) for t, s in sampler.samples if t >= drained_at]
        return {
            "scenario": "backlog",
            "quick": quick,
            "events": n,
            "queue_seconds": round(queue_seconds, 1),
            "intake_events_per_s": round(n / queue_seconds, 1),
            "drain_seconds": round(drain_seconds, 1),
            "drain_events_per_s": round(n / drain_seconds, 1),
            "limit_bound_seconds": round(n / DATACITE_PER_S, 1),
            "worker_cpu_ms_per_event": round(1000 * cpu_s / n, 2),
            "peak_rss_mb": sampler.peak(),
            "rss_mb_at_10": _at_fraction(drain, samples, 0.1),
            "rss_mb_at_50": _at_fraction(drain, samples, 0.5),
            "rss_mb_at_100": samples[-1][1],
            "redis_mb_queued": redis_start,
            "redis_mb_drained": redis_end,
            "rss_series": [[round(t, 1), s] for t, s in sampler.samples],
            "drain_series": [[round(t, 1), d] for t, d in progress],
        }


if __name__ == "__main__":
    args = sys.argv[1:]
    count = int(args[args.index("--events") + 1]) if "--events" in args else None
    result = run("--quick" in args, count)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
