"""One chaos run: pidsync's real processes on servers of their own, traffic from two tenants,
and the seed's schedule of kills, restarts and faults; then quiescence and the checks.

What runs (every pidsync process a child, restarted when it dies, as a supervisor would):
the sandbox (never disrupted: it is the agencies' record of what happened), a private
PostgreSQL and Redis (:mod:`worker.chaos.servers`; RabbitMQ as the broker when asked), one
``pidsync web`` on a fixed port, two ``pidsync scheduler`` (one leads), and several
``pidsync worker`` groups of one dramatiq process each (so a SIGKILL takes one process).

Time is compressed, by settings, never by code: sweeps every few seconds, re-send graces and
retry backoffs of seconds instead of minutes (:data:`SETTINGS`), so a run that lasts minutes
goes through what production would meet over hours. Everything else is production's.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from worker import queues
from worker.bench.stack import (
    Sandbox,
    Stack,
    StackError,
    free_port,
    sandbox_command,
    spawn,
    stop_process,
)
from worker.broker import build_broker
from worker.chaos import disruptions
from worker.chaos.disruptions import Disruption, Kind, Profile
from worker.chaos.processes import Managed, owner_of_port, pidsync_command
from worker.chaos.servers import PrivatePostgres, PrivateRabbit, PrivateRedis

#: pidsync's settings in a chaos run: production's, with time compressed (see the module doc).
SETTINGS = {
    "PIDSYNC_SWEEP_INTERVAL_SECONDS": "3",
    "PIDSYNC_EVENTS_RESEND_GRACE_SECONDS": "10",
    "PIDSYNC_DOI_RESEND_GRACE_SECONDS": "10",
    "PIDSYNC_ORCID_RESEND_GRACE_SECONDS": "10",
    "PIDSYNC_NOTIFY_RESEND_GRACE_SECONDS": "10",
    "PIDSYNC_EVENTS_RETRY_BACKOFF": "1,2,4,8",
    "PIDSYNC_DOI_RETRY_BACKOFF": "1,2,4,8,15",
    "PIDSYNC_ORCID_RETRY_BACKOFF": "1,2,4,8,15",
    "PIDSYNC_NOTIFY_RETRY_BACKOFF": "1,2,4,8,15",
    "PIDSYNC_CROSSREF_POLL_SCHEDULE": "1,2,4,8",
    "PIDSYNC_SCHEDULER_LOCK_TIMEOUT_SECONDS": "6",
    "PIDSYNC_WORKER_METRICS_PORT": "0",
    "PIDSYNC_SCHEDULER_METRICS_PORT": "0",
}

#: The faults every agency shows all through the traffic (the issue's figures).
BASELINE_FAULTS = {"error_rate": 0.05, "lost_response_rate": 0.02, "timeout_rate": 0.01}
#: A timed-out request hangs this long before its connection drops: past pidsync's timeouts.
TIMEOUT_SECONDS = 35.0
#: How long an answer is held back while a kill is aimed inside the acceptance window (ms), and
#: how long the run waits for such a write before it kills at random instead (s).
WINDOW_DELAY_MS = 3000.0
WINDOW_WAIT_SECONDS = 8.0


@dataclass
class Options:
    events: int
    seed: int
    quick: bool
    broker: str = "redis"  # or "rabbitmq"
    worker_groups: int = 3
    threads: int = 4
    quiesce_timeout: float = 0.0  # 0: the profile's default
    keep: bool = False  # keep the run's directory (logs, data) afterwards

    @property
    def profile(self) -> Profile:
        return disruptions.QUICK if self.quick else disruptions.FULL


@dataclass
class Tally:
    """What the run did (the report's first half)."""

    worker_kills: int = 0
    window_kills: int = 0  # of worker_kills: landed while the agency had applied the write
    window_services: Counter[str] = field(default_factory=Counter)
    web_kills: int = 0
    scheduler_leader_kills: int = 0
    redis_restarts: int = 0
    broker_restarts: int = 0  # RabbitMQ's node, in a RabbitMQ run
    postgres_restarts: int = 0
    outages: int = 0
    pressure_windows: int = 0
    process_restarts: int = 0
    researcher_actions: int = 0
    log: list[str] = field(default_factory=list)


class Run:
    """Everything one run starts; :meth:`close` stops it all, the last started first."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.tally = Tally()
        self.root = Path(tempfile.mkdtemp(prefix="pidsync-chaos-"))
        self.logs = self.root / "logs"
        self.logs.mkdir()
        self._cleanup: list[Any] = []
        self.procs: list[Managed] = []
        self.workers: list[Managed] = []
        self.schedulers: list[Managed] = []
        self.web: Managed | None = None
        self.web_port = free_port()
        self.postgres = PrivatePostgres(self.root / "postgres")
        self.redis = PrivateRedis(self.root / "redis")
        self.rabbit: PrivateRabbit | None = None
        self.sandbox: Sandbox | None = None
        self.database_url = ""
        self.limits: dict[str, Any] = {}
        self.lock = threading.Lock()  # the supervisor and the disruptions take turns

    # -- start ---------------------------------------------------------------------------------

    def start_servers(self) -> None:
        from worker.migrate import fresh_database

        self.postgres.init()
        self._cleanup.append(self.postgres.stop)
        self.database_url = fresh_database(self.postgres.admin_url, "pidsync_chaos")
        self.redis.start()
        self._cleanup.append(self.redis.stop)
        if self.options.broker == "rabbitmq":
            self.rabbit = PrivateRabbit(self.root / "rabbitmq")
            self.rabbit.start()
            self._cleanup.append(self.rabbit.stop)

    def start_sandbox(self) -> Sandbox:
        command = sandbox_command("--pidsync-url", f"http://127.0.0.1:{self.web_port}")
        process = spawn(command, Stack.env_base(), stdout=subprocess.PIPE)
        self._cleanup.append(lambda: stop_process(process))
        line = process.stdout.readline() if process.stdout is not None else ""
        if not line:
            raise StackError("the sandbox did not start")
        self.sandbox = Sandbox(process, json.loads(line))
        self.limits = self.sandbox.control("GET", "/limits")
        return self.sandbox

    def environment(self, clients: str) -> dict[str, str]:
        assert self.sandbox is not None  # noqa: S101 - started first
        env = Stack.env_base()
        env.update(self.sandbox.info["env"])
        env.update(SETTINGS)
        broker = self.rabbit.url if self.rabbit is not None else self.redis.url
        env.update(
            {
                "PIDSYNC_ENV": "test",
                "PIDSYNC_ENV_FILE": "/dev/null",
                # INFO (PIDSYNC_CHAOS_LOG_LEVEL=INFO) shows what each process did, to diagnose.
                "PIDSYNC_LOG_LEVEL": os.environ.get("PIDSYNC_CHAOS_LOG_LEVEL", "WARNING"),
                "PIDSYNC_DATABASE_URL": self.database_url,
                "PIDSYNC_REDIS_URL": self.redis.url,
                "PIDSYNC_BROKER_URL": broker,
                "PIDSYNC_INTAKE_CLIENTS": clients,
                "PIDSYNC_DATA_DIR": str(self.root / "data"),
            }
        )
        return env

    def start_processes(self, env: dict[str, str]) -> str:
        web = Managed(
            "web",
            pidsync_command("web", "--host", "127.0.0.1", "--port", str(self.web_port)),
            env,
            self.logs / "web.log",
        )
        self.web = web
        self.procs.append(web)
        for i in range(2):
            sched = Managed(
                f"scheduler-{i}",
                pidsync_command("scheduler"),
                env,
                self.logs / f"scheduler-{i}.log",
            )
            self.schedulers.append(sched)
            self.procs.append(sched)
        for i in range(self.options.worker_groups):
            command = pidsync_command(
                "worker", "--processes", "1", "--threads", str(self.options.threads)
            )
            group = Managed(f"worker-{i}", command, env, self.logs / f"worker-{i}.log")
            self.workers.append(group)
            self.procs.append(group)
        for proc in self.procs:
            proc.start()
        url = f"http://127.0.0.1:{self.web_port}"
        self.wait_healthy(url, 90)
        return url

    def wait_healthy(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(url + "/healthz", timeout=2).ok:
                    return
            self.supervise()
            time.sleep(0.2)
        raise StackError(f"pidsync web did not answer within {timeout:.0f}s (see {self.logs})")

    # -- supervision ---------------------------------------------------------------------------

    def supervise(self) -> None:
        """Start again every process that died (the supervisor's one job)."""
        with self.lock:
            for proc in self.procs:
                if proc.ensure():
                    self.tally.process_restarts += 1

    # -- faults --------------------------------------------------------------------------------

    def baseline_faults(self, on: bool) -> None:
        assert self.sandbox is not None  # noqa: S101
        for agency in disruptions.AGENCIES:
            settings = dict(BASELINE_FAULTS) if on else dict.fromkeys(BASELINE_FAULTS, 0.0)
            self.sandbox.set_faults(agency, **settings, timeout_seconds=TIMEOUT_SECONDS)

    def pressure(self, on: bool) -> None:
        """Tight limits at the agencies (a token bucket: 2/s, burst 4; a window: 20 per 10 s),
        or back to the sandbox's own."""
        assert self.sandbox is not None  # noqa: S101
        if not on:
            self.sandbox.control("POST", "/limits", self.limits)
            return
        tight: dict[str, Any] = {}
        for name, spec in self.limits.items():
            tight[name] = (
                {"rate": 2, "burst": 4} if "rate" in spec else {"limit": 20, "window_seconds": 10}
            )
        self.sandbox.control("POST", "/limits", tight)

    # -- disruptions ---------------------------------------------------------------------------

    def carry_out(self, disruption: Disruption, elapsed: float) -> None:
        done = self._carry_out(disruption)
        self.tally.log.append(f"{disruption.describe()} (at t+{elapsed:.1f}s): {done}")

    def _carry_out(self, d: Disruption) -> str:
        assert self.sandbox is not None  # noqa: S101
        match d.kind:
            case Kind.KILL_WORKER:
                return self.kill_worker(self.workers[int(d.target) % len(self.workers)])
            case Kind.KILL_IN_WINDOW:
                return self.kill_in_window()
            case Kind.KILL_WEB:
                assert self.web is not None  # noqa: S101
                with self.lock:
                    killed = self.web.kill()
                self.tally.web_kills += killed
                return "web killed" if killed else "web was not running"
            case Kind.KILL_SCHEDULER_LEADER:
                return self.kill_leader()
            case Kind.RESTART_REDIS:
                self.redis.crash()
                self.tally.redis_restarts += 1
                if self.rabbit is not None:  # the broker; Redis still holds the rate limits
                    self.rabbit.crash()
                    self.tally.broker_restarts += 1
                return "broker restarted"
            case Kind.RESTART_POSTGRES:
                self.postgres.crash()
                self.tally.postgres_restarts += 1
                return "postgres restarted"
            case Kind.OUTAGE:
                self.sandbox.set_faults(d.target, outage_seconds=d.seconds)
                self.tally.outages += 1
                return f"{d.target} down"
            case Kind.PRESSURE_ON:
                self.pressure(on=True)
                self.tally.pressure_windows += 1
                return "limits tight"
            case Kind.PRESSURE_OFF:
                self.pressure(on=False)
                return "limits restored"

    def kill_worker(self, group: Managed) -> str:
        with self.lock:
            leaves = group.leaves()
            target = leaves[0] if leaves else None
            killed = group.kill(target)
        self.tally.worker_kills += killed
        return (
            f"{group.name} pid {target.pid if target else '-'} killed"
            if killed
            else f"{group.name} not running"
        )

    def kill_in_window(self) -> str:
        """Hold back the agencies' answers to writes, wait for one that a worker sent, SIGKILL
        that worker while its write is applied and unanswered; at random if none comes."""
        assert self.sandbox is not None  # noqa: S101
        for agency in disruptions.AGENCIES:
            self.sandbox.set_faults(agency, answer_delay_ms=WINDOW_DELAY_MS)
        try:
            deadline = time.monotonic() + WINDOW_WAIT_SECONDS
            while time.monotonic() < deadline:
                for write in self.sandbox.control("GET", "/answering"):
                    if write.get("peer_port") is None or not 200 <= write["status"] < 300:
                        continue
                    with self.lock:
                        found = owner_of_port(self.workers, write["peer_port"])
                        if found is None:
                            continue
                        group, proc = found
                        if not group.kill(proc):
                            continue
                    self.tally.worker_kills += 1
                    self.tally.window_kills += 1
                    self.tally.window_services[write["service"]] += 1
                    request = f"{write['service']} {write['method']} {write['path']}"
                    return f"{group.name} pid {proc.pid} killed while {request} was answering"
                time.sleep(0.05)
        finally:
            for agency in disruptions.AGENCIES:
                self.sandbox.set_faults(agency, answer_delay_ms=0)
        chosen = random.Random(len(self.tally.log)).choice(self.workers)  # noqa: S311
        return "no write in flight; " + self.kill_worker(chosen)

    def kill_leader(self) -> str:
        from worker.bench._procs import scalar
        from worker.scheduler import LEADER_LOCK

        port = scalar(
            self.database_url,
            "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objid::bigint = %s",
            (LEADER_LOCK & 0xFFFFFFFF,),
        )
        if port is None:
            return "no scheduler leads"
        with self.lock:
            found = owner_of_port(self.schedulers, int(port))
            if found is None:
                return "the leader's connection belongs to no scheduler"
            sched, _proc = found
            killed = sched.kill()
        self.tally.scheduler_leader_kills += killed
        return f"{sched.name} (leader) killed"

    # -- stop ----------------------------------------------------------------------------------

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        for stop in reversed(self._cleanup):
            with contextlib.suppress(Exception):
                stop()
        if not self.options.keep:
            shutil.rmtree(self.root, ignore_errors=True)


class Feeder(threading.Thread):
    """Sends the traffic spread over the disruptions' span (the same pace in every run of a
    seed), and the researchers' own actions at ten moments of it."""

    def __init__(self, traffic: Any, events: int, duration: float) -> None:
        super().__init__(name="chaos-traffic", daemon=True)
        self.traffic = traffic
        self.duration = duration
        self.events = events
        self.actions = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            start = time.monotonic()
            sent = 0
            moments = [self.duration * (i + 0.5) / 10 for i in range(10)]
            while True:
                elapsed = time.monotonic() - start
                if moments and elapsed >= moments[0]:
                    moments.pop(0)
                    self.actions += self.traffic.researcher_actions()
                    continue
                if sent < self.events * min(1.0, elapsed / self.duration):
                    sent += self.traffic.step()
                    if self.traffic.finished:
                        break
                    continue
                time.sleep(0.05)
            for _ in moments:  # the traffic ended early: the remaining actions now
                self.actions += self.traffic.researcher_actions()
        except BaseException as exc:
            self.error = exc


def sandbox_figures(state: dict[str, Any]) -> dict[str, int]:
    """Faults the agencies showed, from the sandbox's own counters: 5xx answers and dropped
    connections (lost answers, timeouts), apart from the answers of its rate limits."""
    faults = rate_limited = requests_total = 0
    for agency in disruptions.AGENCIES:
        counters = state["requests"][agency]
        by_status = counters["by_status"]
        errors = sum(by_status.get(code, 0) for code in ("500", "502", "503"))
        faults += errors + by_status.get("dropped", 0) - min(errors, counters["rate_limited"])
        rate_limited += counters["rate_limited"]
        requests_total += counters["total"]
    return {
        "faults_injected": faults,
        "rate_limited": rate_limited,
        "agency_requests": requests_total,
    }


def held_by_dead_workers(broker_url: str) -> int:
    """Messages a killed worker had taken (:func:`worker.queues.held_by_dead_workers`): the
    sweeps have re-sent their work long before dramatiq re-queues them, so they are counted
    apart, not as pending."""
    if not broker_url.startswith("redis"):
        return 0  # RabbitMQ gives a dead consumer's messages back at once
    broker = build_broker(broker_url, record_dead_letter=lambda *_: None)
    try:
        return queues.held_by_dead_workers(broker)
    finally:
        broker.close()


def still_pending(target: Any) -> dict[str, int]:
    """What is left to do (:func:`worker.chaos.invariants.pending`), a killed worker's taken
    messages aside (:func:`held_by_dead_workers`)."""
    from worker.chaos import invariants

    left = invariants.pending(target)
    left["messages"] = max(0, left.get("messages", 0) - held_by_dead_workers(target.broker_url))
    return {name: count for name, count in left.items() if count}


def sessions_in_transaction(database_url: str) -> list[str]:
    """PostgreSQL sessions of pidsync still in a transaction when the run gave up waiting:
    what a stuck system is holding (how long, in which state, waiting on what, doing what)."""
    from worker.bench._procs import scalar

    rows = scalar(
        database_url,
        "SELECT coalesce(json_agg(json_build_array(round(extract(epoch FROM now() - xact_start)),"
        " state, wait_event_type, wait_event, left(query, 160))), '[]')"
        " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        " AND xact_start IS NOT NULL",
    )
    return [
        f"{age:.0f}s {state} waiting {kind}/{event}: {query}"
        for age, state, kind, event, query in rows
    ]


def leftovers(run: Run, target: Any, *, quiet: bool) -> dict[str, Any]:
    """What a run left behind: still pending and the sessions holding a transaction (when it
    never went quiet), and the messages killed workers had taken."""
    from worker.chaos import invariants

    left: dict[str, int] = {}
    open_transactions: list[str] = []
    rows: list[str] = []
    if not quiet:
        with contextlib.suppress(Exception):
            left = still_pending(target)
        with contextlib.suppress(Exception):
            rows = invariants.waiting(target)
        with contextlib.suppress(Exception):
            open_transactions = sessions_in_transaction(run.database_url)
    return {
        "pending_at_end": left,
        "waiting_at_end": rows,
        "open_transactions_at_end": open_transactions,
        "messages_held_by_killed_workers": held_by_dead_workers(target.broker_url),
    }


def wait_quiet(run: Run, target: Any, timeout: float) -> tuple[bool, float]:
    """Whether nothing was left pending within ``timeout`` (processes still supervised), and
    how long it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        run.supervise()
        with contextlib.suppress(Exception):  # a server just restarted: ask again
            if not still_pending(target):
                return True, time.monotonic() - start
        time.sleep(2)
    return False, time.monotonic() - start


def execute(options: Options, note: Any = print) -> dict[str, Any]:
    """One whole run; its figures (see :mod:`worker.chaos.report`)."""
    from worker.chaos import invariants
    from worker.chaos.traffic import Target, Traffic, intake_clients, two_tenants

    profile = options.profile
    plan = disruptions.schedule(options.seed, profile, options.worker_groups)
    began = time.monotonic()
    run = Run(options)
    try:
        note(f"chaos: servers in {run.root}")
        run.start_servers()
        sandbox = run.start_sandbox()
        tenants = two_tenants()
        env = run.environment(intake_clients(tenants))
        url = run.start_processes(env)
        target = Target(
            intake_url=url, control_url=sandbox.info["control_url"],
            database_url=run.database_url, tenants=tenants, broker_url=env["PIDSYNC_BROKER_URL"],
        )  # fmt: skip
        traffic = Traffic(target, events=options.events, seed=options.seed)
        run.baseline_faults(on=True)
        feeder = Feeder(traffic, options.events, profile.duration)
        note(
            f"chaos: {options.events} events over {profile.duration:.0f}s, {len(plan)} disruptions"
        )
        start = time.monotonic()
        feeder.start()
        pending = list(plan)
        while pending or feeder.is_alive():
            elapsed = time.monotonic() - start
            while pending and pending[0].at <= elapsed:
                disruption = pending.pop(0)
                run.carry_out(disruption, elapsed)
                note("chaos: " + run.tally.log[-1])
            run.supervise()
            time.sleep(0.2)
        # The last outage may still be running; then every fault off, and the system left alone.
        for agency in disruptions.AGENCIES:
            sandbox.set_faults(agency, outage_seconds=0)
        run.baseline_faults(on=False)
        run.pressure(on=False)
        traffic_seconds = time.monotonic() - start
        note(f"chaos: traffic done in {traffic_seconds:.0f}s; waiting for quiescence")
        timeout = options.quiesce_timeout or (150.0 if options.quick else 600.0)
        quiet, quiet_seconds = wait_quiet(run, target, timeout)
        state = "quiescent" if quiet else "NOT quiescent"
        note(f"chaos: {state} after {quiet_seconds:.0f}s; checking")
        found = invariants.violations(target, traffic)
        checks = {name: len(lines) for name, lines in found.items()}
        figures: dict[str, Any] = {
            "seed": options.seed,
            "quick": options.quick,
            "broker": options.broker,
            "events": traffic.sent,
            "duplicates_sent": traffic.duplicates,
            "out_of_order_sent": traffic.out_of_order,
            "concurrent_sent": traffic.concurrent,
            "researcher_actions": feeder.actions,
            "worker_kills": run.tally.worker_kills,
            "window_kills": run.tally.window_kills,
            "window_kills_by_agency": dict(run.tally.window_services),
            "web_kills": run.tally.web_kills,
            "scheduler_leader_kills": run.tally.scheduler_leader_kills,
            "redis_restarts": run.tally.redis_restarts,
            "broker_restarts": run.tally.broker_restarts,
            "postgres_restarts": run.tally.postgres_restarts,
            "process_restarts": run.tally.process_restarts,
            "outages": run.tally.outages,
            "pressure_windows": run.tally.pressure_windows,
            **sandbox_figures(sandbox.state()),
            "traffic_error": ""
            if feeder.error is None
            else f"{type(feeder.error).__name__}: {feeder.error}",
            "traffic_seconds": round(traffic_seconds, 1),
            "quiescence_seconds": round(quiet_seconds, 1),
            "stuck": 0 if quiet else 1,
            **leftovers(run, target, quiet=quiet),
            **checks,
            "invariants": sorted(checks),
            "seconds": round(time.monotonic() - began, 1),
            "disruptions": run.tally.log,
            # The first few items behind each broken invariant, to start the diagnosis from.
            "violation_details": {name: lines[:20] for name, lines in found.items() if lines},
            "logs": str(run.logs) if options.keep else "",
        }
        return figures
    finally:
        run.close()
