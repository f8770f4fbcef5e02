"""Sending events and reading what became of them: ``emit`` and ``status``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from worker.cli.common import boot


@click.command()
@click.argument("source")
@click.argument("work_id")
def status(source: str, work_id: str) -> None:
    """Print a work's status (DOI, ORCID placements, events) as JSON."""
    from worker.ops.status import work_status

    runtime = boot()
    with runtime.database.session() as session:
        found = work_status(session, source, work_id)
    if found is None:
        click.echo(f"pidsync: no work {work_id!r} from source {source!r}", err=True)
        sys.exit(2)
    click.echo(json.dumps(found, indent=2))


@click.command()
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
