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
#: dramatiq's fork process serving the worker's metrics (PIDSYNC_WORKER_METRICS_PORT).
METRICS_FORK = "worker.metrics.exposition:serve_worker_metrics"


@click.command()
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - a server binds all
@click.option("--port", default=lambda: int(os.environ.get("PORT", "8000")), type=int)
def web(host: str, port: int) -> None:
    """Run the web app: event intake, status API, schema, health, metrics."""
    import uvicorn

    from worker.broker import freeze_booted_heap
    from worker.web.app import create_app

    runtime = boot()
    app = create_app(runtime)
    # A full collection of the booted heap held every request for about 100 ms: the intake's
    # p99 went from 11 ms to 76-140 ms whenever one fell inside a run (issue 13).
    freeze_booted_heap()
    # uvicorn re-raises SIGTERM after its graceful shutdown; exiting normally instead lets the
    # embedded servers see this process leave (the last one out stops them).
    signal.signal(signal.SIGTERM, lambda _s, _f: sys.exit(0))
    uvicorn.run(app, host=host, port=port, log_config=None)


@click.command()
@click.option("--processes", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
@click.option(
    "--shutdown-timeout",
    default=100.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="On SIGTERM, seconds running messages get to finish before they are cut (and "
    "redelivered); keep it below the supervisor's grace period.",
)
@click.option(
    "--queue",
    "queues",
    multiple=True,
    help="Consume only this queue (repeatable; default: all of them): pidsync (events and "
    "read-backs) or pidsync-effects (DOIs, placements, webhooks), e.g. to give the effects "
    "workers of their own.",
)
def worker(processes: int, threads: int, shutdown_timeout: float, queues: tuple[str, ...]) -> None:
    """Run dramatiq worker processes for every actor."""
    # Imported here: the stateless commands of this CLI never load the broker's stack.
    from worker.broker import QUEUES
    from worker.metrics.exposition import multiprocess_env, remove_multiprocess_dir

    unknown = sorted(set(queues) - set(QUEUES))
    if unknown:
        raise click.BadParameter(
            f"no queue {', '.join(unknown)}; pidsync's queues are {', '.join(QUEUES)}",
            param_hint="--queue",
        )

    runtime = boot()
    env = dict(os.environ)
    # Children attach to the servers this process resolved (embedded ones included).
    env["PIDSYNC_DATABASE_URL"] = runtime.database_url
    env["PIDSYNC_BROKER_URL"] = runtime.broker_url
    command = [
        sys.executable, "-m", "dramatiq", *WORKER_MODULES,
        "--processes", str(processes), "--threads", str(threads), "--queues", *(queues or QUEUES),
        "--worker-shutdown-timeout", str(int(shutdown_timeout * 1000)),
    ]  # fmt: skip
    # Each dramatiq process writes its counters to files there; one fork serves their sum.
    metrics_dir = multiprocess_env(env)
    if runtime.settings.worker_metrics_port:
        command += ["--fork-function", METRICS_FORK]
    # Its own process group: a terminal's Ctrl-C reaches only this process, which passes it on
    # once (dramatiq kills at once a worker process that is told to stop twice).
    child = subprocess.Popen(command, env=env, process_group=0)  # noqa: S603 - our own module
    # SIGTERM is passed on: dramatiq stops fetching, lets running messages finish (up to
    # --shutdown-timeout) and gives the prefetched ones back to the queue, so none is lost.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, _f: child.send_signal(s))
    code = child.wait()
    remove_multiprocess_dir(metrics_dir, env)
    sys.exit(code)


@click.command()
@click.option("--once", is_flag=True, help="Run the due jobs once (if leader) and exit.")
def scheduler(once: bool) -> None:
    """Run periodic work; one leader at a time through a Postgres advisory lock."""
    from worker.metrics.exposition import start_server as start_metrics_server
    from worker.scheduler import default_jobs, run_scheduler

    runtime = boot()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _s, _f: stop.set())
    jobs = default_jobs(runtime)
    settings = runtime.settings
    if settings.scheduler_metrics_port and not once:
        start_metrics_server(settings.metrics_host, settings.scheduler_metrics_port)
    led = run_scheduler(
        runtime.database, jobs, stop=stop, once=once,
        lock_timeout=settings.scheduler_lock_timeout_seconds,
    )  # fmt: skip
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
