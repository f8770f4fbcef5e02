"""Scenario **crossref-latency**: seconds from a ``work.published`` event's 202 to its Crossref
DOI registered, three ways.

Everything is real but the agency: the sandbox with its default processing time (2 s queued +
2 s in process), PostgreSQL and Redis, the signed HTTP intake, ``pidsync web`` (Crossref's
callbacks reach it) and dramatiq workers, each a child process. Default settings otherwise, so
the 5 s coalescing window (``PIDSYNC_CROSSREF_BATCH_WINDOW_SECONDS``) is part of every figure.

1. **before**: the old poll schedule (first poll 60 s after the upload), no callback;
2. **polling**: the default schedule (5, 10, 30, ... s), no callback;
3. **callback**: the default schedule, and Crossref's notification callback.

Each way runs its own web and worker processes against the one sandbox and database, timed
once an untimed event shows its workers up (the first way's is an article, so that the sandbox
compiles Crossref's XSD outside every figure; the others' a DataCite dataset). Events are sent
one at a time, each waiting for its DOI. Full: polling and callback 3 events each, before 2;
``--quick``: callback, one event (the old schedule alone takes over a minute an event).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

from worker.bench import _procs
from worker.bench.stack import Stack, free_port, spawn, start_web, stop_process, worker_command

OLD_SCHEDULE = "60,120,300,600,1200,1800,3600"
CALLBACK_SECRET = "bench-callback-" + "s" * 24
TIMEOUT_S = 300.0


def _article(n: int, prefix: str) -> dict[str, Any]:
    return _procs.work_event(
        n,
        prefix,
        {
            "id": f"{prefix}-{n}",
            "type": "journal-article",
            "title": f"Benchmark article {prefix} {n}",
            "publisher": "Bench University Press",
            "publication_date": "2026-01-15",
            "url": f"https://journal.bench.example.edu/{prefix}-{n}",
            "container": {"title": "Journal of Benchmarks", "volume": "1", "issue": "1"},
            "registration": {"registrar": "crossref"},
            "contributors": [{"given": "Ada", "family": "Lovelace"}],
        },
    )


def _registered(stack: Stack, external_id: str) -> bool:
    sql = (
        "SELECT count(*) FROM doi_registrations r JOIN works w ON w.id = r.work_id "
        "WHERE w.external_id = %s AND r.state = 'registered'"
    )
    return bool(_procs.scalar(stack.database_url, sql, (external_id,)))


def _handled(stack: Stack, event_id: str) -> bool:
    sql = "SELECT count(*) FROM received_events WHERE event_id = %s AND status = 'done'"
    return bool(_procs.scalar(stack.database_url, sql, (event_id,)))


def _way(
    stack: Stack, base_env: dict[str, str], way: str, events: int, *, warm_up: bool
) -> list[float]:
    """Web and workers with ``way``'s settings; the seconds each event took."""
    port = free_port()
    env = dict(base_env)
    if way == "before":
        env["PIDSYNC_CROSSREF_POLL_SCHEDULE"] = OLD_SCHEDULE
    if way == "callback":
        env["PIDSYNC_CROSSREF_NOTIFY_URL"] = (
            f"http://127.0.0.1:{port}/webhooks/crossref/{CALLBACK_SECRET}"
        )
        env["PIDSYNC_CROSSREF_NOTIFY_ENDPOINT"] = "bench.1"
    web, url = start_web(env, port=port)
    workers = spawn(worker_command(1, 4), env)
    try:
        if warm_up:
            # An untimed article first: the sandbox compiles Crossref's XSD at its first
            # deposit, and the workers are up once its DOI is registered.
            _procs.post(url, [_article(0, f"warmup-{way}")])
            _procs.wait_until(
                lambda: _registered(stack, f"warmup-{way}-0"), TIMEOUT_S, "the warm-up DOI"
            )
        else:
            # An untimed DataCite dataset: the workers are up once it is handled (dramatiq
            # takes seconds to boot, no part of any figure).
            probe = _procs.work_event(0, f"probe-{way}", _procs.dataset(0, f"probe-{way}"))
            _procs.post(url, [probe])
            _procs.wait_until(
                lambda: _handled(stack, f"probe-{way}-0"), TIMEOUT_S, f"{way}: the workers up"
            )
        figures = []
        for n in range(events):
            _procs.post(url, [_article(n, way)])
            started = time.monotonic()
            _procs.wait_until(
                lambda n=n: _registered(stack, f"{way}-{n}"),  # type: ignore[misc]
                TIMEOUT_S,
                f"{way}: the DOI of {way}-{n} registered",
                every=0.02,
            )
            figures.append(time.monotonic() - started)
        return figures
    finally:
        stop_process(workers)
        stop_process(web)


def run(quick: bool) -> dict[str, Any]:
    # The first way warms the sandbox up: polling, whose warm-up event is fast (before's waits
    # a minute for its first poll).
    ways = {"callback": 1} if quick else {"polling": 3, "callback": 3, "before": 2}
    figures: dict[str, Any] = {}
    with Stack("crossref-latency") as stack:
        sandbox = stack.sandbox()
        env = stack.env(sandbox, PIDSYNC_ENV="production")
        for i, (way, events) in enumerate(ways.items()):
            seconds = _way(stack, env, way, events, warm_up=i == 0)
            figures[f"{way}_events"] = len(seconds)
            figures[f"{way}_median_s"] = round(statistics.median(seconds), 2)
            figures[f"{way}_min_s"] = round(min(seconds), 2)
            figures[f"{way}_max_s"] = round(max(seconds), 2)
    return figures


if __name__ == "__main__":
    json.dump(run("--quick" in sys.argv), sys.stdout, indent=2)
    sys.stdout.write("\n")
