"""``pidsync retry``: bring forward what waits and revive what failed, now.

Exit codes a script can use: 0 something was retried (or, with ``--dry-run``, would be);
3 nothing matched the selectors; 2 bad input (no selector, an invalid DOI or ORCID iD);
1 the database or broker cannot be reached.
"""

from __future__ import annotations

import json
import sys

import click

from worker.cli.common import boot, fail

#: Nothing matched: distinct from bad input (2) so a script can tell "done, nothing to do".
NOTHING_MATCHED = 3


@click.command("retry")
@click.option(
    "--work",
    nargs=2,
    metavar="SOURCE ID",
    help="A work by its CloudEvent source and its id: its events, DOI and placements.",
)
@click.option("--doi", help="A DOI (any common form: doi:, https://doi.org/...).")
@click.option("--orcid", help="A researcher's ORCID iD: their placements.")
@click.option(
    "--reason",
    help='A piece of the recorded error, case-insensitive (e.g. "401" after an account\'s '
    "password was fixed).",
)
@click.option("--dry-run", is_flag=True, help="List what would be retried; change nothing.")
def retry(
    work: tuple[str, str] | None,
    doi: str | None,
    orcid: str | None,
    reason: str | None,
    dry_run: bool,
) -> None:
    """Retry now what failed or waits for its next try (selectors combine: all must match).

    Prints one JSON object: dry_run, retried, skipped, and each item (kind event, doi or
    placement; action bring_forward, revive or skipped with its reason)."""
    from worker.ops import retry as service

    try:
        chosen = service.selector(work=work or None, doi=doi, orcid=orcid, reason=reason)
    except ValueError as exc:
        fail(str(exc))
    runtime = boot()
    with runtime.database.session() as session:
        report = service.retry(session, runtime.settings, chosen, dry_run=dry_run)
        if dry_run:
            session.rollback()
        body = report.as_dict()
    click.echo(json.dumps(body, indent=2))
    if not report.items:
        click.echo("pidsync: nothing failed or waiting matches", err=True)
        sys.exit(NOTHING_MATCHED)
