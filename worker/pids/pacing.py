"""Pacing of the PID toolkit's read-only clients: each waits on a :class:`Throttle` before
every request. :class:`LocalThrottle` is an in-process GCRA (the CLI starts no Redis) that
adopts the limit a service announces in ``X-Rate-Limit-Limit`` / ``X-Rate-Limit-Interval``
(Crossref: 50 per 1s) with a margin, and holds every caller back after a 429/503 for the
``Retry-After`` it named. :class:`RedisThrottle` adapts :class:`worker.ratelimit.RateLimiter` for
worker-side calls shared by every process. Waits beyond ``max_wait`` are not slept through: the
error is raised (the CLI reports it, an actor retries later).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import requests

from worker.http import (
    USER_AGENT,
    ApiClient,
    HttpError,
    Recorder,
    ServerError,
    retry_after_seconds,
)

if TYPE_CHECKING:
    from worker.ratelimit import Limit, RateLimiter


class Throttle(Protocol):
    """What a client calls around each request."""

    def acquire(self) -> None:
        """Wait for a slot (or raise when the wait is too long for the caller)."""

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn from an answer's headers (``X-Rate-Limit-*``)."""

    def pause(self, seconds: float) -> None:
        """Hold every caller back ``seconds`` (after a 429/503 with Retry-After)."""


_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate_limit(headers: Mapping[str, str]) -> tuple[int, float] | None:
    """``(limit, interval seconds)`` from ``X-Rate-Limit-Limit: 50`` and
    ``X-Rate-Limit-Interval: 1s``, or None when absent or unreadable."""
    limit_text = headers.get("X-Rate-Limit-Limit")
    interval_text = headers.get("X-Rate-Limit-Interval")
    if not limit_text or not interval_text:
        return None
    match = _INTERVAL.match(interval_text)
    try:
        limit = int(limit_text.strip())
    except ValueError:
        return None
    if match is None or limit <= 0:
        return None
    seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    return (limit, seconds) if seconds > 0 else None


def announced_rate(announced: tuple[int, float], share: float) -> float:
    """The steady rate that stays under "``limit`` per ``interval``" whatever the window's
    alignment: one request of slack in each interval, and ``share`` of the rest (50 per 1s →
    44.1/s; 5 per 1s → 3.6/s)."""
    limit, seconds = announced
    return max(limit - 1, 1) * share / seconds


