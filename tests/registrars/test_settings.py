"""The registrars' options: the DataCite limit's shape, schedules read from the environment."""

from __future__ import annotations

import pytest

from worker.config import ConfigError
from worker.ratelimit import RateLimiter
from worker.registrars.settings import RegistrarOptions, load_options


@pytest.mark.parametrize(
    ("count", "window"), [(3000, 300.0), (750, 300.0), (300, 30.0), (10, 1.0), (1_000_000, 300.0)]
)
def test_datacite_limit_never_admits_more_than_its_share_of_any_window(count, window):
    options = RegistrarOptions(
        _env_file=None, datacite_limit_count=count, datacite_limit_window_seconds=window
    )
    limit = options.datacite_limit
    # A GCRA admits at most burst + rate x T requests in any interval of length T.
    assert limit.burst + limit.rate * window <= count * options.datacite_limit_share + 1e-9
    assert limit.burst >= 1 and limit.rate > 0


def test_real_datacite_limit_runs_at_98_percent_with_a_30_request_burst():
    limit = RegistrarOptions(_env_file=None).datacite_limit
    assert (limit.rate, limit.burst) == (pytest.approx(9.8), 30)


def test_the_shared_limiter_admits_the_burst_then_paces(redis_client):
    limiter = RateLimiter(redis_client)
    limit = RegistrarOptions(_env_file=None).datacite_limit
    admitted = [limiter.try_acquire(limit, "api.datacite.org") for _ in range(limit.burst + 1)]
    assert admitted[: limit.burst] == [0.0] * limit.burst
    assert 0 < admitted[-1] <= 1 / limit.rate + 0.01


def test_schedules_and_switches_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("PIDSYNC_CROSSREF_POLL_SCHEDULE", "30, 60,600")
    monkeypatch.setenv("PIDSYNC_DOI_DUPLICATE_CHECK", "true")
    options = load_options(_env_file=None)
    assert options.crossref_poll_schedule == [30.0, 60.0, 600.0]
    assert [options.poll_delay(n) for n in range(5)] == [30.0, 60.0, 600.0, 600.0, 600.0]
    assert options.doi_duplicate_check is True


def test_bad_options_name_the_variable(monkeypatch):
    monkeypatch.setenv("PIDSYNC_CROSSREF_POLL_SCHEDULE", "")
    with pytest.raises(ConfigError, match="PIDSYNC_CROSSREF_POLL_SCHEDULE"):
        load_options(_env_file=None)


def test_retry_delay_follows_the_backoff_or_the_agencys_retry_after():
    options = RegistrarOptions(_env_file=None, doi_retry_backoff=[5, 60])
    assert [options.retry_delay(n) for n in (1, 2, 3)] == [5.0, 60.0, 60.0]
    assert options.retry_delay(1, retry_after=42.0) == 42.0
