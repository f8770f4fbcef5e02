"""Sending events and reading what became of them: ``emit`` and ``status``.

Both act as an intake client over HTTP, signing with ``PIDSYNC_EMIT_CLIENT`` /
``PIDSYNC_EMIT_SECRET`` against ``PIDSYNC_EMIT_URL`` (from the environment, ``.env`` or
``PIDSYNC_ENV_FILE``; options override), so a client reads only its own works.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from worker.cli.common import fail


def _client_settings(
    url: str | None, client: str | None, secret: str | None
) -> tuple[str, str, str]:
    """The URL, client and secret: options first, then the configuration."""
    from worker.config import ConfigError, load_settings

    try:
        emit = load_settings().emit
    except ConfigError as exc:
        fail(str(exc))
    client = client or emit.client
    secret = secret or (emit.secret.get_secret_value() if emit.secret else None)
    if not client or not secret:
        fail("set PIDSYNC_EMIT_CLIENT and PIDSYNC_EMIT_SECRET (or --client and --secret)")
    return url or emit.url, client, secret


def _finish(status_code: int, body: Any, command: str) -> None:
    click.echo(json.dumps(body, indent=2))
    if status_code >= 400:
        reason = body.get("error", "") if isinstance(body, dict) else ""
        click.echo(f"pidsync {command}: rejected with HTTP {status_code}: {reason}", err=True)
        sys.exit(2 if status_code < 500 else 1)


@click.command()
@click.argument("source", required=False)
@click.argument("work_id", required=False)
@click.option("--url", help="pidsync's base URL [PIDSYNC_EMIT_URL, default http://127.0.0.1:8000]")
@click.option("--client", help="intake client id [PIDSYNC_EMIT_CLIENT]")
@click.option("--secret", help="the client's secret [PIDSYNC_EMIT_SECRET]")
@click.option(
    "--kind",
    type=click.Choice(["work", "affiliation", "funding", "review"]),
    default="work",
    show_default=True,
    help="what SOURCE and ID name",
)
@click.option("--json", "as_json", is_flag=True, help="The overview as JSON (without a work).")
def status(
    source: str | None,
    work_id: str | None,
    url: str | None,
    client: str | None,
    secret: str | None,
    kind: str,
    as_json: bool,
) -> None:
    """Print a work's status (DOI, ORCID placements, events), or an affiliation's, funding's
    or review's (its ORCID items), as JSON, read through the signed status API as the
    configured intake client. Without SOURCE and WORK_ID: the operator's overview of every
    tenant, from the database (worker.cli.ops)."""
    from worker.events.emit import EmitError, read_signed, work_path

    if source is None or work_id is None:
        if source is not None:
            fail("give SOURCE and WORK_ID together, or neither for the overview")
        from worker.cli.ops import print_overview

        print_overview(as_json)
        return

    base, client_id, key = _client_settings(url, client, secret)
    try:
        status_code, body = read_signed(
            work_path(source, work_id, f"{kind}s"), url=base, client=client_id, secret=key
        )
    except EmitError as exc:
        fail(str(exc), exc.exit_code)
    _finish(status_code, body, "status")


@click.command()
@click.argument("file", type=click.File("rb"))
@click.option("--url", help="pidsync's base URL [PIDSYNC_EMIT_URL, default http://127.0.0.1:8000]")
@click.option("--client", help="intake client id [PIDSYNC_EMIT_CLIENT]")
@click.option("--secret", help="the client's secret [PIDSYNC_EMIT_SECRET]")
def emit(file: Any, url: str | None, client: str | None, secret: str | None) -> None:
    """Sign and post one CloudEvent or a batch (a JSON array) from FILE, or - for stdin."""
    from worker.events.emit import EmitError, emit_raw

    raw = file.read()
    base, client_id, key = _client_settings(url, client, secret)
    try:
        status_code, body = emit_raw(raw, url=base, client=client_id, secret=key)
    except EmitError as exc:
        click.echo(f"pidsync emit: {exc}", err=True)
        sys.exit(exc.exit_code)
    _finish(status_code, body, "emit")
