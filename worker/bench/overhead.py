"""overhead: pidsync's own cost per outbound effect, beside the floor of its bare parts.

Limits and latency off (the sandbox's and pidsync's own limiter). Three researchers authorise
pidsync; then N ``work.published`` events, each a dataset with a DataCite DOI and the three
researchers as contributors, go through the intake: per event one DOI registration and three
ORCID placements (4 effects). The worker (``pidsync worker``: 1 process x 8 threads) is warmed
up with one such event first; its CPU (every process of its tree, user + system) is counted
from after the warm-up until every DOI is findable, every placement placed and the queue is
empty. PostgreSQL's transactions and rows and Redis' commands are counted over the same span.

In the same run, before and after pidsync's, the floors (:mod:`worker.bench.floor`), each by
a dramatiq worker of the same shape against the same sandbox, each the mean of its two
measurements: ``floor_cpu_ms_per_effect``, the bare floor (M bare messages, each a committed
one-row insert and a keep-alive ``requests`` call: the issue's yardstick), and
``design_floor_cpu_ms_per_effect``, the design floor (N events through the least that
pidsync's promises take, written with the same bare parts: its rows, locks, records and
notifications, and nothing else). ``ratio_to_design_floor`` is how much pidsync's own code
adds to what its promises cost.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dramatiq
import redis
import requests
import sqlalchemy

from worker.bench import floor
from worker.bench.measure import (
    PgCounters,
    delta,
    redis_calls_by_command,
    tree_cpu_seconds,
    wait_until,
)
from worker.bench.stack import Stack, stop_process
from worker.bench.traffic import authorize, event, post, work

AUTHORS = 3
EFFECTS_PER_EVENT = 1 + AUTHORS
THREADS = 8
BATCH = 100


def _answered(sandbox: Any) -> int:
    """Agency requests the sandbox answered with a 2xx so far (a DOI's PUT, a work's POST)."""
    counters = sandbox.control("GET", "/requests")
    return sum(
        count
        for service in counters.values()
        for status, count in service["by_status"].items()
        if status.startswith("2")
    )


def _done(stack: Stack, events: int) -> bool:
    findable = stack.scalar("SELECT count(*) FROM doi_registrations WHERE state = 'findable'")
    placed = stack.scalar("SELECT count(*) FROM orcid_placements WHERE state = 'placed'")
    return findable >= events and placed >= AUTHORS * events and stack.queue_empty()


def _profiler(pid: int) -> subprocess.Popen[bytes] | None:
    """With ``BENCH_PROFILE=FILE``: py-spy samples the worker tree over the measured span
    (collapsed stacks, for flame graphs). It costs CPU of its own: profile, then measure."""
    target = os.environ.get("BENCH_PROFILE")
    if not target:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [spy, "record", "--subprocesses", "--pid", str(pid), "--format", "raw"]
    command += ["--rate", "200", "--nonblocking", "--gil", "--output", target]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 - py-spy
    time.sleep(1.0)  # attached before the events arrive
    return process


def _pidsync(stack: Stack, sandbox: Any, events: int) -> dict[str, Any]:
    env = stack.env(
        sandbox,
        PIDSYNC_DATACITE_LIMIT_COUNT="100000000",
        PIDSYNC_DATACITE_LIMIT_WINDOW_SECONDS="1",
        PIDSYNC_ORCID_LIMIT_RATE="100000",
        PIDSYNC_ORCID_LIMIT_BURST="1000",
    )
    url = stack.web(env)
    workers = stack.workers(env, processes=1, threads=THREADS)
    http = requests.Session()
    orcids = tuple(
        sandbox.control("POST", "/orcid/researchers", {"given_names": "R", "family_name": str(n)})[
            "orcid"
        ]
        for n in range(AUTHORS)
    )
    for n, orcid in enumerate(orcids):
        authorize(http, url, sandbox, orcid, f"grant-{n}")
    # Warm-up: one event end to end (imports, connections, prepared caches).
    post(http, url, [event("work.published", "warm", work("warm", orcids=orcids, datacite=True))])
    wait_until("the warm-up event", lambda: _done(stack, 1), 180)
    pg = PgCounters(stack.database_url)
    redis_client = redis.Redis.from_url(stack.redis_url)
    pg_before, redis_before = pg.snapshot(), redis_calls_by_command(redis_client)
    answered, effects = _answered(sandbox), events * EFFECTS_PER_EVENT
    cpu_before = tree_cpu_seconds(workers.pid)
    profiler = _profiler(workers.pid)
    started = time.monotonic()
    for first in range(0, events, BATCH):
        batch = [
            event("work.published", f"e-{n}", work(f"ds-{n}", orcids=orcids, datacite=True))
            for n in range(first, min(first + BATCH, events))
        ]
        post(http, url, batch)
    # Progress is followed at the sandbox until every effect was answered, then in the
    # database and the queues: polled every 0.1 s all along, the counts and queue depths were
    # about 2 of the 12 transactions, most of the 2,300 rows read and a tenth of the Redis
    # commands reported per event for pidsync over 1,000 events.
    wait_until(
        "every effect answered", lambda: _answered(sandbox) - answered >= effects, 60 + events
    )
    wait_until("every effect", lambda: _done(stack, events + 1), 60)
    seconds = time.monotonic() - started
    cpu = tree_cpu_seconds(workers.pid) - cpu_before
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its file and exits
        profiler.wait(60)
    redis_after = redis_calls_by_command(redis_client)
    redis_used = {k: v - redis_before.get(k, 0) for k, v in redis_after.items()}
    pg_delta = delta(pg.snapshot(), pg_before)
    stop_process(workers)
    return {
        "events": events,
        "effects": effects,
        "seconds": round(seconds, 2),
        "events_per_s": round(events / seconds, 1),
        "cpu_ms_per_event": round(1000 * cpu / events, 3),
        "cpu_ms_per_effect": round(1000 * cpu / effects, 3),
        # The web process and this one write too; the worker's share dominates.
        "pg_xacts_per_event": round(
            (pg_delta["xact_commit"] + pg_delta["xact_rollback"]) / events, 1
        ),
        "pg_rows_written_per_event": round(
            (pg_delta["tup_inserted"] + pg_delta["tup_updated"] + pg_delta["tup_deleted"]) / events,
            1,
        ),
        "pg_rows_read_per_event": round(pg_delta["tup_fetched"] / events, 1),
        "redis_commands_per_event": round(sum(redis_used.values()) / events, 1),
        # The five commands used most, per event: where the round trips go.
        "redis_top_commands_per_event": {
            name: round(count / events, 1)
            for name, count in sorted(redis_used.items(), key=lambda kv: -kv[1])[:5]
        },
    }


def _floor(stack: Stack, events: int, http_url: str, *, design: bool = False) -> float:
    """CPU ms per effect of the floor's worker: ``events`` x 4 bare messages, or with
    ``design`` the design floor's ``events`` events (4 effects each)."""
    engine = sqlalchemy.create_engine(stack.database_url)
    floor.create_table(engine)  # each measurement starts from empty tables
    broker = floor.broker_for(stack.redis_url)
    broker.declare_queue(floor.QUEUE)
    effects = events * EFFECTS_PER_EVENT

    def send(first: int, count: int) -> None:
        if design:
            floor.seed_inbox(engine, first, count)
        for number in range(first, first + count):
            message: Any = dramatiq.Message(
                queue_name=floor.QUEUE,
                actor_name="event" if design else "effect",
                args=(number,),
                kwargs={},
                options={},
            )
            broker.enqueue(message)

    def done() -> int:
        with engine.connect() as conn:
            count = conn.exec_driver_sql(floor.DESIGN_DONE if design else floor.COUNT)
            return int(count.scalar_one())

    env = {**stack.env_base(), **floor.environment(stack.database_url, stack.redis_url, http_url)}
    command = [sys.executable, "-m", "dramatiq", "worker.bench.floor"]
    command += ["--processes", "1", "--threads", str(THREADS), "--queues", floor.QUEUE]
    process = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603
    warm = EFFECTS_PER_EVENT if design else 1
    try:
        send(0, 1)
        wait_until("the floor's warm-up", lambda: done() >= warm, 120)
        before = tree_cpu_seconds(process.pid)
        send(1, events if design else effects)
        wait_until("the floor's messages", lambda: done() >= effects + warm, 60 + effects)
        cpu = tree_cpu_seconds(process.pid) - before
    finally:
        stop_process(process)
        engine.dispose()
    return 1000 * cpu / effects


