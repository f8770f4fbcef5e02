"""What every stateful command shares: booting the process or exiting with one line."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from worker.bootstrap import Runtime


#: A row's id, and an offset into a listing: PostgreSQL's bigint bounds them. Past it, click
#: refuses the value by name (exit 2) instead of the database failing the query (exit 1).
ROW_ID = click.IntRange(0, 2**63 - 1)
OFFSET = click.IntRange(0, 2**63 - 1)


def boot(**kw: Any) -> Runtime:
    """Boot or exit with one line: 2 for bad configuration, 1 for an unreachable server."""
    from worker.bootstrap import BootError
    from worker.bootstrap import boot as boot_process
    from worker.config import ConfigError

    try:
        return boot_process(**kw)
    except ConfigError as exc:
        click.echo(f"pidsync: {exc}", err=True)
        sys.exit(2)
    except BootError as exc:
        click.echo(f"pidsync: {exc}", err=True)
        sys.exit(1)


def fail(message: str, code: int = 2) -> NoReturn:
    """Stop with a one-line message naming the problem (2: bad input or state)."""
    click.echo(f"pidsync: {message}", err=True)
    sys.exit(code)
