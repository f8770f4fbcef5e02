"""The processes of the Procfile (``web``, ``worker``, ``scheduler``, ``migrate``) and the
demo that runs them all together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import click

from worker.cli.common import boot

#: What each dramatiq worker process imports, in order: the broker module (it boots the
#: process), then every actor.
WORKER_MODULES = ("worker.entrypoint", "worker.actors")


@click.command()
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - a server binds all
@click.option("--port", default=lambda: int(os.environ.get("PORT", "8000")), type=int)
def web(host: str, port: int) -> None:
    """Run the web app: event intake, status API, schema, health, metrics."""
    import uvicorn

    from worker.web.app import create_app

    runtime = boot()
    # uvicorn re-raises SIGTERM after its graceful shutdown; exiting normally instead lets the
    # embedded servers see this process leave (the last one out stops them).
    signal.signal(signal.SIGTERM, lambda _s, _f: sys.exit(0))
    uvicorn.run(create_app(runtime), host=host, port=port, log_config=None)


@click.command()
@click.option("--processes", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
def worker(processes: int, threads: int) -> None:
    """Run dramatiq worker processes for every actor."""
    runtime = boot()
    env = dict(os.environ)
    # Children attach to the servers this process resolved (embedded ones included).
    env["PIDSYNC_DATABASE_URL"] = runtime.database_url
    env["PIDSYNC_BROKER_URL"] = runtime.broker_url
    command = [
        sys.executable, "-m", "dramatiq", *WORKER_MODULES,
        "--processes", str(processes), "--threads", str(threads), "--queues", "pidsync",
    ]  # fmt: skip
    child = subprocess.Popen(command, env=env)  # noqa: S603 - our own interpreter and module
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, _f: child.send_signal(s))
    sys.exit(child.wait())


@click.command()
@click.option("--once", is_flag=True, help="Run the due jobs once (if leader) and exit.")
def scheduler(once: bool) -> None:
    """Run periodic work; one leader at a time through a Postgres advisory lock."""
    from worker.scheduler import default_jobs, run_scheduler

    runtime = boot()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _s, _f: stop.set())
    jobs = default_jobs(runtime)
    led = run_scheduler(runtime.database, jobs, stop=stop, once=once)
    if once and not led:
        click.echo("another scheduler holds the leader lock; nothing run", err=True)


@click.command()
def migrate() -> None:
    """Apply database migrations (alembic upgrade head)."""
    boot(migrate=True)
    click.echo("database is at the latest migration", err=True)


@click.command()
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="Keep the demo's servers' data here."
)
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the temporary data directory (about 50 MB) instead of removing it at the end.",
)
def demo(data_dir: Path | None, keep: bool) -> None:
    """Run the whole pipeline on embedded servers and sample events, and show what happened.
    Its data directory is temporary and removed at the end (unless --keep or --data-dir)."""
    from worker.demo import run_demo

    sys.exit(run_demo(data_dir, keep=keep))
