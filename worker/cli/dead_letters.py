"""``pidsync dead-letters``: messages parked after their tries ran out, with the reason.

Exit codes: 0 done; 1 some letters could not be replayed (each named on stderr); 2 bad input
(no such letter, neither an id nor --all).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from worker.cli.common import OFFSET, ROW_ID, boot, fail
from worker.cli.ops import operator
from worker.cli.progress import progress


@click.group("dead-letters")
def dead_letters() -> None:
    """Messages parked after their tries ran out, with the reason."""


@dead_letters.command("list")
@click.option("--all", "include_requeued", is_flag=True, help="Include requeued ones.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--offset", type=OFFSET, default=0)
@click.option("--json", "as_json", is_flag=True)
def dead_letters_list(include_requeued: bool, limit: int, offset: int, as_json: bool) -> None:
    """List parked messages, newest first (secrets redacted)."""
    from worker.ops.dead_letters import page, shown

    runtime = boot()
    with runtime.database.session() as session:
        rows: list[dict[str, Any]] = [
            shown(d)
            for d in page(session, include_requeued=include_requeued, limit=limit, offset=offset)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no dead letters", err=True)
    for row in rows:
        click.echo(f"{row['id']:>6}  {row['created_at'][:19]}  {row['actor']}{row['args']}")
        click.echo(f"        {row['reason']}")


@dead_letters.command("show")
@click.argument("letter_id", type=ROW_ID)
def dead_letters_show(letter_id: int) -> None:
    """One parked message as JSON: its reason and its message (secrets redacted)."""
    from worker.models import DeadLetter
    from worker.ops.dead_letters import shown

    runtime = boot()
    with runtime.database.session() as session:
        letter = session.get(DeadLetter, letter_id)
        if letter is None:
            fail(f"no dead letter {letter_id}")
        click.echo(json.dumps(shown(letter), indent=2))


def _chosen(letter_ids: tuple[int, ...], every: bool) -> None:
    if bool(letter_ids) == every:
        fail("name dead letters by id, or --all (not both)")


@dead_letters.command("replay")
@click.argument("letter_ids", type=ROW_ID, nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every parked letter, oldest first.")
def dead_letters_replay(letter_ids: tuple[int, ...], every: bool) -> None:
    """Send parked messages again, once each (after fixing their cause); one transaction per
    letter, so one that cannot be replayed stops none of the others."""
    from worker.ops.dead_letters import parked_ids, replay

    _chosen(letter_ids, every)
    runtime = boot()
    if every:
        with runtime.database.session() as session:
            letter_ids = tuple(parked_ids(session))
    actor, failed = operator(), 0
    for letter_id in progress(letter_ids, total=len(letter_ids), label="replaying"):
        try:
            with runtime.database.session() as session:
                letter = replay(session, letter_id, actor)
                click.echo(json.dumps({"id": letter_id, "actor": letter.actor}))
        except LookupError as exc:
            failed += 1
            click.echo(f"pidsync: {exc}", err=True)
    click.echo(f"{len(letter_ids) - failed} replayed, {failed} not", err=True)
    if failed:
        # Named letters that do not exist are bad input; some of --all failing is a failure.
        sys.exit(2 if not every and failed == len(letter_ids) else 1)


@dead_letters.command("requeue", hidden=True)
@click.argument("letter_id", type=ROW_ID)
@click.pass_context
def dead_letters_requeue(ctx: click.Context, letter_id: int) -> None:
    """The former name of ``replay LETTER_ID``."""
    ctx.invoke(dead_letters_replay, letter_ids=(letter_id,), every=False)


@dead_letters.command("purge")
@click.argument("letter_ids", type=ROW_ID, nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every parked (not replayed) letter.")
@click.option("--note", help="Why, for the audit of operators' actions.")
@click.option("--yes", is_flag=True, help="Do not ask (needed when stdin is not a terminal).")
def dead_letters_purge(
    letter_ids: tuple[int, ...], every: bool, note: str | None, yes: bool
) -> None:
    """Delete dead letters for good (recorded in the audit with their count)."""
    from worker.ops.dead_letters import parked_ids, purge

    _chosen(letter_ids, every)
    if not yes:
        if not sys.stdin.isatty():
            fail("purging needs --yes when not asked on a terminal")
        click.confirm("Delete these dead letters for good?", abort=True, err=True)
    runtime = boot()
    with runtime.database.session() as session:
        ids = parked_ids(session) if every else list(letter_ids)
        purged = purge(session, ids, operator(), note)
    click.echo(json.dumps({"purged": purged}))
    if purged < len(ids):
        click.echo(f"pidsync: {len(ids) - purged} of the named letters did not exist", err=True)
        sys.exit(2)
