"""What an ORCID service returns to its actor (or CLI command), and the decorator that flushes
a service entry point whatever branch it returns from."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec

from sqlalchemy.orm import Session


@dataclass
class Result:
    """What one service call did. ``delay``: a transient failure was recorded on the row the
    effect is about and the message is to run again in that many seconds (the actor postpones
    it after the commit). ``failed``: the effect failed and is not tried again (its tries
    spent, or nothing to send); the note says why. ``busy``: the row was held by another
    transaction and nothing was done (asked for with ``skip_locked``)."""

    note: str
    delay: float | None = None
    report: dict[str, Any] | None = None
    failed: bool = False
    busy: bool = False


P = ParamSpec("P")


def flushed(
    fn: Callable[Concatenate[Session, P], Result],
) -> Callable[Concatenate[Session, P], Result]:
    """A service entry point: whatever branch it returns from, its changes are flushed."""

    @functools.wraps(fn)
    def run(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> Result:
        result = fn(session, *args, **kwargs)
        session.flush()
        return result

    return run