def run(quick: bool) -> dict[str, Any]:
    """pidsync's run between two measurements of each floor: this machine's speed drifts by
    a fifth and more within minutes (other tenants of the host), and a floor measured only
    after pidsync's run moved the ratio by as much as the changes it was meant to show."""
    events = 100 if quick else 1000
    with Stack("overhead") as stack:
        sandbox = stack.sandbox()
        http_url = sandbox.info["control_url"] + "/limits"
        floor_before = _floor(stack, events, http_url)
        design_before = _floor(stack, events, http_url, design=True)
        figures = _pidsync(stack, sandbox, events)
        design_after = _floor(stack, events, http_url, design=True)
        floor_after = _floor(stack, events, http_url)
    floor_ms = (floor_before + floor_after) / 2
    design_ms = (design_before + design_after) / 2
    figures["floor_cpu_ms_per_effect"] = round(floor_ms, 3)
    figures["floor_before_cpu_ms_per_effect"] = round(floor_before, 3)
    figures["floor_after_cpu_ms_per_effect"] = round(floor_after, 3)
    figures["ratio_to_floor"] = round(figures["cpu_ms_per_effect"] / floor_ms, 2)
    figures["design_floor_cpu_ms_per_effect"] = round(design_ms, 3)
    figures["design_floor_before_cpu_ms_per_effect"] = round(design_before, 3)
    figures["design_floor_after_cpu_ms_per_effect"] = round(design_after, 3)
    figures["ratio_to_design_floor"] = round(figures["cpu_ms_per_effect"] / design_ms, 2)
    return figures
