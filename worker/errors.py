"""The error hierarchy every part of pidsync raises, and the actors' retry policy keys on.

Transient errors are retried with backoff; permanent ones become a recorded outcome that a
person can act on. Nothing is swallowed into a ``False``.
"""

from __future__ import annotations

from worker.logging import redact_text


class PidsyncError(Exception):
    """Base of pidsync's own errors."""


class TransientError(PidsyncError):
    """Worth retrying: the network, a 5xx, a 429, a lock held elsewhere."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(PidsyncError):
    """Retrying cannot help: bad input, a refusal that names the problem."""


class Postpone(PidsyncError):
    """Run this message again after ``delay`` seconds without counting a retry.

    Raised by services that must wait (a rate-limit slot, a deposit still being processed).
    """

    def __init__(self, delay: float, reason: str = "") -> None:
        super().__init__(reason or f"postponed {delay:.1f}s")
        self.delay = delay
        self.reason = reason


class EffectRefused(PermanentError):
    """An event cannot be applied as asked (e.g. a registration account that does not exist);
    the message is the event's failure reason. ``fields`` names the Work's fields at fault
    (JSON paths, e.g. ``publisher``) when the refusal is about them: the emitting system's
    ``work.failed`` webhook carries them so a CRIS can point at what to fix."""

    def __init__(self, message: str, *, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []


def error_text(exc: BaseException, limit: int) -> str:
    """An error as a person reads it on a row or in an outcome: redacted, at most ``limit``
    characters. Errors that know how to describe themselves (``describe()``) do."""
    describe = getattr(exc, "describe", None)
    text = describe() if callable(describe) else str(exc) or type(exc).__name__
    return redact_text(str(text))[:limit]