class LocalThrottle:
    """An in-process GCRA limiter: ``rate`` requests/s on average, bursts of ``burst``.

    Thread-safe: a caller reserves its slot under the lock, then sleeps outside it. An
    announced limit (``X-Rate-Limit-*``) replaces the configured rate (:func:`announced_rate`)
    and bursts, so no interval of the announced length holds more than the limit.
    """

    def __init__(
        self,
        name: str,
        rate: float,
        burst: int = 1,
        *,
        share: float = 0.9,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.name = name
        self.rate = rate
        self.burst = burst
        self.share = share
        self.announced: tuple[int, float] | None = None
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat = 0.0  # theoretical arrival time of the next request
        self._last = float("-inf")  # when the latest slot was granted
        self.waited = 0.0  # total seconds slept, for reporting and tests

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            interval = 1.0 / self.rate
            tat = max(self._tat, now)
            wait = max(0.0, tat - (self.burst - 1) * interval - now)
            self._tat = tat + interval
            self._last = now + wait
        if wait > 0:
            self.waited += wait
            self._sleep(wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        announced = parse_rate_limit(headers)
        if announced is None or announced == self.announced:
            return
        with self._lock:
            self.announced = announced
            self.rate = max(announced_rate(announced, self.share), 1e-3)
            self.burst = 1
            # The slot already reserved at the old rate must respect the new one.
            self._tat = max(self._tat, self._last + 1.0 / self.rate)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._tat = max(self._tat, self._clock() + max(0.0, seconds))


class RedisThrottle:
    """Worker-side pacing shared by every process (:class:`worker.ratelimit.RateLimiter`).

    ``acquire`` sleeps through short waits and raises :class:`worker.errors.Postpone` for long
    ones; an announced limit lower than ``limit`` replaces it (at ``share`` of it).
    """

    def __init__(
        self,
        limiter: RateLimiter,
        limit: Limit,
        *,
        key: str = "",
        share: float = 0.9,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limiter = limiter
        self.limit = limit
        self.key = key
        self.share = share
        self._sleep = sleep

    def acquire(self) -> None:
        self.limiter.acquire(self.limit, self.key)

    def observe(self, headers: Mapping[str, str]) -> None:
        announced = parse_rate_limit(headers)
        if announced is None:
            return
        rate = announced_rate(announced, self.share)
        if rate < self.limit.rate:
            self.limit = type(self.limit)(self.limit.name, rate=rate, burst=1)

    def pause(self, seconds: float) -> None:
        # Only short waits get here (PacedClient raises beyond its max_wait, and the actor's
        # retry honours the error's retry_after); this process waits them out.
        self._sleep(max(0.0, seconds))


def polite_user_agent(mailto: str | None) -> str:
    """pidsync's User-Agent, with ``mailto:`` for Crossref's polite pool when configured."""
    if not mailto:
        return USER_AGENT
    return f"{USER_AGENT.removesuffix(')')}; mailto:{mailto})"


class PacedClient(ApiClient):
    """An :class:`ApiClient` whose GETs wait on a :class:`Throttle` and retry a 429 or 5xx
    after the ``Retry-After`` the service named (or a short backoff), up to ``retries`` times
    and only when the wait is at most ``max_wait`` seconds; otherwise :class:`ServerError`."""

    def __init__(
        self,
        base_url: str,
        *,
        throttle: Throttle,
        retries: int = 3,
        max_wait: float = 10.0,
        backoff: float = 0.5,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        recorder: Recorder | None = None,
    ) -> None:
        super().__init__(base_url, session=session, timeout=timeout, recorder=recorder)
        self.throttle = throttle
        self.retries = retries
        self.max_wait = max_wait
        self.backoff = backoff

    def paced_get(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        statuses: Sequence[int] = (),
    ) -> requests.Response:
        """GET with pacing and retries; ``statuses`` lists further answers the caller reads
        itself (besides 2xx/3xx)."""
        ok = {*range(200, 400), 429, *statuses}
        attempt = 0
        while True:
            self.throttle.acquire()
            try:
                response = self.request(
                    "GET", path, ok=ok, params=dict(params or {}), headers=dict(headers or {})
                )
            except ServerError as exc:
                wait = exc.retry_after
                if wait is None:
                    wait = self.backoff * 2**attempt
                if attempt >= self.retries or wait > self.max_wait:
                    raise
                attempt += 1
                self.throttle.pause(wait)
                continue
            self.throttle.observe(response.headers)
            if response.status_code != 429 or 429 in statuses:
                return response
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if wait is None:
                wait = self.backoff * 2**attempt
            if attempt >= self.retries or wait > self.max_wait:
                raise ServerError(
                    f"{self.service} GET {self.url(path)} answered 429 (rate limited; "
                    f"Retry-After {wait:g}s)",
                    retry_after=wait,
                    service=self.service,
                    status=429,
                    text=response.text[:200],
                )
            attempt += 1
            self.throttle.pause(wait)


def json_object(response: requests.Response, service: str) -> dict[str, Any]:
    """The answer's JSON object, or :class:`HttpError` naming the service."""
    try:
        body = response.json()
    except ValueError:
        raise HttpError(
            f"{service} answered {response.status_code} with a body that is not JSON",
            service=service,
            status=response.status_code,
            text=response.text[:200],
        ) from None
    if not isinstance(body, dict):
        raise HttpError(f"{service} answered JSON that is not an object", service=service)
    return body
