"""The shared rate limiter: one budget across processes, waiting instead of failing."""

from __future__ import annotations

import threading

import pytest

from worker.config import Settings
from worker.errors import Postpone
from worker.ratelimit import ORCID, Limit, RateLimiter


def test_burst_then_steady_rate(redis_client):
    limiter = RateLimiter(redis_client)
    limit = Limit("t", rate=10, burst=5)
    granted = [limiter.try_acquire(limit, "k") for _ in range(5)]
    assert granted == [0.0] * 5
    wait = limiter.try_acquire(limit, "k")
    assert 0 < wait <= 0.1 + 0.01


def test_keys_are_separate_budgets(redis_client):
    limiter = RateLimiter(redis_client)
    limit = Limit("t", rate=1, burst=1)
    assert limiter.try_acquire(limit, "client-a") == 0
    assert limiter.try_acquire(limit, "client-b") == 0
    assert limiter.try_acquire(limit, "client-a") > 0


def test_long_wait_postpones_instead_of_failing(redis_client):
    limiter = RateLimiter(redis_client)
    limit = Limit("slow", rate=0.1, burst=1)
    limiter.acquire(limit)
    with pytest.raises(Postpone) as exc:
        limiter.acquire(limit, max_sleep=1)
    assert 9 < exc.value.delay <= 10


def test_many_threads_never_exceed_the_budget(redis_client):
    # Given 4 threads (standing in for 4 worker processes) sharing one 20/s limit, burst 5
    limit = Limit("shared", rate=20, burst=5)
    granted: list[float] = []
    lock = threading.Lock()

    def run():
        limiter = RateLimiter(redis_client)
        for _ in range(10):
            limiter.acquire(limit)
            t = redis_client.time()
            with lock:
                granted.append(t[0] + t[1] / 1e6)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    granted.sort()
    # Then 40 grants took at least (40 - burst) / rate seconds
    assert granted[-1] - granted[0] >= (40 - 5) / 20 * 0.95


def test_published_rules_stay_under_the_agencies_limits():
    assert ORCID.rate < 24
    assert ORCID.burst < 40
    settings = Settings(_env_file=None)
    datacite = settings.datacite.limit  # 3,000 per 5 minutes per address
    assert datacite.rate * 300 + datacite.burst <= 3000
    resolver = settings.search.resolver_limit  # doi.org: about 1,000 per 5 minutes per client
    assert resolver.rate * 300 + resolver.burst <= 1000
