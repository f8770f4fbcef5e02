"""``pidsync dead-letters``: messages parked after their tries ran out, with the reason."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from worker.cli.common import boot


@click.group("dead-letters")
def dead_letters() -> None:
    """Messages parked after their tries ran out, with the reason."""


@dead_letters.command("list")
@click.option("--all", "include_requeued", is_flag=True, help="Include requeued ones.")
@click.option("--json", "as_json", is_flag=True)
def dead_letters_list(include_requeued: bool, as_json: bool) -> None:
    """List parked messages, newest first."""
    from worker.ops.dead_letters import list_dead_letters

    runtime = boot()
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

    runtime = boot()
    try:
        with runtime.database.session() as session:
            letter = requeue(session, letter_id)
    except LookupError as exc:
        click.echo(f"pidsync: {exc}", err=True)
        sys.exit(2)
    click.echo(f"requeued {letter.actor}{letter.args}", err=True)
