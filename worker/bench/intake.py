"""intake: how many signed events the web process accepts per second, how fast it answers,
and that every accepted event is stored.

``pidsync web`` (one process) on a fresh database; no workers (the events wait in the queue,
as during a burst). A load generator in another process (:mod:`worker.bench.loadgen`, 8
threads on keep-alive sessions) posts back to back, first single events, then batches of 50
(the capacity: ``events_per_s``, and ``saturated_*`` latencies, which are mostly waiting behind
the other threads' requests), then 1,000 events/s offered as batches of 10 (``p50_ms`` and
``p99_ms``: per request, at the goal's rate). Also the web process's CPU per event,
``durable``: rows in the inbox against events accepted, and /healthz's latency while the
largest allowed batch is stored (``max_batch_*``, ``healthz_*``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import Any

import requests

from worker.bench.measure import percentile, tree_cpu_seconds
from worker.bench.stack import SECRET, Stack
from worker.bench.traffic import event, post, work
from worker.config import Settings

THREADS = 8
BATCH = 50
#: The latency phase: 1,000 events/s (the goal) offered as batches of 10.
PACED_RATE = 1000.0
PACED_BATCH = 10


def _phase(
    url: str, web_pid: int, seconds: float, batch: int, prefix: str, rate: float = 0
) -> dict[str, Any]:
    env = {**Stack.env_base(), "BENCH_INTAKE_SECRET": SECRET}
    command = [sys.executable, "-m", "worker.bench.loadgen", url, str(seconds), str(THREADS)]
    command += [str(batch), prefix, str(rate)]
    before = tree_cpu_seconds(web_pid)
    answer = subprocess.run(  # noqa: S603 - our own interpreter and module
        command, env=env, capture_output=True, text=True, check=True
    )
    cpu = tree_cpu_seconds(web_pid) - before
    result: dict[str, Any] = json.loads(answer.stdout)
    result["web_cpu_s"] = cpu
    return result


def _latency(phase: dict[str, Any], q: float) -> float:
    return round(percentile(phase["latencies_ms"], q), 2)


def _per_event_ms(phase: dict[str, Any]) -> float:
    return round(1000 * float(phase["web_cpu_s"]) / max(1, int(phase["accepted"])), 3)


def run(quick: bool) -> dict[str, Any]:
    seconds = 6.0 if quick else 30.0
    with Stack("intake") as stack:
        env = stack.env(None)
        url = stack.web(env)
        web_pid = stack.web_pid
        _phase(url, web_pid, 1.0, 1, "warm")  # imports, connections, caches
        warm = stack.scalar("SELECT count(*) FROM received_events")
        single = _phase(url, web_pid, seconds, 1, "s")
        batch = _phase(url, web_pid, seconds, BATCH, "b")
        paced = _phase(url, web_pid, seconds, PACED_BATCH, "p", PACED_RATE / PACED_BATCH)
        largest = _largest_batch(url)
        stored = stack.scalar("SELECT count(*) FROM received_events") - warm
    phases = (single, batch, paced)
    accepted = sum(phase["accepted"] for phase in phases) + largest.pop("accepted")
    return {
        "seconds_per_phase": seconds,
        "threads": THREADS,
        "batch_events": BATCH,
        "events_per_s": round(batch["accepted"] / batch["seconds"], 1),
        "p50_ms": _latency(paced, 50),
        "p99_ms": _latency(paced, 99),
        "paced_events_per_s": round(paced["accepted"] / paced["seconds"], 1),
        "saturated_p50_ms": _latency(batch, 50),
        "saturated_p99_ms": _latency(batch, 99),
        "web_cpu_ms_per_event": _per_event_ms(batch),
        "single_events_per_s": round(single["accepted"] / single["seconds"], 1),
        "single_p50_ms": _latency(single, 50),
        "single_p99_ms": _latency(single, 99),
        "single_web_cpu_ms_per_event": _per_event_ms(single),
        "failed_requests": sum(phase["failures"] for phase in phases),
        "accepted": accepted,
        "durable": stored,
        "all_durable": stored == accepted,
        **largest,
    }


def _poll_health(url: str, stop: threading.Event, out: list[float]) -> None:
    with requests.Session() as http:
        while not stop.is_set():
            began = time.perf_counter()
            http.get(url + "/healthz", timeout=30).raise_for_status()
            out.append((time.perf_counter() - began) * 1000)
            time.sleep(0.01)


def _largest_batch(url: str) -> dict[str, Any]:
    """/healthz latency while the largest allowed batch is stored (issue 11: the event loop
    stays free while a batch is checked and written)."""
    size = int(Settings.model_fields["max_batch_events"].default)
    events = [event("work.published", f"max-{n}", work(f"max-{n}")) for n in range(size)]
    samples: list[float] = []
    stop = threading.Event()
    poller = threading.Thread(target=_poll_health, args=(url, stop, samples))
    poller.start()
    try:
        time.sleep(0.2)
        began = time.perf_counter()
        answer = post(requests.Session(), url, events)
        batch_ms = (time.perf_counter() - began) * 1000
        time.sleep(0.2)
    finally:
        stop.set()
        poller.join()
    return {
        "max_batch_events": size,
        "max_batch_ms": round(batch_ms, 1),
        "healthz_p50_during_max_batch_ms": round(percentile(samples, 50), 2),
        "healthz_max_during_max_batch_ms": round(max(samples, default=0.0), 2),
        "accepted": int(answer.json()["accepted"]),
    }
