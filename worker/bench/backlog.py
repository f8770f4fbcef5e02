"""Scenario **backlog**: 100,000 events (``--quick``: 300; ``--events N``) queued at once, then
drained: the memory of every process (web, each worker process, scheduler) sampled over time.

1. queue: the workers are stopped; the events are posted to the intake (batches of 100), so the
   whole backlog sits in the inbox and in Redis;
2. drain: the workers (2 processes x 4 threads, as ``pidsync worker``) start and register every
   DOI at the sandbox. The full run keeps DataCite's real limit on (3,000 requests per 5 minutes,
   the sandbox enforcing it, pidsync's limiter planning for it): the drain is measured against
   the limit. ``--quick`` turns the limits off (pidsync's own drain, in under a minute);
   ``--limits on|off`` chooses either way.

Reports ``peak_rss_mb`` per process, each process's RSS at several backlog sizes (events still
unread: ``rss_mb_by_backlog``) and at 10 %, 50 % and 100 % of the DOIs, ``drain_seconds``
beside the time DataCite's limit needs for as many DOIs, and how soon DOIs flowed while the
backlog was read (``first_doi_seconds``, ``events_read_before_first_doi``: effects have a queue
of their own). ``--max-seconds S`` ends the drain after S seconds and reports what it reached
(``complete`` false, ``events_read``, ``dois_registered`` and their rates).

    python -m worker.bench.backlog [--quick] [--events N] [--limits on|off] [--max-seconds S]
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from worker.bench import _procs

DATACITE_PER_S = 3000 / 300  # DataCite's real limit


def _at_fraction(
    progress: list[tuple[float, int, int]],
    samples: list[tuple[float, dict[str, float]]],
    share: float,
    total: int,
) -> dict[str, float] | None:
    """Each process's RSS at the first sample once ``share`` of the DOIs were registered."""
    when = next((t for t, _read, dois in progress if dois >= share * total), None)
    if when is None:
        return None
    return next((sizes for t, sizes in samples if t >= when), samples[-1][1])


def _by_backlog(
    progress: list[tuple[float, int, int]], samples: list[tuple[float, dict[str, float]]], n: int
) -> dict[str, dict[str, float]]:
    """Each process's RSS when the unread backlog first fell to 100 %, 80 %, ... 0 % of ``n``
    (the sizes the drain reached)."""
    out: dict[str, dict[str, float]] = {}
    for share in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0):
        left = int(n * share)
        # From the first event read: before it, the workers are still booting.
        when = next((t for t, read, _d in progress if read > 0 and n - read <= left), None)
        if when is not None:
            out[str(left)] = next((sizes for t, sizes in samples if t >= when), samples[-1][1])
    return out


def _redis_mb(url: str) -> float:
    import redis

    used = redis.Redis.from_url(url).info("memory")["used_memory"]
    return round(int(used) / 2**20, 1)


PROGRESS_SQL = (
    "SELECT (SELECT count(*) FROM received_events WHERE status <> 'received'),"
    " (SELECT count(*) FROM doi_registrations WHERE state = 'findable')"
)
#: Events already read when DataCite got its first PUT (from the database, not the clocks).
READ_BEFORE_FIRST_DOI_SQL = (
    "SELECT count(*) FROM received_events WHERE handled_at <"
    " (SELECT min(created_at) FROM api_calls WHERE service = 'datacite')"
)


