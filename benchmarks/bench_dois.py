"""DOI registration throughput: the DataCite rate limit, and the worker's cost per event.

Everything is real but the agency: the sandbox (in this process, over HTTP), PostgreSQL and
Redis (the machine's, as the tests use them), the signed HTTP intake (uvicorn in this
process), and a dramatiq worker in a separate process that reports its own
``time.process_time()``.

1. **Rate limit.** The sandbox enforces DataCite's real 3,000 requests per 5 minutes (a fixed
   window per repository account). Enough ``work.published`` events are posted to keep DataCite
   busy for the whole window; the DataCite requests in the first full window are counted at the
   sandbox, with its 429 count. ``--window 300`` (the default) measures the real 5 minutes;
   a shorter ``--window`` scales the sandbox's limit and pidsync's limiter together
   (3,000 x window / 300: the same 10 requests/s).
2. **Throughput and CPU.** Limits and latency off: N events through intake until every DOI is
   findable at DataCite (events/s), and the worker process's CPU time (user + system, all its
   threads) per event, counted from after its boot until its queue is empty (the webhooks it
   records included).

    .venv/bin/python benchmarks/bench_dois.py [--window 300] [--events 2000] [--threads 8]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import requests

SOURCE = "https://cris.bench.example.edu"
CLIENT = "bench"
SECRET = "bench-intake-secret"
ADMIN_URL = os.environ.get(
    "PIDSYNC_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PIDSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/") + "/15"
DATABASE = "pidsync_bench_dois"


# --- the worker process ------------------------------------------------------------------------


def run_worker(threads: int) -> None:
    """``bench_dois.py --as-worker``: boot, run a dramatiq worker, answer CPU-time requests.

    A middleware adds up each message's thread CPU time by actor, so the total can be split
    into the actors' own work and the rest (fetching, acking, heartbeats, idle polling)."""
    import dramatiq
    from dramatiq.middleware import Middleware

    from worker.bootstrap import boot

    per_actor: dict[str, list[float]] = {}
    local = threading.local()

    class ActorCpu(Middleware):
        def before_process_message(self, broker: Any, message: Any) -> None:
            local.started = time.thread_time()

        def after_process_message(
            self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
        ) -> None:
            spent = time.thread_time() - getattr(local, "started", time.thread_time())
            entry = per_actor.setdefault(message.actor_name, [0, 0.0])
            entry[0] += 1
            entry[1] += spent

    runtime = boot(migrate=False)
    runtime.broker.add_middleware(ActorCpu())
    worker = dramatiq.Worker(runtime.broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    print(json.dumps({"ready": True, "cpu": time.process_time()}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "cpu":
            per_actor.clear()
            print(json.dumps({"cpu": time.process_time()}), flush=True)
        elif command == "stop":
            worker.stop()
            print(json.dumps({"cpu": time.process_time(), "actors": per_actor}), flush=True)
            return


class WorkerProcess:
    def __init__(self, env: dict[str, str], threads: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--as-worker", "--threads", str(threads)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ready = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the worker process exited")
        return json.loads(line)

    def cpu(self) -> float:
        assert self.process.stdin is not None
        self.process.stdin.write("cpu\n")
        self.process.stdin.flush()
        return float(self._read()["cpu"])

    def stop(self) -> tuple[float, dict[str, list[float]]]:
        """The process's CPU seconds, and (messages, CPU seconds) per actor since ``cpu()``."""
        assert self.process.stdin is not None
        self.process.stdin.write("stop\n")
        self.process.stdin.flush()
        answer = self._read()
        self.process.wait(timeout=60)
        return float(answer["cpu"]), answer["actors"]


# --- the environment -----------------------------------------------------------------------


def fresh_database() -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    from worker.migrate import upgrade

    admin = make_url(ADMIN_URL)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    url = admin.set(database=DATABASE).render_as_string(hide_password=False)
    upgrade(url)
    return url


def environment(sandbox: Any, database_url: str, limit: int, window: float) -> dict[str, str]:
    env = dict(os.environ)
    env.update(sandbox.info()["env"])
    env.update(
        {
            "PIDSYNC_ENV_FILE": "/dev/null",
            "PIDSYNC_ENV": "production",
            "PIDSYNC_LOG_LEVEL": "WARNING",
            "PIDSYNC_DATABASE_URL": database_url,
            "PIDSYNC_REDIS_URL": REDIS_URL,
            "PIDSYNC_INTAKE_CLIENTS": f"{CLIENT}:{SECRET}",
            "PIDSYNC_DATACITE_LIMIT_COUNT": str(limit),
            "PIDSYNC_DATACITE_LIMIT_WINDOW_SECONDS": str(window),
        }
    )
    return env


def start_web(env: dict[str, str]) -> tuple[Any, str]:
    import uvicorn

    from worker.bootstrap import boot
    from worker.config import load_settings
    from worker.web.app import create_app

    settings = load_settings(
        _env_file=None,
        **{
            k.removeprefix("PIDSYNC_").lower(): v
            for k, v in env.items()
            if k.startswith("PIDSYNC_")
        },
    )
    runtime = boot(settings, migrate=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning",
                       log_config=None)
    )  # fmt: skip
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return runtime, f"http://127.0.0.1:{port}"


def reset(runtime: Any, redis_client: Any) -> None:
    with runtime.database.engine.begin() as conn:
        conn.exec_driver_sql(
            "TRUNCATE received_events, crossref_deposit_records, crossref_deposits, "
            "doi_registrations, api_calls, outbound_notifications, dead_letters, works "
            "RESTART IDENTITY CASCADE"
        )
    redis_client.flushdb()


def post_events(url: str, first: int, count: int, batch: int = 100) -> None:
    from worker.events.signature import sign

    with requests.Session() as http:
        for start in range(first, first + count, batch):
            events = [
                {
                    "specversion": "1.0",
                    "id": f"e-{n}",
                    "source": SOURCE,
                    "type": "work.published",
                    "datacontenttype": "application/json",
                    "data": {
                        "id": f"ds-{n}",
                        "type": "dataset",
                        "title": f"Benchmark dataset {n}",
                        "publisher": "Bench University",
                        "publication_date": "2026-01-15",
                        "url": f"https://repo.bench.example.edu/ds-{n}",
                        "registration": {"registrar": "datacite"},
                        "contributors": [{"given": "Ada", "family": "Lovelace"}],
                    },
                }
                for n in range(start, min(start + batch, first + count))
            ]
            body = json.dumps(events).encode()
            answer = http.post(
                f"{url}/events",
                data=body,
                headers={
                    "Content-Type": "application/cloudevents-batch+json",
                    "Pidsync-Client": CLIENT,
                    "Pidsync-Signature": sign(SECRET, body),
                },
                timeout=60,
            )
            answer.raise_for_status()


def count(runtime: Any, sql: str) -> int:
    with runtime.database.engine.connect() as conn:
        return int(conn.exec_driver_sql(sql).scalar_one())


def queue_empty(redis_client: Any) -> bool:
    keys = ("pidsync:pidsync", "pidsync:pidsync.DQ")
    return all(redis_client.llen(k) == 0 for k in keys) and not redis_client.hlen(
        "pidsync:pidsync.msgs"
    )


# --- 1. the DataCite rate limit ------------------------------------------------------------------


def measure_rate(
    sandbox: Any, runtime: Any, url: str, database_url: str, window: float, threads: int
) -> None:
    import redis

    from worker.config import DataciteSettings

    limit = round(3000 * window / 300)
    sandbox.reset()
    sandbox.set_limits(datacite={"limit": limit, "window_seconds": window})
    env = environment(sandbox, database_url, limit, window)
    redis_client = redis.Redis.from_url(REDIS_URL)
    reset(runtime, redis_client)
    events = math.ceil(limit * 1.08)
    shape = DataciteSettings(limit_count=limit, limit_window_seconds=window).limit
    print(f"\n1. DataCite rate limit: the sandbox allows {limit} requests per {window:g} s "
          f"({limit / window:.2f}/s); pidsync's shared limiter {shape.rate:.2f}/s, burst "
          f"{shape.burst} (at most {shape.burst + shape.rate * window:.0f} in any window)")  # fmt: skip

    def datacite() -> dict[str, Any]:
        return sandbox.state()["requests"]["datacite"]

    first: list[float] = []

    def watch() -> None:  # the sandbox's first window starts with the first request
        while datacite()["total"] == 0:
            time.sleep(0.002)
        first.append(time.monotonic())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    worker = WorkerProcess(env, threads)
    post_events(url, 0, events)
    print(f"   {events} work.published events accepted by the intake")
    watcher.join()
    started = first[0]
    time.sleep(max(0.0, started + window - 0.1 - time.monotonic()))
    in_window = datacite()["total"]
    elapsed = time.monotonic() - started
    print(f"   first window: {in_window} DataCite requests in {elapsed:.1f} s = "
          f"{in_window / elapsed:.2f}/s = {100 * in_window / limit:.1f} % of the limit")  # fmt: skip
    time.sleep(min(10.0, window / 10))  # into the next window: no 429 at the boundary either
    state = datacite()
    print(f"   429s answered by the sandbox during the run: {state['rate_limited']} "
          f"(statuses {state['by_status']})")  # fmt: skip
    worker.stop()
    findable = count(runtime, "SELECT count(*) FROM doi_registrations WHERE state = 'findable'")
    print(f"   DOIs findable when stopped: {findable}")


# --- 2. throughput and CPU -----------------------------------------------------------------------


def measure_throughput(
    sandbox: Any, runtime: Any, url: str, database_url: str, events: int, threads: int
) -> None:
    import redis

    sandbox.reset()
    sandbox.set_limits(datacite={"limit": 0})  # limits off; latency is off unless set
    env = environment(sandbox, database_url, 10_000_000, 300)
    redis_client = redis.Redis.from_url(REDIS_URL)
    reset(runtime, redis_client)
    print(f"\n2. Throughput and CPU, limits and latency off: {events} events, "
          f"1 worker process x {threads} threads")  # fmt: skip
    worker = WorkerProcess(env, threads)
    cpu_before = worker.cpu()
    started = time.monotonic()
    poster = threading.Thread(target=post_events, args=(url, 0, events))
    poster.start()
    sql = "SELECT count(*) FROM doi_registrations WHERE state = 'findable'"
    while count(runtime, sql) < events:
        time.sleep(0.05)
    registered = time.monotonic() - started
    poster.join()
    while not queue_empty(redis_client):  # the webhooks recorded after each DOI
        time.sleep(0.05)
    cpu_after, actors = worker.stop()
    cpu = cpu_after - cpu_before
    at_datacite = len(sandbox.state()["datacite"]["dois"])
    calls = count(runtime, "SELECT count(*) FROM api_calls WHERE service = 'datacite'")
    print(f"   {events} events -> {at_datacite} DOIs at DataCite ({calls} DataCite calls) "
          f"in {registered:.1f} s: {events / registered:.0f} events/s")  # fmt: skip
    print(f"   worker process CPU: {cpu:.2f} s = {1000 * cpu / events:.2f} ms per event")
    in_actors = 0.0
    for name, (messages, seconds) in sorted(actors.items()):
        in_actors += seconds
        print(f"     {name:28} {int(messages):6} messages {1000 * seconds / events:6.2f} ms/event "
              f"({1000 * seconds / max(messages, 1):.2f} ms/message)")  # fmt: skip
    rest = cpu - in_actors
    print(f"     {'outside actors (dramatiq)':28} {'':15} {1000 * rest / events:6.2f} ms/event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=300.0, help="rate window, seconds")
    parser.add_argument("--events", type=int, default=2000, help="events for the throughput run")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--skip-rate", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--as-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.as_worker:
        run_worker(args.threads)
        return
    from worker.logging import configure_logging
    from worker.sandbox.server import Sandbox

    configure_logging("WARNING", "console")
    database_url = fresh_database()
    sandbox = Sandbox().start()
    print(f"sandbox at {sandbox.url}; database {DATABASE}; redis {REDIS_URL}; "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    try:
        runtime, url = start_web(environment(sandbox, database_url, 3000, 300))
        if not args.skip_rate:
            measure_rate(sandbox, runtime, url, database_url, args.window, args.threads)
        if not args.skip_throughput:
            measure_throughput(sandbox, runtime, url, database_url, args.events, args.threads)
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
