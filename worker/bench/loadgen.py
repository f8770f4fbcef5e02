"""The intake scenario's load generator, in its own process so that its CPU is not the web
process's: ``python -m worker.bench.loadgen URL SECONDS THREADS BATCH PREFIX [RATE]``, with
the intake secret in ``BENCH_INTAKE_SECRET``. Each thread posts signed ``work.published``
batches of BATCH events on a keep-alive session for SECONDS: back to back, or paced so that
all threads together send RATE requests per second, evenly spaced (an open load: latency
without queueing behind our own requests). Paced threads start staggered, one 1/RATE after
the other: started together, the 8 threads sent their requests in bursts of 8 at the same
instant, and most of the latency measured was each request waiting behind the 7 others of
its burst (issue 13: p50 25-30 ms at 1,000 events/s for a request the web answers in ~4 ms).
The result is one JSON line: requests, accepted events, failures, seconds and every request's
latency in ms."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

import requests

from worker.bench.traffic import event, post, work


def _thread(
    url: str,
    secret: str,
    until: float,
    batch: int,
    prefix: str,
    interval: float,
    start_at: float,
    out: dict[str, Any],
) -> None:
    http = requests.Session()
    n = 0
    next_at = start_at
    while time.monotonic() < until:
        if interval:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
        events = [
            event("work.published", f"{prefix}-{n + i}", work(f"{prefix}-{n + i}"))
            for i in range(batch)
        ]
        n += batch
        began = time.perf_counter()
        try:
            answer = post(http, url, events, secret)
        except requests.RequestException:
            out["failures"] += 1
            continue
        out["latencies_ms"].append((time.perf_counter() - began) * 1000)
        out["accepted"] += int(answer.json()["accepted"])


def main(argv: list[str]) -> None:
    url, seconds, threads, batch, prefix = argv[:5]
    rate = float(argv[5]) if len(argv) > 5 else 0.0
    interval = int(threads) / rate if rate else 0.0
    secret = os.environ["BENCH_INTAKE_SECRET"]
    began = time.monotonic()
    until = began + float(seconds)
    results: list[dict[str, Any]] = [
        {"latencies_ms": [], "accepted": 0, "failures": 0} for _ in range(int(threads))
    ]
    workers = [
        threading.Thread(
            target=_thread,
            args=(
                url,
                secret,
                until,
                int(batch),
                f"{prefix}{n}",
                interval,
                began + n * interval / int(threads),
                results[n],
            ),
        )
        for n in range(int(threads))
    ]
    started = time.monotonic()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - started
    latencies = [ms for r in results for ms in r["latencies_ms"]]
    summary = {
        "seconds": elapsed,
        "requests": len(latencies),
        "accepted": sum(r["accepted"] for r in results),
        "failures": sum(r["failures"] for r in results),
        "latencies_ms": latencies,
    }
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
