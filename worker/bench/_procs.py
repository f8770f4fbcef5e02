"""The processes a benchmark scenario runs (sandbox, web, workers, scheduler), each a child
process of its own, as in production: their CPU time and memory are read from outside with
psutil, and nothing of the product is booted inside the bench process (it stays a client).

Everything runs on the real PostgreSQL and Redis: ``PIDSYNC_BENCH_DATABASE_URL`` (an admin URL;
default the tests' ``PIDSYNC_TEST_DATABASE_URL``) under which a fresh database is created per
scenario, and ``PIDSYNC_BENCH_REDIS_URL`` (default the tests' Redis, database 15: the tests use
1-14), flushed.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psutil
import requests

from worker.bench import measure, stack
from worker.bench.stack import CLIENT, SECRET, SOURCE, stop_process

__all__ = ["CLIENT"]  # the scenarios seed rows as the bench client

DEFAULT_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get(
        "PIDSYNC_BENCH_DATABASE_URL", os.environ.get("PIDSYNC_TEST_DATABASE_URL", DEFAULT_ADMIN)
    )


def redis_url() -> str:
    url = os.environ.get("PIDSYNC_BENCH_REDIS_URL")
    if url:
        return url
    base = os.environ.get("PIDSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    return base.rstrip("/") + "/15"


def libpq(database_url: str) -> str:
    """The SQLAlchemy URL as a libpq DSN (for psycopg directly)."""
    from sqlalchemy.engine import make_url

    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> float:
    """Seconds until ``check()`` held (:func:`worker.bench.measure.wait_until`); after
    ``timeout`` the scenario ends with a message naming ``what``, not a traceback."""
    try:
        return measure.wait_until(what, check, timeout, every)
    except TimeoutError as exc:
        raise SystemExit(f"bench: {exc}") from None


# --- child processes ----------------------------------------------------------------------------


@dataclass
class Proc:
    """A child process (and its own children: dramatiq forks its worker processes)."""

    name: str
    popen: subprocess.Popen[str]

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_mb(self) -> dict[int, float]:
        """Resident memory of each live process of the tree, by pid."""
        return measure.tree_rss_mb(self.popen.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU of the live tree (the dramatiq parent's own is near zero)."""
        return measure.tree_cpu_seconds(self.popen.pid)

    def stop(self) -> None:
        stop_process(self.popen)


def spawn(name: str, command: list[str], env: dict[str, str], *, pipe: bool = False) -> Proc:
    """A child started as :func:`worker.bench.stack.spawn` starts every one, its output dropped
    unless ``pipe``."""
    return Proc(
        name, stack.spawn(command, env, stdout=subprocess.PIPE if pipe else subprocess.DEVNULL)
    )


