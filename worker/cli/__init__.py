"""The ``pidsync`` command: one module per command group.

Modules: ``processes`` (web, worker, scheduler, migrate, demo), ``events`` (emit, status),
``dead_letters``, ``retry`` (retry now), ``ops`` (the overview, works list/show, ops
hash-password), ``doi`` (doi, reconcile dois), ``orcid`` (orcid, reconcile orcid, tokens
rotate-keys/revoke), ``orcid_plan`` (orcid preview, versions), ``pids`` (resolve, search, id),
``render``, ``sandbox``, ``bench`` and ``chaos``. Importing them opens no connection: stateless
commands (render, sandbox, resolve, search, id, orcid search) never import the database or
broker stack, and stateful ones import it inside the command.
"""

from __future__ import annotations

import click

from worker.cli import (
    bench,
    chaos,
    dead_letters,
    doi,
    events,
    ops,
    orcid,
    orcid_plan,
    pids,
    processes,
    render,
    retry,
    sandbox,
)


@click.group()
@click.version_option(package_name="pidsync")
def main() -> None:
    """pidsync: DOIs at DataCite and Crossref, works on ORCID records, exactly once."""


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


for _command in (
    processes.web,
    processes.worker,
    processes.scheduler,
    processes.migrate,
    processes.demo,
    events.emit,
    events.status,
    dead_letters.dead_letters,
    render.render,
    sandbox.sandbox,
    pids.resolve,
    pids.search,
    pids.id_command,
    orcid.orcid,
    doi.doi,
    retry.retry,
    ops.ops,
    ops.works,
    bench.bench,
    chaos.chaos,
):
    main.add_command(_command)
tokens.add_command(orcid.rotate_keys, "rotate-keys")
tokens.add_command(orcid.revoke, "revoke")
reconcile.add_command(doi.reconcile_dois, "dois")
reconcile.add_command(orcid.reconcile_orcid, "orcid")
# Issue 15 (version families, preview): their own module, added to the orcid group.
orcid.orcid.add_command(orcid_plan.versions, "versions")
orcid.orcid.add_command(orcid_plan.preview_command, "preview")
