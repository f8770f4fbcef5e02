"""What a scenario runs against: PostgreSQL, Redis, the sandbox, the web process and dramatiq
workers, each a child process (or a server already running), stopped cleanly at the end.

Servers: the admin database URL is ``PIDSYNC_TEST_DATABASE_URL`` or ``PIDSYNC_DATABASE_URL``
(a fresh database ``pidsync_bench_<scenario>`` is created under it and migrated), else an
embedded PostgreSQL is started. Redis is a private ``redis-server`` when one is installed (so
no one else's run can flush it and its command counters are the scenario's alone), else
``PIDSYNC_TEST_REDIS_URL`` / ``PIDSYNC_REDIS_URL`` (database 15, flushed), else the embedded
one. Every pidsync process gets its settings from the environment, as in production.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self
from urllib.parse import urlsplit, urlunsplit

import requests

#: The intake client every scenario signs its events as; its secret is new in each run.
CLIENT = "bench"
SECRET = secrets.token_hex(24)
SOURCE = "https://cris.bench.example.edu"


def database_name(scenario: str) -> str:
    """``pidsync_bench_<scenario>``, and under a test suite its run's name: two suites (or xdist
    workers) on one server keep their databases apart, as the suite's own do
    (``PIDSYNC_TEST_RUN``, set by scripts/test). A second run dropped the first's database
    under it ("pidsync_bench_... already exists" when both ran at once)."""
    run = "".join(os.environ.get(k, "") for k in ("PIDSYNC_TEST_RUN", "PYTEST_XDIST_WORKER"))
    suffix = "_" + re.sub(r"\W", "_", run)[:20] if run else ""
    return "pidsync_bench_" + scenario.replace("-", "_") + suffix


class StackError(RuntimeError):
    """A part of the stack did not start or answer."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(what: str, check: Any, timeout: float, process: subprocess.Popen[Any] | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StackError(f"{what} exited with code {process.returncode} while starting")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.05)
    raise StackError(f"{what} did not answer within {timeout:.0f}s")


def stop_process(process: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """SIGTERM to the child's process group (it leads one), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def stop_processes(processes: list[subprocess.Popen[Any]], timeout: float = 30.0) -> None:
    """:func:`stop_process` for several at once: SIGTERM to each, in the order given, before
    waiting for any (one after the other, a scenario's teardown added up each one's graceful
    shutdown: seconds of ``backlog --quick``)."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def spawn(
    command: list[str], env: dict[str, str], *, stdout: Any = None, stderr: Any = None
) -> subprocess.Popen[Any]:
    """The one way a bench starts a child: our own interpreter and modules, in a session of its
    own (so the whole tree, dramatiq's forks too, is stopped as one by :func:`stop_process`).
    ``stderr``: where its log goes (default: this process's; a chaos run keeps one per process)."""
    return subprocess.Popen(  # noqa: S603
        command, env=env, stdout=stdout, stderr=stderr, start_new_session=True, text=True
    )


def sandbox_command(*options: str) -> list[str]:
    """``pidsync sandbox`` on a free port, printing its JSON info line first."""
    command = [sys.executable, "-m", "worker.cli", "sandbox", "--port", "0", "--json"]
    return [*command, *options]


def web_command(port: int) -> list[str]:
    """``pidsync web`` on ``port`` of the loopback interface."""
    return [sys.executable, "-m", "worker.cli", "web", "--host", "127.0.0.1", "--port", str(port)]


def worker_command(processes: int, threads: int, *modules: str) -> list[str]:
    """The one way the bench starts workers: the dramatiq command ``pidsync worker`` runs (its
    modules, every queue), each process also importing ``modules`` (the scale scenario's SQL
    probe). dramatiq directly rather than through ``pidsync worker``, whose parent would only
    pass the same command on, so that the extra modules can be given."""
    from worker.cli.processes import WORKER_MODULES

    return [
        sys.executable, "-m", "dramatiq", *WORKER_MODULES, *modules,
        "--processes", str(processes), "--threads", str(threads),
    ]  # fmt: skip


