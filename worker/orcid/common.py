"""What the ORCID services share: the result an actor acts on, flushing entry points, error text
for people, and queueing one placement after commit."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec

from sqlalchemy.orm import Session

from worker.db import enqueue_after_commit
from worker.errors import TransientError
from worker.logging import redact_text
from worker.models import OrcidPlacement
from worker.orcid.client import OrcidError

ERROR_CHARS = 1000


@dataclass
class Result:
    """What one service call did; ``retry`` is raised by the actor after the commit."""

    note: str
    retry: TransientError | None = None
    report: dict[str, Any] | None = None

    def raise_if_retry(self) -> None:
        if self.retry is not None:
            raise self.retry


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


def now() -> datetime:
    return datetime.now(UTC)


def error_text(exc: BaseException) -> str:
    text = exc.describe() if isinstance(exc, OrcidError) else f"{type(exc).__name__}: {exc}"
    return redact_text(text)[:ERROR_CHARS]


def queue_placement(session: Session, row: OrcidPlacement) -> None:

    row.enqueued_at = now()
    row.attempts = 0
    enqueue_after_commit(session, "orcid.place", row.id)
