"""DOI commands:

- ``pidsync reconcile dois [--since DATE]`` (:data:`reconcile_dois`): read every confirmed DOI
  back from its agency, repair drift, and poll stuck Crossref deposits again. One JSON line per
  DOI on stdout; a summary on stderr.
- ``pidsync doi show SOURCE ID`` and ``pidsync doi release SOURCE ID [--force]`` (:data:`doi`).

Bad input or a registration in the wrong state exits 2 with a message naming it.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import click

from worker.cli.common import boot, fail
from worker.cli.progress import progress


@click.command("dois")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"]),
    help="Only DOIs confirmed since this date or time (UTC); default: all. DOIs confirmed "
    "less than PIDSYNC_DOI_RECONCILE_MIN_AGE_SECONDS ago (default 1 h: Crossref's search index "
    "lags) are left for a later run.",
)
def reconcile_dois(since: datetime | None) -> None:
    """Read DOIs back from DataCite and Crossref and repair drift (re-register what the agency
    does not know, update what differs, poll stuck deposits again)."""
    from worker.clock import utcnow
    from worker.errors import Postpone
    from worker.registrars import reconcile, sweep

    runtime = boot()
    deps = runtime.registrars
    started = utcnow()
    with runtime.database.session() as session:
        ids = reconcile.due_registrations(
            session,
            deps.settings,
            now=started,
            since=since.replace(tzinfo=UTC) if since else None,
            every=True,
        )
    kinds: Counter[reconcile.FindingKind] = Counter()
    for registration_id in progress(ids, total=len(ids), label="reconciling DOIs"):
        finding = None
        while True:
            try:
                with runtime.database.session() as session:
                    finding = reconcile.reconcile_registration(session, deps, registration_id)
                break
            except Postpone as wait:  # the shared rate limit: wait for a slot
                time.sleep(wait.delay)
        if finding is not None:
            kinds[finding.kind] += 1
            click.echo(json.dumps(finding.as_dict()))
    repolled = sweep.deposit_upkeep(runtime.database, settings=deps.settings, now=utcnow())
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())) or "none"
    click.echo(
        f"reconciled {len(ids)} DOIs ({summary}); {repolled} stuck deposits polled again",
        err=True,
    )
    if kinds[reconcile.FindingKind.ERROR]:
        sys.exit(1)


@click.group()
def doi() -> None:
    """DOI registrations: show one, release one held as a possible duplicate."""


@doi.command("show")
@click.argument("work_source")
@click.argument("work_id")
def show(work_source: str, work_id: str) -> None:
    """Print a work's DOI registration (state, messages, deposits) as JSON."""
    from worker.registrars.repository import registration_of
    from worker.registrars.status import describe
    from worker.works.service import get_work

    runtime = boot()
    with runtime.database.session() as session:
        work = get_work(session, work_source, work_id)
        if work is None:
            fail(f"no work {work_id!r} from source {work_source!r}")
            return
        reg = registration_of(session, work, lock=False)
        if reg is None:
            fail(f"work {work_id!r} from {work_source!r} has no DOI registration")
            return
        click.echo(json.dumps(describe(reg), indent=2))


@doi.command("release")
@click.argument("work_source")
@click.argument("work_id")
@click.option(
    "--force",
    is_flag=True,
    help="Send the registration again even when it is not on hold (e.g. failed, after its "
    "account was fixed), whatever the agency last confirmed.",
)
def release(work_source: str, work_id: str, force: bool) -> None:
    """Release a DOI held as a possible duplicate: it is registered as the work asks."""
    from worker.registrars import service
    from worker.registrars.status import describe

    runtime = boot()
    try:
        with runtime.database.session() as session:
            reg = service.release(
                session, work_source, work_id, settings=runtime.settings, force=force
            )
            details = describe(reg)
    except (LookupError, service.ReleaseRefused) as exc:
        fail(str(exc))
        return
    click.echo(json.dumps(details, indent=2))
