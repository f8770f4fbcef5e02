"""The ``pidsync`` command. Each domain adds its own commands; stateless ones (render,
sandbox, ...) import nothing from the database or broker stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import click

from worker.config import ConfigError


def _boot(**kw: Any) -> Any:
    """Boot or exit with one line: 2 for bad configuration, 1 for an unreachable server."""
    from worker.bootstrap import BootError, boot

    try:
        return boot(**kw)
    except ConfigError as exc:
        click.echo(f"pidsync: {exc}", err=True)
        sys.exit(2)
    except BootError as exc:
        click.echo(f"pidsync: {exc}", err=True)
        sys.exit(1)


@click.group()
@click.version_option(package_name="pidsync")
def main() -> None:
    """pidsync: DOIs at DataCite and Crossref, works on ORCID records, exactly once."""


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - a server binds all
@click.option("--port", default=lambda: int(os.environ.get("PORT", "8000")), type=int)
def web(host: str, port: int) -> None:
    """Run the web app: event intake, status API, schema, health, metrics."""
    import uvicorn

    from worker.web.app import create_app

    runtime = _boot()
    # uvicorn re-raises SIGTERM after its graceful shutdown; exiting normally instead lets the
    # embedded servers see this process leave (the last one out stops them).
    signal.signal(signal.SIGTERM, lambda _s, _f: sys.exit(0))
    uvicorn.run(create_app(runtime), host=host, port=port, log_config=None)


@main.command()
@click.option("--processes", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
def worker(processes: int, threads: int) -> None:
    """Run dramatiq worker processes for every actor."""
    runtime = _boot()
    env = dict(os.environ)
    # Children attach to the servers this process resolved (embedded ones included).
    env["PIDSYNC_DATABASE_URL"] = runtime.database_url
    env["PIDSYNC_BROKER_URL"] = runtime.broker_url
    command = [
        sys.executable, "-m", "dramatiq", "worker.entrypoint",
        "--processes", str(processes), "--threads", str(threads), "--queues", "pidsync",
    ]  # fmt: skip
    child = subprocess.Popen(command, env=env)  # noqa: S603 - our own interpreter and module
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, _f: child.send_signal(s))
    sys.exit(child.wait())


@main.command()
@click.option("--once", is_flag=True, help="Run the due jobs once (if leader) and exit.")
def scheduler(once: bool) -> None:
    """Run periodic work; one leader at a time through a Postgres advisory lock."""
    from worker.scheduler import default_jobs, run_scheduler

    runtime = _boot()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _s, _f: stop.set())
    jobs = default_jobs(runtime)
    led = run_scheduler(runtime.database, jobs, stop=stop, once=once)
    if once and not led:
        click.echo("another scheduler holds the leader lock; nothing run", err=True)


@main.command()
def migrate() -> None:
    """Apply database migrations (alembic upgrade head)."""
    _boot(migrate=True)
    click.echo("database is at the latest migration", err=True)


@main.command()
@click.argument("source")
@click.argument("work_id")
def status(source: str, work_id: str) -> None:
    """Print a work's status (DOI, ORCID placements, events) as JSON."""
    from worker.ops.status import work_status

    runtime = _boot()
    with runtime.database.session() as session:
        found = work_status(session, source, work_id)
    if found is None:
        click.echo(f"pidsync: no work {work_id!r} from source {source!r}", err=True)
        sys.exit(2)
    click.echo(json.dumps(found, indent=2))


@main.command()
@click.argument("file", type=click.File("rb"))
@click.option(
    "--url", envvar="PIDSYNC_EMIT_URL", default="http://127.0.0.1:8000", show_default=True
)
@click.option("--client", envvar="PIDSYNC_EMIT_CLIENT", required=True)
@click.option("--secret", envvar="PIDSYNC_EMIT_SECRET", required=True)
def emit(file: Any, url: str, client: str, secret: str) -> None:
    """Sign and post one CloudEvent or a batch (a JSON array) from FILE, or - for stdin."""
    from worker.events.emit import EmitError, emit_raw

    raw = file.read()
    try:
        status_code, body = emit_raw(raw, url=url, client=client, secret=secret)
    except EmitError as exc:
        click.echo(f"pidsync emit: {exc}", err=True)
        sys.exit(exc.exit_code)
    click.echo(json.dumps(body, indent=2))
    if status_code >= 400:
        reason = body.get("error", "") if isinstance(body, dict) else ""
        click.echo(f"pidsync emit: rejected with HTTP {status_code}: {reason}", err=True)
        sys.exit(2 if status_code < 500 else 1)


@main.command()
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="Keep the demo's servers' data here."
)
def demo(data_dir: Path | None) -> None:
    """Run the whole pipeline on embedded servers and sample events, and show what happened."""
    from worker.demo import run_demo

    sys.exit(run_demo(data_dir))


@main.group("dead-letters")
def dead_letters() -> None:
    """Messages parked after their tries ran out, with the reason."""


@dead_letters.command("list")
@click.option("--all", "include_requeued", is_flag=True, help="Include requeued ones.")
@click.option("--json", "as_json", is_flag=True)
def dead_letters_list(include_requeued: bool, as_json: bool) -> None:
    """List parked messages, newest first."""
    from worker.ops.dead_letters import list_dead_letters

    runtime = _boot()
    with runtime.database.session() as session:
        rows: list[dict[str, Any]] = [
            {"id": d.id, "actor": d.actor, "args": d.args, "reason": d.reason,
             "created_at": d.created_at.isoformat(),
             "requeued_at": d.requeued_at.isoformat() if d.requeued_at else None}
            for d in list_dead_letters(session, include_requeued=include_requeued)
        ]  # fmt: skip
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no dead letters", err=True)
    for row in rows:
        click.echo(f"{row['id']:>6}  {row['created_at'][:19]}  {row['actor']}{row['args']}")
        click.echo(f"        {row['reason']}")


@dead_letters.command("requeue")
@click.argument("letter_id", type=int)
def dead_letters_requeue(letter_id: int) -> None:
    """Send a parked message again, once (after fixing its cause)."""
    from worker.ops.dead_letters import requeue

    runtime = _boot()
    try:
        with runtime.database.session() as session:
            letter = requeue(session, letter_id)
    except LookupError as exc:
        click.echo(f"pidsync: {exc}", err=True)
        sys.exit(2)
    click.echo(f"requeued {letter.actor}{letter.args}", err=True)


@main.group()
def reconcile() -> None:
    """Read back what the agencies and ORCID hold and repair drift."""


@main.group()
def tokens() -> None:
    """Token encryption keys."""


@tokens.command("new-key")
def tokens_new_key() -> None:
    """Print a new Fernet key for PIDSYNC_TOKEN_KEYS (put it first to rotate)."""
    from worker.orcid.tokens import new_key

    click.echo(new_key())


def _add_domain_commands() -> None:
    # These modules import nothing from the database or broker stack (stateless commands).
    # Each domain's commands import their database or broker needs lazily, inside the command.
    from worker.metadata.cli import render
    from worker.orcid.cli import orcid, reconcile_orcid, revoke, rotate_keys
    from worker.pids.cli import id_command, resolve, search
    from worker.registrars.cli import doi, reconcile_dois
    from worker.sandbox.cli import sandbox

    for command in (render, sandbox, resolve, search, id_command, orcid, doi):
        main.add_command(command)
    tokens.add_command(rotate_keys, "rotate-keys")
    tokens.add_command(revoke, "revoke")
    reconcile.add_command(reconcile_dois, "dois")
    reconcile.add_command(reconcile_orcid, "orcid")


_add_domain_commands()


if __name__ == "__main__":
    main()