def run(
    quick: bool,
    events: int | None = None,
    *,
    limits: bool | None = None,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    n = events or (300 if quick else 100_000)
    limited = (not quick) if limits is None else limits
    if limited:  # DataCite's real rule at the sandbox; pidsync's own limiter plans for it
        sandbox_options: tuple[str, ...] = ("--orcid-rate", "0")
        settings: dict[str, str] = {}
    else:
        sandbox_options = ("--datacite-limit", "0", "--orcid-rate", "0")
        settings = {"PIDSYNC_DATACITE_LIMIT_COUNT": "100000000",
                    "PIDSYNC_DATACITE_LIMIT_WINDOW_SECONDS": "1"}  # fmt: skip
    with _procs.scenario("backlog", sandbox_options, **settings) as stage:
        database_url, redis, env, web, url = (
            stage.database_url,
            stage.redis,
            stage.env,
            stage.web,
            stage.url,
        )
        scheduler = _procs.start_scheduler(env)
        stage.procs.append(scheduler)
        sampler = _procs.RssSampler([web, scheduler], every=0.5 if quick else 2.0).start()

        began = time.monotonic()
        data = {"registration": {"registrar": "datacite"}}
        while_queueing: dict[str, dict[str, float]] = {}

        def backlog() -> Iterator[dict[str, Any]]:
            for i in range(n):
                if i and i % max(n // 5, 1) == 0:  # the web's memory as the backlog grows
                    while_queueing[str(i)] = sampler.sample()
                yield _procs.work_event(i, "bl", _procs.dataset(i, "bl", **data))

        _procs.post_all(url, backlog())
        queue_seconds = time.monotonic() - began
        redis_start = _redis_mb(redis)
        while_queueing[str(n)] = rss_queued = sampler.sample()

        workers = _procs.start_workers(env, processes=2, threads=4)
        stage.procs.append(workers)
        sampler.procs.append(workers)
        drain_began = time.monotonic()
        drained_at = drain_began - sampler.started  # on the sampler's clock
        progress: list[tuple[float, int, int]] = []

        def drained() -> bool:
            read, dois = _procs.row(database_url, PROGRESS_SQL)
            progress.append((time.monotonic() - sampler.started, int(read), int(dois)))
            if max_seconds is not None and time.monotonic() - drain_began >= max_seconds:
                return True
            return int(dois) >= n

        _procs.wait_until(drained, n + 600 if max_seconds is None else max_seconds + 60,
                          f"{n} DOIs", every=1.0 if quick else 2.0)  # fmt: skip
        ended = time.monotonic() - sampler.started
        cpu_s = workers.cpu_seconds()
        redis_end = _redis_mb(redis)
        read_first = int(_procs.scalar(database_url, READ_BEFORE_FIRST_DOI_SQL) or 0)
        sampler.stop()
        _t, events_read, dois = progress[-1]
        drain = [p for p in progress if p[0] >= drained_at]
        samples = [(t, s) for t, s in sampler.samples if t >= drained_at]
        # The drain counts from the first event read: the workers' boot (imports, connections:
        # seconds on a loaded machine) is reported apart.
        first_read = next((t for t, r, _d in drain if r > 0), ended)
        drain_seconds = max(ended - first_read, 1e-3)
        first_doi = next((t - first_read for t, _r, d in drain if d > 0), None)
        return {
            "scenario": "backlog",
            "quick": quick,
            "events": n,
            "limits": limited,
            "complete": dois >= n,
            "queue_seconds": round(queue_seconds, 1),
            "intake_events_per_s": round(n / queue_seconds, 1),
            "worker_boot_seconds": round(first_read - drained_at, 1),
            "drain_seconds": round(drain_seconds, 1),
            "events_read": events_read,
            "dois_registered": dois,
            "events_read_per_s": round(events_read / drain_seconds, 2),
            "dois_per_s": round(dois / drain_seconds, 2),
            "limit_rps": DATACITE_PER_S if limited else None,
            "limit_bound_seconds": round(n / DATACITE_PER_S, 1),
            "first_doi_seconds": round(first_doi, 1) if first_doi is not None else None,
            "events_read_before_first_doi": read_first,
            "worker_cpu_ms_per_event": round(1000 * cpu_s / max(events_read, 1), 2),
            "peak_rss_mb": sampler.peak(),
            "rss_mb_queued": rss_queued,
            "rss_mb_while_queueing": while_queueing,
            "rss_mb_by_backlog": _by_backlog(drain, samples, n),
            "rss_mb_at_10": _at_fraction(drain, samples, 0.1, n),
            "rss_mb_at_50": _at_fraction(drain, samples, 0.5, n),
            "rss_mb_at_100": samples[-1][1],
            "redis_mb_queued": redis_start,
            "redis_mb_drained": redis_end,
            "rss_series": [[round(t, 1), s] for t, s in sampler.samples],
            "drain_series": [[round(t, 1), d] for t, _r, d in progress],
            "read_series": [[round(t, 1), r] for t, r, _d in progress],
        }


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


if __name__ == "__main__":
    args = sys.argv[1:]
    count, limits_on, cutoff = (_option(args, o) for o in ("--events", "--limits", "--max-seconds"))
    result = run(
        "--quick" in args,
        int(count) if count else None,
        limits=None if limits_on is None else limits_on == "on",
        max_seconds=float(cutoff) if cutoff else None,
    )
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