def environment(
    info: dict[str, Any], database_url: str, redis: str, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIDSYNC_")}
    env.update(info["env"])
    env.update(
        {
            "PIDSYNC_ENV_FILE": "/dev/null",
            "PIDSYNC_ENV": "production",
            "PIDSYNC_LOG_LEVEL": "WARNING",
            "PIDSYNC_DATABASE_URL": database_url,
            "PIDSYNC_REDIS_URL": redis,
            "PIDSYNC_BROKER_URL": redis,
            "PIDSYNC_INTAKE_CLIENTS": f"{CLIENT}:{SECRET}",
            # Not scraped here; their fixed ports would clash with any other pidsync running
            # on the machine (the scheduler exits when its port is taken).
            "PIDSYNC_WORKER_METRICS_PORT": "0",
            "PIDSYNC_SCHEDULER_METRICS_PORT": "0",
        }
    )
    env.update(extra)
    return env


class Sandbox(stack.Sandbox):
    """``pidsync sandbox`` in a child process (a :class:`Proc`: its CPU time is read), driven
    through its control API as :class:`worker.bench.stack.Sandbox` drives it."""

    def __init__(self, *options: str) -> None:
        proc = spawn("sandbox", stack.sandbox_command(*options), dict(os.environ), pipe=True)
        assert proc.popen.stdout is not None  # noqa: S101 - pipe=True
        line = proc.popen.stdout.readline()
        if not line:
            proc.stop()
            raise SystemExit("bench: the sandbox did not start")
        super().__init__(proc.popen, json.loads(line))
        self.proc = proc

    def stop(self) -> None:
        self.http.close()
        self.proc.stop()


def start_web(env: dict[str, str]) -> tuple[Proc, str]:
    popen, url = stack.start_web(env, stdout=subprocess.DEVNULL)
    return Proc("web", popen), url


def start_workers(env: dict[str, str], processes: int, threads: int, *modules: str) -> Proc:
    """dramatiq worker processes for every actor (what ``pidsync worker`` runs), each also
    importing ``modules`` (the scale scenario's SQL probe)."""
    proc = spawn("worker", stack.worker_command(processes, threads, *modules), env)

    def forked() -> bool:
        if proc.popen.poll() is not None:
            raise SystemExit("bench: the worker exited at start")
        return len(proc.tree()) > processes

    wait_until(forked, 60, "the worker processes forking", every=0.1)
    return proc


def start_scheduler(env: dict[str, str]) -> Proc:
    return spawn("scheduler", [sys.executable, "-m", "worker.cli", "scheduler"], env)


@dataclass
class Scenario:
    """What every child-process scenario runs on: a sandbox, a fresh database, a flushed Redis
    and ``pidsync web``; further children go into ``procs`` and are stopped with the rest."""

    sandbox: Sandbox
    database_url: str
    redis: str
    env: dict[str, str]
    web: Proc
    url: str
    procs: list[Proc]


@contextlib.contextmanager
def scenario(name: str, sandbox_options: tuple[str, ...], **settings: str) -> Iterator[Scenario]:
    """Start the sandbox (``sandbox_options``), database ``pidsync_bench_<name>``, Redis and the
    web process (pidsync ``settings`` on top of the bench's); every child stopped on exit, the
    last started first, even when starting one of them failed."""
    from worker.migrate import drop_database, fresh_database

    database = stack.database_name(name)
    with ThreadPoolExecutor(1) as pool:
        # The database is created and migrated while the sandbox starts (1-2 s each).
        created = pool.submit(fresh_database, admin_url(), database)
        try:
            sandbox = Sandbox(*sandbox_options)
        except BaseException:
            with contextlib.suppress(Exception):
                created.result()
            drop_database(admin_url(), database)
            raise
    procs: list[Proc] = [sandbox.proc]
    try:
        database_url = created.result()
        redis = redis_url()
        flush_redis(redis)
        env = environment(sandbox.info, database_url, redis, **settings)
        web, url = start_web(env)
        procs.append(web)
        yield Scenario(sandbox, database_url, redis, env, web, url, procs)
    finally:
        # Told to stop together, the last started first (workers before the web before the
        # sandbox), then waited for.
        stack.stop_processes([proc.popen for proc in reversed(procs)])
        sandbox.http.close()
        drop_database(admin_url(), database)  # the benchmark's scratch data: nothing to keep


# --- load ---------------------------------------------------------------------------------------


def work_event(n: int, prefix: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"{prefix}-{n}",
        "source": SOURCE,
        "type": "work.published",
        "datacontenttype": "application/json",
        "data": data,
    }


def dataset(n: int, prefix: str, **extra: Any) -> dict[str, Any]:
    """A DataCite dataset, the most common work a repository registers."""
    return {
        "id": f"{prefix}-{n}",
        "type": "dataset",
        "title": f"Benchmark dataset {prefix} {n}",
        "publisher": "Bench University",
        "publication_date": "2026-01-15",
        "url": f"https://repo.bench.example.edu/{prefix}/{n}",
        "contributors": [{"given": "Ada", "family": "Lovelace"}],
        **extra,
    }


def post(url: str, events: list[dict[str, Any]], http: requests.Session | None = None) -> None:
    """One signed batch to the intake; SystemExit when it is not accepted."""
    from worker.events.signature import sign

    body = json.dumps(events).encode()
    content = "application/cloudevents-batch+json"
    if len(events) == 1:
        body, content = json.dumps(events[0]).encode(), "application/cloudevents+json"
    headers = {"Content-Type": content, "Pidsync-Client": CLIENT,
               "Pidsync-Signature": sign(SECRET, body)}  # fmt: skip
    answer = (http or requests).post(f"{url}/events", data=body, headers=headers, timeout=120)
    if answer.status_code not in (200, 202):
        raise SystemExit(f"bench: the intake answered {answer.status_code}: {answer.text[:300]}")


def post_all(url: str, events: Iterable[dict[str, Any]], batch: int = 100) -> None:
    with requests.Session() as http:
        chunk: list[dict[str, Any]] = []
        for event in events:
            chunk.append(event)
            if len(chunk) == batch:
                post(url, chunk, http)
                chunk = []
        if chunk:
            post(url, chunk, http)


def scalar(database_url: str, sql: str, params: tuple[Any, ...] = ()) -> Any:
    import psycopg

    for attempt in range(3):  # a connection refused under load is not the bench's finding
        try:
            with psycopg.connect(libpq(database_url)) as conn:
                row = conn.execute(sql, params).fetchone()
                return row[0] if row else None
        except psycopg.OperationalError:
            if attempt == 2:  # the last of three tries
                raise
            time.sleep(1)
    return None


def row(database_url: str, sql: str) -> tuple[Any, ...]:
    """One row of a query (the scenario's progress counts)."""
    import psycopg

    with psycopg.connect(libpq(database_url)) as conn:
        found = conn.execute(sql).fetchone()
        return tuple(found) if found else ()


# --- memory over time ---------------------------------------------------------------------------


@dataclass
class RssSampler:
    """Samples every process's RSS (MB) on a thread: (seconds, {process label: MB})."""

    procs: list[Proc]
    every: float = 0.5
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    started: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> RssSampler:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def sample(self) -> dict[str, float]:
        now: dict[str, float] = {}
        for proc in self.procs:
            sizes = proc.rss_mb()
            pids = sorted(sizes)
            for i, pid in enumerate(pids):
                # A dramatiq worker: the first pid is its parent, the others its processes.
                label = proc.name if len(pids) == 1 else f"{proc.name}-{i}"
                if proc.name == "worker" and i == 0:
                    label = "worker-parent"
                now[label] = round(sizes[pid], 1)
        return now

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - self.started, self.sample()))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def peak(self) -> dict[str, float]:
        peaks: dict[str, float] = {}
        for _t, sizes in self.samples:
            for label, mb in sizes.items():
                peaks[label] = max(peaks.get(label, 0.0), mb)
        return peaks
