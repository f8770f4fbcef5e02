"""The chaos run's own PostgreSQL, Redis and RabbitMQ: private servers in a temporary directory,
on free ports, that the run crashes and starts again (never the machine's shared services).

Each is crashed as a power cut would crash it, and started again on the same data:

- PostgreSQL: ``pg_ctl stop -m immediate`` (no checkpoint: the restart replays the WAL);
- Redis: SIGKILL. It persists as DEPLOY.md asks production to (``appendonly yes``,
  ``appendfsync everysec``), so a crash may lose up to the last second of messages: the
  sweeps must re-send those, and the run's checks show whether they did;
- RabbitMQ (the broker of one run): a node of its own (its node name, ports and Mnesia
  directory under the temporary directory), its VM SIGKILLed and started again.

PostgreSQL refuses to run as root: when this process is root, its commands run as the
``postgres`` user (``runuser``), which owns the data directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.bench.stack import StackError, free_port, spawn, stop_process

#: Where Debian installs PostgreSQL's server programs (the newest version is used).
POSTGRES_ROOT = Path("/usr/lib/postgresql")


def system_command(name: str) -> str:
    """A system tool by name: on the PATH, else in the sbin folders a minimal PATH leaves out
    (``runuser`` and ``rabbitmq-server`` live in /usr/sbin on Debian; CI's PATH may lack it)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")
    if found is None:
        raise StackError(f"{name} is not installed (looked on the PATH and in /usr/sbin, /sbin)")
    return found


def _wait(what: str, check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise StackError(f"{what} did not answer within {timeout:.0f}s")


def postgres_bin() -> Path:
    """The directory of ``initdb``/``pg_ctl`` (the newest installed version)."""
    found = sorted(POSTGRES_ROOT.glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise StackError(f"no PostgreSQL server programs under {POSTGRES_ROOT}")
    return found[-1].parent


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of its own; ``crash()`` then ``start()`` restarts it."""

    root: Path
    port: int = field(default_factory=free_port)
    restarts: int = 0

    @property
    def data(self) -> Path:
        return self.root / "pgdata"

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        argv = [str(postgres_bin() / command[0]), *command[1:]]
        if os.geteuid() == 0:
            argv = [system_command("runuser"), "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
        if done.returncode != 0:
            raise StackError(f"{command[0]} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # The postgres user must reach its data: the run's directories are opened to it.
            os.chmod(self.root.parent, 0o755)  # noqa: PTH101, S103 - no secrets in there
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        self.start()

    def start(self) -> None:
        # fsync stays on: a crash must lose nothing a commit acknowledged.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"
        )
        log = self.root / "postgres.log"
        self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-o", options, "-l", str(log)
        )

    def crash(self) -> None:
        """Stop without a checkpoint, as a power cut would; then start on the same data."""
        self._run("pg_ctl", "stop", "-m", "immediate", "-D", str(self.data))
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "stop", "-m", "fast", "-D", str(self.data))


@dataclass
class PrivateRedis:
    """A redis-server of its own with production's persistence; ``crash()`` SIGKILLs and
    starts it again on the same append-only file."""

    root: Path
    port: int = field(default_factory=free_port)
    restarts: int = 0
    process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.root.mkdir(parents=True, exist_ok=True)
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.root), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "",
        ]  # fmt: skip
        self.process = spawn(command, dict(os.environ), stdout=subprocess.DEVNULL)
        _wait("the private redis-server", lambda: redis.Redis.from_url(self.url).ping(), 30)

    def crash(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


@dataclass
class PrivateRabbit:
    """A RabbitMQ node of its own (name, ports, Mnesia and logs under ``root``); ``crash()``
    SIGKILLs its VM and starts it again on the same Mnesia directory."""

    root: Path
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    restarts: int = 0
    process: subprocess.Popen[str] | None = None

    @property
    def node(self) -> str:
        return f"pidsync-chaos-{self.port}@localhost"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.root / "log"),
                "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(self.root / "rabbit.pid"),
                "HOME": str(self.root),
            }
        )
        return env

    def start(self) -> None:
        import pika  # type: ignore[import-untyped]

        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq.conf").write_text("loopback_users = none\n")
        cookie = self.root / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(f"pidsyncchaos{self.port}")
            cookie.chmod(0o400)
        if os.geteuid() == 0:
            # Debian's rabbitmq-server runs the node as the rabbitmq user: it must own the node's
            # directory (the cookie, Mnesia, logs), and reach it.
            os.chmod(self.root.parent, 0o755)  # noqa: PTH101, S103 - no secrets in there
            for path in (self.root, *self.root.rglob("*")):
                shutil.chown(path, "rabbitmq", "rabbitmq")
        self.process = spawn(
            [system_command("rabbitmq-server")], self.env(), stdout=subprocess.DEVNULL
        )

        def up() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise StackError(f"rabbitmq-server exited with code {self.process.returncode}")
            pika.BlockingConnection(pika.URLParameters(self.url)).close()
            return True

        try:
            _wait("the private RabbitMQ node", up, 120)
        except StackError:
            self.stop()
            raise

    def _kill(self) -> None:
        """SIGKILL the node: the Erlang VM (its pid in the pid file: it runs as the rabbitmq
        user, outside our process group) and the start script."""
        pid_file = self.root / "rabbit.pid"
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def crash(self) -> None:
        self._kill()
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        self._kill()