def start_web(
    env: dict[str, str], *, stdout: Any = None, port: int = 0
) -> tuple[subprocess.Popen[Any], str]:
    """``pidsync web`` on ``port`` (0: a free one; a scenario whose settings name the web's
    address picks it first): the process and its base URL once /healthz answers (the process
    stopped when it never does)."""
    port = port or free_port()
    process = spawn(web_command(port), env, stdout=stdout)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait("pidsync web", lambda: requests.get(url + "/healthz", timeout=2).ok, 60, process)
    except BaseException:
        stop_process(process)
        raise
    return process, url


@dataclass
class Sandbox:
    """The sandbox process and its control API."""

    process: subprocess.Popen[str]
    info: dict[str, Any]
    http: requests.Session = field(default_factory=requests.Session)

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.http.request(method, self.info["control_url"] + path, json=body, timeout=120)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def set_faults(self, service: str, **settings: float) -> None:
        self.control("POST", "/faults", {"service": service, **settings})

    def set_limits(self, **limits: dict[str, float]) -> None:
        self.control("POST", "/limits", limits)

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.control("GET", "/state")
        return state

    def add_researcher(self, given: str, family: str) -> str:
        """A new ORCID record; its iD."""
        body = {"given_names": given, "family_name": family}
        orcid: str = self.control("POST", "/orcid/researchers", body)["orcid"]
        return orcid

    def issue_token(self, orcid: str) -> dict[str, Any]:
        """The researcher's consent to the sandbox's member client: ORCID's token answer."""
        body = {
            "client_id": self.info["orcid_client_id"],
            "scope": "/activities/update /read-limited",
        }
        token: dict[str, Any] = self.control("POST", f"/orcid/researchers/{orcid}/tokens", body)
        return token

    def requests_to(self, service: str) -> dict[str, Any]:
        """``{"total", "rate_limited", "by_status"}`` for one simulated service."""
        counters: dict[str, Any] = self.state()["requests"][service]
        return counters


