"""The one retry model for effects, shared by every flow.

A service that meets a transient failure (network, 5xx, 429) records the attempt on its own
row (attempts, last error, next attempt time) and returns the delay before the next try; the
actor then raises :class:`~worker.errors.Postpone` after the unit of work has committed, so
waiting never spends a dramatiq retry, the status API shows every try, and the scheduler's
sweep finds the row again if the message is lost. When the attempts are spent, the service
records a failure a person can act on. A permanent failure (4xx) is recorded at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Seconds before each retry (the last repeats) and how many attempts in all."""

    schedule: tuple[float, ...]
    max_attempts: int

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds before try ``failures + 1``; the agency's Retry-After when it gave one."""
        if retry_after is not None:
            return max(retry_after, 0.0)
        index = min(max(failures, 1), len(self.schedule)) - 1
        return self.schedule[index]

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
