"""Rate limits shared by every process, in Redis, shaped to each API's rule.

A GCRA token bucket (the "generic cell rate algorithm"): ``rate`` requests per second on
average with bursts of up to ``burst``. The state is one Redis key per limit holding the
theoretical arrival time; the check-and-take is one Lua script using Redis' own clock, so any
number of workers on any number of machines share the limit exactly.

Waiting is not failing: :meth:`RateLimiter.acquire` sleeps for short waits and raises
:class:`~worker.errors.Postpone` for long ones, which re-runs the message later without
spending a retry. Every outbound client of a worker process takes its slots here (the
registrars', ORCID's, and the read-only clients of :mod:`worker.pids`); nothing else paces.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from worker.errors import Postpone
from worker.metrics.registry import RATELIMIT_WAIT_SECONDS, RATELIMIT_WAITS

_SCRIPT = """
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', key) or '0')
if tat < now then tat = now end
local allow_at = tat - (burst - 1) * interval
if allow_at > now then
  return tostring(allow_at - now)
end
local new_tat = tat + interval
redis.call('SET', key, tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return '0'
"""


@dataclass(frozen=True)
class Limit:
    """``rate`` requests/second on average, bursts of ``burst``."""

    name: str
    rate: float
    burst: int


#: ORCID's published rule (24 requests/s, bursts of 40: DESIGN.md §5), with a small margin.
#: The other services' limits are settings (``settings.datacite.limit``,
#: ``settings.crossref.limit`` / ``.rest_limit``, ``settings.search.resolver_limit``).
ORCID = Limit("orcid", rate=24 * 0.97, burst=36)


class RateLimiter:
    def __init__(self, redis_client: Any, *, prefix: str = "pidsync:ratelimit") -> None:
        self.redis = redis_client
        self.prefix = prefix
        self._script = redis_client.register_script(_SCRIPT)

    def try_acquire(self, limit: Limit, key: str = "") -> float:
        """Take a slot now and return 0, or return how many seconds until one is free."""
        redis_key = f"{self.prefix}:{limit.name}:{key}"
        wait = self._script(keys=[redis_key], args=[1.0 / limit.rate, limit.burst])
        return float(wait)

    def acquire(self, limit: Limit, key: str = "", *, max_sleep: float = 2.0) -> None:
        """Wait for a slot: sleep through short waits, Postpone the message for long ones."""
        while True:
            wait = self.try_acquire(limit, key)
            if wait <= 0:
                return
            self.tally(limit.name, wait)
            RATELIMIT_WAIT_SECONDS.labels(limit=limit.name).inc(wait)
            if wait > max_sleep:
                RATELIMIT_WAITS.labels(limit=limit.name, action="postponed").inc()
                raise Postpone(wait, f"{limit.name} rate limit: next slot in {wait:.1f}s")
            RATELIMIT_WAITS.labels(limit=limit.name, action="slept").inc()
            time.sleep(wait)

    def tally(self, name: str, wait: float) -> None:
        """Count a wait for a slot, per limit and hour (what the ops overview shows as rate-limit
        waits per agency); kept two days. Best effort: counting never stops a call."""
        hour = time.strftime("%Y%m%d%H", time.gmtime())
        key = f"{self.prefix}-waits:{hour}"
        try:
            pipe = self.redis.pipeline()
            pipe.hincrby(key, f"{name}:count", 1)
            pipe.hincrbyfloat(key, f"{name}:seconds", wait)
            pipe.expire(key, WAIT_TALLY_SECONDS)
            pipe.execute()
        except Exception:  # noqa: S110 - the tally is a nicety; the wait goes on
            pass

    def waits(self, hours: int) -> dict[str, dict[str, float]]:
        """Waits counted in the last ``hours`` hours (this one included): per limit name, how
        many and how many seconds in all."""
        now = time.time()
        keys = [
            f"{self.prefix}-waits:{time.strftime('%Y%m%d%H', time.gmtime(now - 3600 * h))}"
            for h in range(hours)
        ]
        totals: dict[str, dict[str, float]] = {}
        for key in keys:
            for field, value in self.redis.hgetall(key).items():
                name, _, what = (field.decode() if isinstance(field, bytes) else field).rpartition(
                    ":"
                )
                slot = totals.setdefault(name, {"count": 0.0, "seconds": 0.0})
                slot[what] = slot.get(what, 0.0) + float(value)
        return totals


#: How long the hourly wait tallies are kept (the overview reads the last day).
WAIT_TALLY_SECONDS = 2 * 24 * 3600
