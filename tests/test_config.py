from __future__ import annotations

import pytest

from worker.config import ConfigError, load_settings


def test_defaults_need_no_configuration(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(_env_file=None)
    assert settings.database_url is None and settings.redis_url is None
    assert settings.datacite_account_list() == []


def test_intake_clients_parse(monkeypatch):
    monkeypatch.setenv("PIDSYNC_INTAKE_CLIENTS", " a:one ")
    settings = load_settings(_env_file=None)
    assert {
        k: [s.get_secret_value() for s in v.secrets] for k, v in settings.intake_clients.items()
    } == {"a": ["one"]}


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("PIDSYNC_INTAKE_CLIENTS", "no-secret-here", "PIDSYNC_INTAKE_CLIENTS"),
        ("PIDSYNC_DATACITE_URL", "http://api.datacite.org", "PIDSYNC_DATACITE_URL"),
        ("PIDSYNC_MAX_RETRIES", "many", "PIDSYNC_MAX_RETRIES"),
        ("PIDSYNC_ENV", "staging", "PIDSYNC_ENV"),
        # Settings in sections are read from flat names and named the same way when bad.
        ("PIDSYNC_CROSSREF_POLL_SCHEDULE", "soon,later", "PIDSYNC_CROSSREF_POLL_SCHEDULE"),
        ("PIDSYNC_EVENTS_RESEND_GRACE_SECONDS", "-1", "PIDSYNC_EVENTS_RESEND_GRACE_SECONDS"),
        ("PIDSYNC_NOTIFY_RETRY_BACKOFF", "", "PIDSYNC_NOTIFY_RETRY_BACKOFF"),
        ("PIDSYNC_ORCID_MAX_RETRIES", "0", "PIDSYNC_ORCID_MAX_RETRIES"),
    ],
)
def test_malformed_values_fail_fast_naming_the_variable(monkeypatch, name, value, named):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None)
    assert named in str(exc.value)


def test_http_allowed_for_loopback_only(monkeypatch):
    monkeypatch.setenv("PIDSYNC_DATACITE_URL", "http://127.0.0.1:9999/datacite")
    assert load_settings(_env_file=None).datacite_url == "http://127.0.0.1:9999/datacite"


def test_a_bad_setting_stops_the_process_at_start_with_one_line(tmp_path):
    """Every section is validated when the process starts, not when its first actor runs."""
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PIDSYNC_DOI_MAX_RETRIES": "many"}
    done = subprocess.run(
        [sys.executable, "-m", "worker.cli", "migrate"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "PIDSYNC_DOI_MAX_RETRIES" in lines[0], done.stderr


def test_section_settings_read_flat_names(monkeypatch):
    monkeypatch.setenv("PIDSYNC_CROSSREF_POLL_SCHEDULE", "5,10,30")
    monkeypatch.setenv("PIDSYNC_DOI_MAX_RETRIES", "4")
    monkeypatch.setenv("PIDSYNC_CROSSREF_API_URL", "https://api.crossref.org")
    settings = load_settings(_env_file=None)
    assert settings.crossref.poll_schedule == [5.0, 10.0, 30.0]
    assert settings.crossref.poll_delay(7) == 30.0  # the last step repeats
    assert settings.doi.backoff.max_attempts == 4
    assert settings.crossref_api_url == "https://api.crossref.org"


def test_orcid_limit_is_a_setting_with_orcids_rule_as_default():
    settings = load_settings(_env_file=None)
    assert settings.orcid.limit.rate < 24
    assert settings.orcid.limit.burst < 40
    tuned = load_settings(_env_file=None, orcid={"limit_rate": 5, "limit_burst": 2})
    assert (tuned.orcid.limit.rate, tuned.orcid.limit.burst) == (5, 2)


def test_a_non_positive_orcid_limit_is_refused_naming_it():
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None, orcid={"limit_rate": 0})
    assert "PIDSYNC_ORCID_LIMIT_RATE" in str(exc.value)
