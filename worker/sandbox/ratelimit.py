"""Rate limiters shaped like the real services' rules, keyed per client or account.

- :class:`TokenBucket`: ORCID's "24 requests/s with a burst of 40" (503 beyond).
- :class:`FixedWindow`: DataCite's "3,000 requests per 5 minutes" (429 + Retry-After beyond)
  and Crossref REST's "50 requests per 1 s" (429 beyond).

Both are used from the sandbox's event loop only (no locking) and take an injectable clock so
tests can drive them without sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

Clock = Callable[[], float]


@dataclass(frozen=True)
class BucketSpec:
    """``rate`` tokens per second refill a bucket of ``burst`` tokens; 0 rate = unlimited."""

    rate: float = 24.0
    burst: int = 40


@dataclass(frozen=True)
class WindowSpec:
    """At most ``limit`` requests per ``window_seconds``; 0 limit = unlimited."""

    limit: int = 3000
    window_seconds: float = 300.0


@dataclass(frozen=True)
class Decision:
    """Whether a request may pass; when not, how long until it would."""

    allowed: bool
    retry_after: float = 0.0
    remaining: int = 0

    @property
    def retry_after_header(self) -> str:
        """The ``Retry-After`` value: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after)))


class TokenBucket:
    """One token bucket per key."""

    def __init__(self, spec: BucketSpec, clock: Clock = time.monotonic) -> None:
        self.spec = spec
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)

    def take(self, key: str) -> Decision:
        if self.spec.rate <= 0:
            return Decision(allowed=True, remaining=self.spec.burst)
        now = self._clock()
        tokens, last = self._buckets.get(key, (float(self.spec.burst), now))
        tokens = min(float(self.spec.burst), tokens + (now - last) * self.spec.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return Decision(allowed=True, remaining=int(tokens - 1.0))
        self._buckets[key] = (tokens, now)
        return Decision(allowed=False, retry_after=(1.0 - tokens) / self.spec.rate)

    def reset(self) -> None:
        self._buckets.clear()


class FixedWindow:
    """A fixed window per key: the count resets ``window_seconds`` after its first request."""

    def __init__(self, spec: WindowSpec, clock: Clock = time.monotonic) -> None:
        self.spec = spec
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, count)

    def take(self, key: str) -> Decision:
        if self.spec.limit <= 0:
            return Decision(allowed=True)
        now = self._clock()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= self.spec.window_seconds:
            start, count = now, 0
        if count >= self.spec.limit:
            self._windows[key] = (start, count)
            return Decision(allowed=False, retry_after=start + self.spec.window_seconds - now)
        self._windows[key] = (start, count + 1)
        return Decision(allowed=True, remaining=self.spec.limit - count - 1)

    def reset(self) -> None:
        self._windows.clear()


Limiter = TokenBucket | FixedWindow


class LimitsError(ValueError):
    """An unknown limiter or setting, or a bad value."""


class Limits:
    """The sandbox's limiters by name, changeable at run time; ``reset`` restores the originals."""

    def __init__(self, limiters: dict[str, Limiter]) -> None:
        self.limiters = limiters
        self._originals = {name: limiter.spec for name, limiter in limiters.items()}

    def snapshot(self) -> dict[str, dict[str, float]]:
        return {name: asdict(limiter.spec) for name, limiter in self.limiters.items()}

    def update(self, changes: dict[str, Any]) -> dict[str, dict[str, float]]:
        """Apply ``{"datacite": {"limit": 10}, "orcid": {"rate": 5, "burst": 5}}``.

        Everything is checked before anything changes.
        """
        new_specs: dict[str, BucketSpec | WindowSpec] = {}
        for name, settings in changes.items():
            limiter = self.limiters.get(name)
            if limiter is None:
                raise LimitsError(f"unknown limiter: {name} (known: {', '.join(self.limiters)})")
            if not isinstance(settings, dict):
                raise LimitsError(f"{name}: settings must be an object")
            current = asdict(limiter.spec)
            unknown = sorted(set(settings) - set(current))
            if unknown:
                raise LimitsError(f"{name}: unknown setting(s): {', '.join(unknown)}")
            for key, value in settings.items():
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise LimitsError(f"{name}.{key} must be a non-negative number")
            merged = {**current, **settings}
            if isinstance(limiter.spec, BucketSpec):
                new_specs[name] = BucketSpec(
                    rate=float(merged["rate"]), burst=max(1, int(merged["burst"]))
                )
            else:
                new_specs[name] = WindowSpec(int(merged["limit"]), float(merged["window_seconds"]))
        for name, spec in new_specs.items():
            self._set(name, spec)
        return self.snapshot()

    def _set(self, name: str, spec: BucketSpec | WindowSpec) -> None:
        limiter = self.limiters[name]
        if isinstance(limiter, TokenBucket):
            assert isinstance(spec, BucketSpec)
            limiter.spec = spec
        else:
            assert isinstance(spec, WindowSpec)
            limiter.spec = spec
        limiter.reset()

    def reset(self) -> None:
        for name, spec in self._originals.items():
            self._set(name, spec)
