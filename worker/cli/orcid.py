"""ORCID commands. Wiring (for ``worker/cli.py``):

- ``orcid``: the ``pidsync orcid`` group: ``record``, ``search``, ``suggest`` (stateless: no
  database, no broker) and ``re-add`` (an operator puts back a work the researcher removed);
- ``rotate_keys``: ``pidsync tokens rotate-keys``;
- ``revoke``: ``pidsync tokens revoke ORCID``;
- ``reconcile_orcid``: ``pidsync reconcile orcid [--orcid ORCID]``.

Machine-readable output goes to stdout, notes to stderr; bad input exits 2 naming it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from worker.cli.common import boot


def _settings() -> Any:
    from worker.config import ConfigError, load_settings
    from worker.logging import configure_logging, register_secret

    try:
        settings = load_settings()
    except ConfigError as exc:
        click.echo(f"pidsync: {exc}", err=True)
        sys.exit(2)
    configure_logging(settings.log_level, settings.log_renderer)  # to stderr, never stdout
    for client in settings.orcid_client_list():
        register_secret(client.client_secret.get_secret_value())
    return settings


def _public() -> Any:
    """The public API client: with the first configured client's /read-public token, else
    anonymous. No database, no broker, no rate-limit store."""
    from worker.orcid.deps import public_client
    from worker.orcid.oauth import OrcidOAuth

    settings = _settings()
    clients = settings.orcid_client_list()
    oauth = OrcidOAuth(settings.orcid_oauth_url, clients[0]) if clients else None
    return public_client(settings, oauth=oauth)


def _print(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _fail_http(exc: Exception) -> None:
    from worker.logging import redact_text

    click.echo(f"pidsync orcid: {redact_text(str(exc))}", err=True)
    sys.exit(1)


def _orcid_arg(value: str) -> str:
    from worker.pids.identifiers import InvalidIdentifier, normalize_orcid

    try:
        return normalize_orcid(value)
    except InvalidIdentifier as exc:
        click.echo(f"pidsync: ORCID: {exc.reason}", err=True)
        sys.exit(2)


@click.group()
def orcid() -> None:
    """ORCID records, search and suggestions; placements."""


@orcid.command("record")
@click.argument("orcid_id", metavar="ORCID")
@click.option("--works", "works_only", is_flag=True, help="Only the works, as summaries.")
def record(orcid_id: str, works_only: bool) -> None:
    """Print a public ORCID record (or its works) as JSON."""
    from worker.http import HttpError

    orcid_id = _orcid_arg(orcid_id)
    public = _public()
    try:
        if works_only:
            _print([w.as_report() for w in public.works(orcid_id)])
        else:
            _print(public.record(orcid_id))
    except HttpError as exc:
        _fail_http(exc)


@orcid.command("search")
@click.argument("query")
@click.option("--expanded", is_flag=True, help="Names, e-mails and institutions of each hit.")
@click.option("--rows", default=100, show_default=True, type=click.IntRange(0, 1000))
@click.option("--start", default=0, show_default=True, type=click.IntRange(0, 10000))
def search_command(query: str, expanded: bool, rows: int, start: int) -> None:
    """Search ORCID with a Solr QUERY, e.g. 'family-name:Smith AND affiliation-org-name:X'."""
    from worker.http import HttpError

    public = _public()
    try:
        if expanded:
            _print(public.expanded_search(query, start=start, rows=rows))
        else:
            _print(public.search(query, start=start, rows=rows))
    except HttpError as exc:
        if getattr(exc, "status", None) == 400:
            click.echo(f"pidsync orcid search: QUERY refused by ORCID: {exc}", err=True)
            sys.exit(2)
        _fail_http(exc)


@orcid.command("suggest")
@click.option("--given", help="Given name(s).")
@click.option("--family", help="Family name.")
@click.option("--affiliation", "affiliations", multiple=True, help="Affiliation (repeatable).")
@click.option("--email", help="E-mail address.")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 50))
def suggest_command(
    given: str | None,
    family: str | None,
    affiliations: tuple[str, ...],
    email: str | None,
    limit: int,
) -> None:
    """Propose ORCID iDs for a person (name + affiliation + e-mail), best first. Proposals
    only: nothing is written anywhere."""
    from worker.http import HttpError
    from worker.orcid.search import suggest

    if not family and not email:
        click.echo("pidsync orcid suggest: --family or --email is required", err=True)
        sys.exit(2)
    try:
        found = suggest(
            _public(),
            given=given,
            family=family,
            affiliations=list(affiliations),
            email=email,
            limit=limit,
        )
    except HttpError as exc:
        _fail_http(exc)
        return
    _print([c.as_dict() for c in found])


@orcid.command("re-add")
@click.argument("source")
@click.argument("work_id")
@click.argument("orcid_id", metavar="ORCID")
def readd_command(source: str, work_id: str, orcid_id: str) -> None:
    """Put back a work the researcher removed from their record (or that failed)."""
    from sqlalchemy import select

    from worker.models import OrcidPlacement
    from worker.orcid.placements import readd
    from worker.works.service import get_work

    orcid_id = _orcid_arg(orcid_id)
    runtime = boot()
    with runtime.database.session() as session:
        work = get_work(session, source, work_id)
        if work is None:
            click.echo(f"pidsync: no work {work_id!r} from source {source!r}", err=True)
            sys.exit(2)
        rows = session.execute(
            select(OrcidPlacement).where(
                OrcidPlacement.work_id == work.id, OrcidPlacement.orcid == orcid_id
            )
        ).scalars()
        done = [row.id for row in rows if readd(session, row)]
    if not done:
        click.echo(
            "pidsync: nothing to re-add (only removed_by_researcher or failed placements)",
            err=True,
        )
        sys.exit(2)
    _print({"requeued": done})


@click.command("rotate-keys")
@click.option("--check", is_flag=True, help="Only report tokens no configured key opens.")
def rotate_keys(check: bool) -> None:
    """Re-encrypt every stored token under the newest key of PIDSYNC_TOKEN_KEYS."""
    from worker.orcid.keys import rotate_stored_tokens, undecryptable
    from worker.orcid.tokens import TokenKeyError

    runtime = boot()
    if check:
        with runtime.database.session() as session:
            problems = undecryptable(session, runtime.cipher)
        _print({"undecryptable": problems})
        sys.exit(1 if problems else 0)
    try:
        with runtime.database.session() as session:
            counts = rotate_stored_tokens(session, runtime.cipher)
    except TokenKeyError as exc:
        click.echo(f"pidsync tokens rotate-keys: {exc}; nothing was changed", err=True)
        sys.exit(1)
    _print(counts)
    click.echo("every stored token is now sealed with the newest key", err=True)


@click.command("revoke")
@click.argument("orcid_id", metavar="ORCID")
@click.option("--client-id", help="Only this ORCID client's grant.")
def revoke(orcid_id: str, client_id: str | None) -> None:
    """Revoke a researcher's grant: here (nothing more is placed) and at ORCID."""
    from worker.orcid.revocation import revoke_at_orcid, revoke_grants

    orcid_id = _orcid_arg(orcid_id)
    runtime = boot()
    deps = runtime.orcid
    with runtime.database.session() as session:
        ids = revoke_grants(
            session, runtime.settings, orcid_id, client_id, "revoked by an operator"
        )
    if not ids:
        click.echo(f"pidsync: no grant with a token for {orcid_id}", err=True)
        sys.exit(2)
    results: list[dict[str, Any]] = []
    unreached = False
    for grant_id in ids:
        with runtime.database.session() as session:
            result = revoke_at_orcid(session, deps, grant_id)
        results.append({"grant": grant_id, "result": result.note})
        unreached = unreached or result.delay is not None
    _print(results)
    if unreached:
        click.echo("ORCID could not be reached; run the command again", err=True)
        sys.exit(1)


@click.command("orcid")
@click.option("--orcid", "orcid_id", help="Only this record (default: every granted record).")
def reconcile_orcid(orcid_id: str | None) -> None:
    """Read back ORCID records and repair drift (deleted, hidden, lost writes, stale metadata)."""
    from worker.orcid.reconcile import reconcile_record
    from worker.orcid.repository import granted_records

    runtime = boot()
    deps = runtime.orcid
    if orcid_id:
        records = [_orcid_arg(orcid_id)]
    else:
        with runtime.database.session() as session:
            records = granted_records(session)
    failed = 0
    for index, one in enumerate(records, 1):
        with runtime.database.session() as session:
            result = reconcile_record(session, deps, one)
        failed += result.delay is not None or result.failed
        click.echo(json.dumps(result.report, ensure_ascii=False))
        click.echo(f"[{index}/{len(records)}] {one}: {result.note}", err=True)
    sys.exit(1 if failed else 0)
