"""ORCID commands of issue 15, added to the ``pidsync orcid`` group by ``worker/cli/__init__``:

- ``versions converge [--tenant T]``: after ``orcid_versions`` changed, bring existing records
  in line (families recomputed, put-codes reused, extra works removed, folded versions added);
- ``preview ORCID [--tenant T] [--json]``: what pidsync would add, update and remove on a
  record, from the database and one read of the record; nothing is written.
"""

from __future__ import annotations

import json

import click

from worker.cli.common import boot, fail


@click.group()
def versions() -> None:
    """One ORCID work per version family (the intake clients' orcid_versions)."""


@versions.command("converge")
@click.option("--tenant", help="Only this intake client's works (default: every client's).")
def converge_command(tenant: str | None) -> None:
    """Bring placements in line with each client's orcid_versions (queues the changes)."""
    from worker.orcid.versions import converge

    runtime = boot()
    if tenant is not None and tenant not in runtime.settings.intake_clients:
        fail(f"--tenant: no intake client {tenant!r} is configured")
    with runtime.database.session() as session:
        done = converge(session, runtime.settings, tenant)
    click.echo(json.dumps(done.report()))
    click.echo(
        f"{done.families} version famil(ies) settled: {done.queued} placement(s) queued, "
        f"{done.removing} to remove",
        err=True,
    )
