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


@click.command("preview")
@click.argument("orcid_id", metavar="ORCID")
@click.option("--tenant", help="Only this intake client's items (default: every client's).")
@click.option("--json", "as_json", is_flag=True, help="The whole plan as JSON on stdout.")
def preview_command(orcid_id: str, tenant: str | None, as_json: bool) -> None:
    """What pidsync would add, update and remove on a record; nothing is written."""
    from worker.orcid.preview import RecordUnreadable, UnknownResearcher, preview
    from worker.pids.identifiers import InvalidIdentifier, normalize_orcid

    try:
        orcid_id = normalize_orcid(orcid_id)
    except InvalidIdentifier as exc:
        fail(f"ORCID: {exc.reason}")
    runtime = boot()
    if tenant is not None and tenant not in runtime.settings.intake_clients:
        fail(f"--tenant: no intake client {tenant!r} is configured")
    with runtime.database.session() as session:
        try:
            found = preview(session, runtime.orcid, orcid_id, tenant)
        except UnknownResearcher:
            fail(f"nothing pidsync holds names {orcid_id}" + (f" for {tenant}" if tenant else ""))
        except RecordUnreadable as exc:
            fail(f"the ORCID record could not be read: {exc}", 1)
        finally:
            session.rollback()  # a preview writes nothing, whatever it touched on the way
    if as_json:
        click.echo(json.dumps(found.as_dict(), indent=2, ensure_ascii=False))
        return
    for name, plan in found.sections.items():
        click.echo(
            f"{name}: {plan.count('add')} to add, {plan.count('update')} to update, "
            f"{plan.count('remove')} to remove, {plan.unchanged} unchanged, "
            f"{len(plan.waiting)} waiting"
        )
        for change in [*plan.changes, *plan.waiting]:
            where = f" (put-code {change.put_code})" if change.put_code else ""
            note = f" [{change.note}]" if change.note else ""
            # A work shows its title; an affiliation, funding or review the section it goes to.
            what = change.title if change.title is not None else change.item.get("section")
            click.echo(f"  {change.action:<6} {change.item['id']}: {what}{where}{note}")
        for group in plan.group_ids:
            click.echo(f"  register group id {group} (unless ORCID's registry has it)")
