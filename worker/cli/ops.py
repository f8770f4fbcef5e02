"""The operator's commands over worker.ops: the overview (``pidsync status`` without a work),
``pidsync works list|show`` and ``pidsync ops hash-password``.

Exit codes a script can use: 0 done, 1 some of it failed, 2 bad input (named on stderr).
JSON goes to stdout alone; notes and progress go to stderr.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import timedelta
from typing import Any

import click

from worker.cli.common import OFFSET, boot, fail


def operator() -> str:
    """Who acts, as the audit records it: the local user of the shell."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def print_overview(as_json: bool) -> None:
    """What ``pidsync status`` prints with no work named."""
    from worker.ops.overview import overview

    runtime = boot()
    with runtime.database.session() as session:
        shown = overview(session, runtime.broker, runtime.limiter)
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    for name in ("hour", "day"):
        e = shown["events"][name]
        click.echo(
            f"events, last {name}: {e['received']} received, {e['done']} done, "
            f"{e['failed']} failed, {e['waiting']} waiting"
        )
    p = shown["problems"]
    click.echo(
        f"problems: {p['failed_events']} failed events, {p['failed_dois']} failed DOIs, "
        f"{p['held_dois']} DOIs on hold, {p['failed_placements']} failed placements, "
        f"{shown['dead_letters']['parked']} dead letters"
    )
    for q in shown["queues"]:
        age = q["oldest_age_seconds"]
        click.echo(
            f"queue {q['name']:<18} {q['depth']:>7} messages"
            + (f", oldest {age:.0f}s" if age is not None else "")
        )
    for w in shown["rate_limit_waits"]["hour"]:
        click.echo(
            f"rate limit {w['limit']:<12} {w['waits']} waits last hour, {w['seconds']}s in all"
        )
    for c in shown["calls"]["hour"]:
        click.echo(
            f"calls {c['service']:<10} {c['calls']:>6} last hour, {c['per_minute']}/min, "
            f"{c['error_rate'] * 100:.1f}% errors, {c['rate_limited']} rate-limited, "
            f"p95 {c['p95_ms']} ms"
        )


@click.group("ops")
def ops() -> None:
    """Operators' helpers."""


@ops.command("hash-password")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from stdin.")
def hash_password(from_stdin: bool) -> None:
    """Print an argon2 hash of a password for PIDSYNC_DASHBOARD_USERS (the password itself is
    never stored or configured)."""
    from worker.web.dashboard.auth import hash_password as make_hash

    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    if len(password) < 12:
        fail("a dashboard password needs at least 12 characters")
    click.echo(make_hash(password))


@click.group("works")
def works() -> None:
    """Works as an operator sees them (every tenant)."""


@works.command("list")
@click.option(
    "--state",
    type=click.Choice(["failed", "pending", "stale", "held"]),
    help="failed: its DOI, a placement or an event failed; pending: still to do; stale: "
    "still to do after PIDSYNC_DASHBOARD_STALE_AFTER_SECONDS; held: DOI on hold.",
)
@click.option("--tenant", help="Only this intake client's works.")
@click.option("--search", "query", help="An id, SOURCE ID, DOI, ORCID iD or event receipt.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--offset", type=OFFSET, default=0)
@click.option("--json", "as_json", is_flag=True, help="One JSON object: items, more.")
def works_list(
    state: str | None,
    tenant: str | None,
    query: str | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List works, newest first."""
    from worker.clock import utcnow
    from worker.ops.works import search

    runtime = boot()
    stale = utcnow() - timedelta(seconds=runtime.settings.dashboard.stale_after_seconds)
    with runtime.database.session() as session:
        page = search(
            session,
            query=query,
            tenant=tenant,
            state=state,
            stale_before=stale,
            limit=limit,
            offset=offset,
        )
    if as_json:
        click.echo(json.dumps(page.as_dict(), indent=2))
        return
    if not page.items:
        click.echo("no works match", err=True)
    for row in page.items:
        doi = f"{row['doi']} {row['doi_state'] or ''}" if row["doi"] else "-"
        places = ", ".join(f"{k}: {v}" for k, v in row["placements"].items()) or "-"
        click.echo(f"{row['source']} {row['id']}\t{row['tenant']}\t{doi}\t{places}")
    if page.more:
        click.echo(f"more: --offset {offset + limit}", err=True)


@works.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def works_show(name: str, as_json: bool) -> None:
    """A work's status and timeline. NAME: an event receipt, "SOURCE ID" (one argument, a
    space between), or a DOI."""
    from worker.ops.works import AmbiguousWork, find, timeline

    runtime = boot()
    with runtime.database.session() as session:
        try:
            work = find(session, name)
        except AmbiguousWork as exc:
            fail(str(exc))
        if work is None:
            fail(f'no work {name!r} (give a receipt, "SOURCE ID" or a DOI)')
        shown = timeline(session, work)
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    _print_timeline(shown)


def _print_timeline(shown: dict[str, Any]) -> None:
    w = shown["work"]
    click.echo(f"{w['source']} {w['id']}  {w['title']}  (tenant {w['tenant']})")
    if w.get("doi"):
        d = w["doi"]
        click.echo(
            f"DOI {d['doi']}: {d['state']}"
            + (f" - {d['last_error']}" if d.get("last_error") else "")
        )
    for p in w.get("orcid", []):
        click.echo(
            f"ORCID {p['orcid']}: {p['state']}"
            + (f" - {p['last_error']}" if p["last_error"] else "")
        )
    for e in shown["timeline"]:
        detail = e["detail"]
        extra = ""
        if e["kind"] == "call":
            extra = f" -> {detail['status']} in {detail['latency_ms']} ms"
        elif detail.get("error") or detail.get("outcome") or detail.get("diagnostic"):
            extra = f" - {detail.get('error') or detail.get('outcome') or detail.get('diagnostic')}"
        click.echo(f"{(e['at'] or '')[:19]}  {e['kind']:<9} {e['what']}{extra}")
