from __future__ import annotations

import pytest

from worker.config import ConfigError, load_settings


def test_defaults_need_no_configuration(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(_env_file=None)
    assert settings.database_url is None and settings.redis_url is None
    assert settings.datacite_account_list() == []


def test_intake_clients_parse(monkeypatch):
    monkeypatch.setenv("PIDSYNC_INTAKE_CLIENTS", "a:one, b:two")
    settings = load_settings(_env_file=None)
    assert {k: v.get_secret_value() for k, v in settings.intake_clients.items()} == {
        "a": "one",
        "b": "two",
    }


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("PIDSYNC_INTAKE_CLIENTS", "no-secret-here", "PIDSYNC_INTAKE_CLIENTS"),
        ("PIDSYNC_DATACITE_URL", "http://api.datacite.org", "PIDSYNC_DATACITE_URL"),
        ("PIDSYNC_MAX_RETRIES", "many", "PIDSYNC_MAX_RETRIES"),
        ("PIDSYNC_ENV", "staging", "PIDSYNC_ENV"),
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
