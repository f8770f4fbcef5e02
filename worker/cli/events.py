"""Sending events and reading what became of them: ``emit`` and ``status``.

Both act as an intake client over HTTP, signing with ``PIDSYNC_EMIT_CLIENT`` /
``PIDSYNC_EMIT_SECRET`` against ``PIDSYNC_EMIT_URL`` (from the environment, ``.env`` or
``PIDSYNC_ENV_FILE``; options override), so a client reads only its own works.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from worker.cli.common import fail

if TYPE_CHECKING:
    from worker.client import Answer, PidsyncClient


def _client(url: str | None, client: str | None, secret: str | None) -> PidsyncClient:
    """The signing client: options first, then the configuration (environment, ``.env`` or
    ``PIDSYNC_ENV_FILE``, read as every other command reads it)."""
    from worker.client import PidsyncClient
    from worker.config import ConfigError, load_settings

    try:
        emit = load_settings().emit
    except ConfigError as exc:
        fail(str(exc))
    client = client or emit.client
    secret = secret or (emit.secret.get_secret_value() if emit.secret else None)
    missing = [
        f"{name} (or {option})"
        for name, option, value in (
            ("PIDSYNC_EMIT_CLIENT", "--client", client),
            ("PIDSYNC_EMIT_SECRET", "--secret", secret),
        )
        if not value
    ]
    if missing or client is None or secret is None:
        fail(
            f"set {' and '.join(missing)}: the intake client to sign as, in the environment, "
            ".env or the file named by PIDSYNC_ENV_FILE"
        )
    return PidsyncClient(url or emit.url, client, secret)


def _finish(answer: Answer, command: str) -> None:
    click.echo(json.dumps(answer.body, indent=2))
    if not answer.ok:
        reason = answer.body.get("error", "") if isinstance(answer.body, dict) else ""
        click.echo(f"pidsync {command}: rejected with HTTP {answer.status}: {reason}", err=True)
        sys.exit(2 if answer.status < 500 else 1)


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
    from worker.client import PidsyncUnreachable

    if source is None or work_id is None:
        if source is not None:
            fail("give SOURCE and WORK_ID together, or neither for the overview")
        from worker.cli.ops import print_overview

        print_overview(as_json)
        return

    pidsync = _client(url, client, secret)
    try:
        answer = pidsync.work_status(source, work_id, collection=f"{kind}s")
    except PidsyncUnreachable as exc:
        fail(str(exc), 1)
    _finish(answer, "status")


@click.command()
@click.argument("file", type=click.File("rb"))
@click.option("--url", help="pidsync's base URL [PIDSYNC_EMIT_URL, default http://127.0.0.1:8000]")
@click.option("--client", help="intake client id [PIDSYNC_EMIT_CLIENT]")
@click.option("--secret", help="the client's secret [PIDSYNC_EMIT_SECRET]")
def emit(file: Any, url: str | None, client: str | None, secret: str | None) -> None:
    """Sign and post one CloudEvent or a batch (a JSON array) from FILE, or - for stdin."""
    from worker.client import PidsyncUnreachable

    raw = file.read()
    pidsync = _client(url, client, secret)
    try:
        answer = pidsync.send_raw(raw)
    except ValueError as exc:
        fail(f"emit: {exc}")
    except PidsyncUnreachable as exc:
        fail(f"emit: {exc}", 1)
    _finish(answer, "emit")
