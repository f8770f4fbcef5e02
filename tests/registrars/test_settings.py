"""The registrars' settings (``settings.doi``, ``settings.datacite``, ``settings.crossref``): the
DataCite limit's shape, schedules read from the environment, bad values refused at start."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from worker.config import ConfigError, DataciteSettings, DoiSettings, load_settings
from worker.ratelimit import RateLimiter
from worker.registrars.deps import build


@pytest.mark.parametrize(
    ("count", "window"), [(3000, 300.0), (750, 300.0), (300, 30.0), (10, 1.0), (1_000_000, 300.0)]
)
def test_datacite_limit_never_admits_more_than_its_share_of_any_window(count, window):
    section = DataciteSettings(limit_count=count, limit_window_seconds=window)
    limit = section.limit
    # A GCRA admits at most burst + rate x T requests in any interval of length T.
    assert limit.burst + limit.rate * window <= count * section.limit_share + 1e-9
    assert limit.burst >= 1 and limit.rate > 0


def test_real_datacite_limit_runs_at_98_percent_with_a_30_request_burst():
    limit = DataciteSettings().limit
    assert (limit.rate, limit.burst) == (pytest.approx(9.8), 30)


def test_the_shared_limiter_admits_the_burst_then_paces(redis_client):
    limiter = RateLimiter(redis_client)
    limit = DataciteSettings().limit
    admitted = [limiter.try_acquire(limit, "api.datacite.org") for _ in range(limit.burst + 1)]
    assert admitted[: limit.burst] == [0.0] * limit.burst
    assert 0 < admitted[-1] <= 1 / limit.rate + 0.01


def test_schedules_and_switches_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("PIDSYNC_CROSSREF_POLL_SCHEDULE", "30, 60,600")
    monkeypatch.setenv("PIDSYNC_DOI_DUPLICATE_CHECK", "true")
    monkeypatch.setenv("PIDSYNC_DOI_MAX_RETRIES", "4")
    monkeypatch.setenv("PIDSYNC_DATACITE_LIMIT_COUNT", "600")
    settings = load_settings(_env_file=None)
    assert settings.crossref.poll_schedule == [30.0, 60.0, 600.0]
    assert [settings.crossref.poll_delay(n) for n in range(5)] == [30.0, 60.0, 600.0, 600.0, 600.0]
    assert settings.doi.duplicate_check is True
    assert settings.doi.backoff.max_attempts == 4
    assert settings.datacite.limit_count == 600


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PIDSYNC_CROSSREF_POLL_SCHEDULE", ""),
        ("PIDSYNC_DOI_MAX_RETRIES", "0"),
        ("PIDSYNC_DOI_RETRY_BACKOFF", "5,-1"),
        ("PIDSYNC_DATACITE_LIMIT_SHARE", "1.5"),
        ("PIDSYNC_CROSSREF_BATCH_MAX_RECORDS", "many"),
    ],
)
def test_bad_values_fail_with_one_line_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as failure:
        load_settings(_env_file=None)
    message = str(failure.value)
    assert message.startswith(f"invalid configuration: {variable}: ")
    assert "\n" not in message


def test_a_bad_registrar_setting_stops_the_process_at_boot(monkeypatch, tmp_path):
    # Given a registrar setting no actor would read until its first message
    monkeypatch.setenv("PIDSYNC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PIDSYNC_DOI_MAX_RETRIES", "0")
    from worker.bootstrap import boot

    # When a process boots, Then it stops there, naming the variable, before any server starts
    with pytest.raises(ConfigError, match=r"^invalid configuration: PIDSYNC_DOI_MAX_RETRIES: "):
        boot()
    assert list(tmp_path.iterdir()) == []


def test_a_bad_registrar_setting_makes_a_doi_command_exit_2_with_one_line(monkeypatch):
    monkeypatch.setenv("PIDSYNC_CROSSREF_POLL_SCHEDULE", "soon")
    from worker.cli.doi import reconcile_dois

    result = CliRunner().invoke(reconcile_dois, [])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("pidsync: invalid configuration: PIDSYNC_CROSSREF_POLL_SCHEDULE: ")


def test_retry_delay_follows_the_backoff_or_the_agencys_retry_after():
    backoff = DoiSettings(retry_backoff=[5, 60]).backoff
    assert [backoff.delay(n) for n in (1, 2, 3)] == [5.0, 60.0, 60.0]
    assert backoff.delay(1, retry_after=42.0) == 42.0


@pytest.mark.parametrize(("deposit", "http", "expected"), [(90, 30, 90), (60, 120, 120)])
def test_crossref_deposit_calls_wait_the_longer_of_the_two_timeouts(
    monkeypatch, deposit, http, expected
):
    monkeypatch.setenv("PIDSYNC_CROSSREF_DEPOSIT_TIMEOUT_SECONDS", str(deposit))
    monkeypatch.setenv("PIDSYNC_HTTP_TIMEOUT_SECONDS", str(http))
    settings = load_settings(
        _env_file=None, crossref_login_id="role", crossref_password="pw", crossref_prefix="10.1"
    )
    deps = build(settings, limiter=None, recorder=None)
    (account,) = settings.crossref_account_list()
    assert deps.crossref(account).timeout == expected
    deps.close()
