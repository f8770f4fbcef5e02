"""pidsync processes started as separate "hosts" for tests across processes.

Each host is a `pidsync web|worker|scheduler` process with its own environment, home, temporary
and data directories: nothing is shared but the Postgres and broker URLs and the sandbox's
(what several machines would share). Their logs go to a file each, shown when a test fails.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from tests.conftest import INTAKE_SECRET
from worker.events.signature import sign
from worker.models import DoiRegistration, DoiState

SOURCE = "https://cris.example.edu"
#: Fast pacing for tests (the defaults are sized for the real agencies).
FAST = {
    "PIDSYNC_DOI_RETRY_BACKOFF": "0.2,0.5",
    "PIDSYNC_CROSSREF_BATCH_WINDOW_SECONDS": "0",
    "PIDSYNC_CROSSREF_POLL_SCHEDULE": "0.2",
    "PIDSYNC_SWEEP_INTERVAL_SECONDS": "1",
    "PIDSYNC_LOG_LEVEL": "INFO",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Host:
    name: str
    role: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int
    env: dict[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def metrics(self) -> str:
        path = "/metrics" if self.role == "web" else "/"
        response = requests.get(self.url + path, timeout=10)
        response.raise_for_status()
        return response.text

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


@dataclass
class Cluster:
    """The shared parts (database, broker, sandbox) and the hosts started on them."""

    root: Path
    database_url: str
    redis_url: str
    sandbox_env: dict[str, str]
    hosts: list[Host] = field(default_factory=list)

    def start(self, role: str, name: str, *args: str, **env: str) -> Host:
        home = self.root / name
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        port = free_port()
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "TMPDIR": str(home / "tmp"),
            "PIDSYNC_ENV": "test",
            "PIDSYNC_DATA_DIR": str(home / "data"),
            "PIDSYNC_DATABASE_URL": self.database_url,
            "PIDSYNC_REDIS_URL": self.redis_url,
            "PIDSYNC_INTAKE_CLIENTS": f"cris:{INTAKE_SECRET}",
            "PIDSYNC_WORKER_METRICS_PORT": str(port),
            "PIDSYNC_SCHEDULER_METRICS_PORT": str(port),
            **self.sandbox_env,
            **FAST,
            **env,
        }
        command = [sys.executable, "-m", "worker.cli", role, *args]
        if role == "web":
            command += ["--host", "127.0.0.1", "--port", str(port)]
        log = home / f"{role}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env=environment, cwd=home, stdout=out, stderr=subprocess.STDOUT
            )
        host = Host(name, role, process, log, port, environment)
        self.hosts.append(host)
        return host

    def wait_serving(self, host: Host, timeout: float = 60) -> None:
        """Until the host answers on its port (web: /healthz; others: their metrics)."""
        path = "/healthz" if host.role == "web" else "/"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if host.process.poll() is not None:
                raise AssertionError(f"{host.name} exited {host.process.returncode}:\n"
                                     + host.output())  # fmt: skip
            try:
                if requests.get(host.url + path, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{host.name} did not serve in {timeout}s:\n{host.output()}")

    def stop_all(self) -> None:
        for host in reversed(self.hosts):
            if host.process.poll() is None:
                host.process.send_signal(signal.SIGTERM)
        for host in self.hosts:
            try:
                host.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                host.process.kill()
                host.process.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {h.name} ---\n{h.output()}" for h in self.hosts)


def dataset(work_id: str, title: str = "Ocean temperatures") -> dict[str, Any]:
    return {
        "id": work_id, "type": "dataset", "title": title, "publisher": "Example University",
        "publication_date": "2024-03-01", "url": f"https://repo.example.edu/{work_id}",
        "registration": {"registrar": "datacite"},
        "contributors": [{"given": "Ada", "family": "Lovelace"}],
    }  # fmt: skip


def post_events(web: Host, events: list[dict[str, Any]]) -> requests.Response:
    body = json.dumps(events).encode()
    return requests.post(
        web.url + "/events",
        data=body,
        headers={
            "Content-Type": "application/cloudevents-batch+json",
            "Pidsync-Client": "cris",
            "Pidsync-Signature": sign(INTAKE_SECRET, body),
        },
        timeout=30,
    )


def work_event(work_id: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0", "id": f"{work_id}-{uuid.uuid4().hex[:8]}", "source": SOURCE,
        "type": "work.published", "datacontenttype": "application/json",
        "data": dataset(work_id, **data),
    }  # fmt: skip


def wait_for(check: Callable[[], bool], timeout: float, what: str, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"not true after {timeout}s: {what}\n{logs()}")


def findable(database: Any) -> int:
    with database.session() as session:
        states = session.scalars(select(DoiRegistration.state)).all()
    return sum(1 for s in states if s == DoiState.FINDABLE)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in Prometheus' text format (labels matched as given)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


@pytest.fixture
def cluster(
    tmp_path, database_url, redis_url, redis_client, committed_database, sandbox
) -> Iterator[Cluster]:
    """Hosts on the test's Postgres database, Redis database and sandbox; all stopped after."""
    shared = Cluster(tmp_path, database_url, redis_url, sandbox.info()["env"])
    yield shared
    shared.stop_all()


def datacite_state(sandbox: Any) -> tuple[list[str], dict[str, int]]:
    """The DOIs DataCite holds and its answers counted by status."""
    state = sandbox.state()
    dois = [d["doi"] for d in state["datacite"]["dois"]]
    return dois, state["requests"]["datacite"]["by_status"]