class Stack(contextlib.ExitStack):
    """Servers for one scenario, and the processes it starts; all stopped on exit."""

    def __init__(self, scenario: str, *, servers: bool = True) -> None:
        """``servers``: PostgreSQL and Redis for pidsync (False: a scenario of the sandbox
        alone)."""
        super().__init__()
        self.scenario = scenario
        self.with_servers = servers
        self.database_url = ""
        self.redis_url = ""
        self.web_pid = 0
        self.tmp = Path(tempfile.mkdtemp(prefix=f"pidsync-bench-{scenario}-"))
        self.callback(shutil.rmtree, self.tmp, ignore_errors=True)

    def __enter__(self) -> Self:
        super().__enter__()
        try:
            if self.with_servers:
                self._servers()
        except BaseException:
            self.close()
            raise
        return self

    # -- servers ---------------------------------------------------------------------------

    def _servers(self) -> None:
        admin = os.environ.get("PIDSYNC_TEST_DATABASE_URL") or os.environ.get(
            "PIDSYNC_DATABASE_URL"
        )
        shared_redis = os.environ.get("PIDSYNC_TEST_REDIS_URL") or os.environ.get(
            "PIDSYNC_REDIS_URL"
        )
        embedded_redis = ""
        if not admin:
            admin, embedded_redis = self._embedded()
        from worker.migrate import drop_database, fresh_database

        name = database_name(self.scenario)
        self.database_url = fresh_database(admin, name)
        # Registered before any process starts, so it runs after they have all stopped.
        self.callback(drop_database, admin, name)
        if shutil.which("redis-server"):
            self.redis_url = self._private_redis()
        else:
            import redis

            # Database 15 of the shared server, flushed: the tests use database 0.
            parts = urlsplit(shared_redis or embedded_redis)
            self.redis_url = urlunsplit(parts._replace(path="/15"))

            redis.Redis.from_url(self.redis_url).flushdb()

    def _embedded(self) -> tuple[str, str]:
        command = [sys.executable, "-m", "worker.embedded", "serve", "--admin"]
        command += ["--data-dir", str(self.tmp / "embedded")]
        process = spawn(command, dict(os.environ), stdout=subprocess.PIPE)
        self.callback(stop_process, process)
        assert process.stdout is not None  # noqa: S101 - stdout=PIPE above
        line = process.stdout.readline().split()
        if len(line) != 2:
            raise StackError("the embedded PostgreSQL/Redis did not start")
        return line[0], line[1]

    def _private_redis(self) -> str:
        import redis

        port = free_port()
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        process = spawn(command, dict(os.environ), stdout=subprocess.DEVNULL)
        self.callback(stop_process, process)
        url = f"redis://127.0.0.1:{port}/0"
        _wait("redis-server", lambda: redis.Redis.from_url(url).ping(), 10, process)
        return url

    # -- pidsync and the sandbox -------------------------------------------------------------

    def sandbox(
        self, *, orcid_rate: float = 0, orcid_burst: int = 40, datacite_limit: int = 0
    ) -> Sandbox:
        """The sandbox, rate limits as given (0: none), no latency or faults."""
        command = sandbox_command(
            "--orcid-rate", str(orcid_rate), "--orcid-burst", str(orcid_burst),
            "--datacite-limit", str(datacite_limit), "--crossref-api-limit", "0",
        )  # fmt: skip
        process = spawn(command, dict(os.environ), stdout=subprocess.PIPE)
        self.callback(stop_process, process)
        out: IO[str] | None = process.stdout
        line = out.readline() if out is not None else ""
        if not line:
            raise StackError("the sandbox did not start")
        return Sandbox(process, json.loads(line))

    def env(self, sandbox: Sandbox | None, **overrides: str) -> dict[str, str]:
        """The environment of every pidsync process: its settings, as in a deployment (the
        agencies' URLs and accounts are the sandbox's, when there is one)."""
        env = self.env_base()
        if sandbox is not None:
            env.update(sandbox.info["env"])
        env.update(
            {
                "PIDSYNC_ENV": "test",
                "PIDSYNC_ENV_FILE": "/dev/null",
                "PIDSYNC_LOG_LEVEL": "WARNING",
                "PIDSYNC_DATABASE_URL": self.database_url,
                "PIDSYNC_REDIS_URL": self.redis_url,
                "PIDSYNC_BROKER_URL": self.redis_url,
                "PIDSYNC_INTAKE_CLIENTS": f"{CLIENT}:{SECRET}",
                "PIDSYNC_DATA_DIR": str(self.tmp / "data"),
            }
        )
        env.update(overrides)
        return env

    @staticmethod
    def env_base() -> dict[str, str]:
        """This process's environment without any pidsync setting."""
        return {k: v for k, v in os.environ.items() if not k.startswith("PIDSYNC_")}

    def web(self, env: dict[str, str]) -> str:
        """``pidsync web`` on a free port; its base URL once /healthz answers."""
        process, url = start_web(env)
        self.callback(stop_process, process)
        self.web_pid = process.pid
        return url

    def workers(self, env: dict[str, str], processes: int, threads: int) -> subprocess.Popen[str]:
        """The dramatiq workers ``pidsync worker`` runs (``processes`` x ``threads``)."""
        process = spawn(worker_command(processes, threads), env)
        self.callback(stop_process, process)
        return process

    def scalar(self, sql: str) -> int:
        """One number from the scenario's database (counts of rows)."""
        return int(self.rows(sql)[0][0])

    def rows(self, sql: str, **params: Any) -> list[Any]:
        """The rows ``sql`` (with ``:name`` parameters) reads from the scenario's database."""
        import sqlalchemy

        if not hasattr(self, "_engine"):
            self._engine = sqlalchemy.create_engine(self.database_url, pool_size=1)
            self.callback(self._engine.dispose)
        with self._engine.connect() as conn:
            return list(conn.execute(sqlalchemy.text(sql), params).all())

    def queue_empty(self) -> bool:
        """No message waiting, delayed or unacknowledged on any of pidsync's queues."""
        return queues_empty(self.redis_url)


def queues_empty(redis_url: str) -> bool:
    """No message waiting, delayed or unacknowledged on any of pidsync's queues (read as the
    ops overview and the metrics read them)."""
    import redis
    from dramatiq.brokers.redis import RedisBroker

    from worker.queues import unfinished

    broker = RedisBroker(client=redis.Redis.from_url(redis_url), namespace="pidsync")  # type: ignore[no-untyped-call]
    try:
        return unfinished(broker) == 0
    finally:
        broker.client.close()
