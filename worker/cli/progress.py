"""Progress of a long operation (replay all, retry all, backfill, reconcile), on stderr: a bar
on a terminal, plain lines otherwise (a log file, a pipe), so stdout stays machine-readable."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

import click

T = TypeVar("T")

#: Plain lines: at most one every this many seconds (and always the last).
LINE_EVERY_SECONDS = 2.0


def progress(items: Iterable[T], *, total: int, label: str) -> Iterator[T]:
    """Yield ``items``, showing how far along the operation is."""
    if sys.stderr.isatty():
        with click.progressbar(items, length=total, label=label, file=sys.stderr) as bar:
            yield from bar
        return
    last = 0.0
    for done, item in enumerate(items, start=1):
        yield item
        now = time.monotonic()
        if done == total or now - last >= LINE_EVERY_SECONDS:
            click.echo(f"{label}: {done}/{total}", err=True)
            last = now
    if total == 0:
        click.echo(f"{label}: nothing to do", err=True)
