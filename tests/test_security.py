"""Production guard rails and the operators' routes: a production process does not start
without what every host must share, bad configuration is one line, and /docs, /redoc,
/openapi.json and /metrics are off in production unless the ops credential is given."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from worker.config import ConfigError, is_loopback, load_settings
from worker.web.app import create_app

GOOD_KEY = "x" * 43 + "="  # 32 bytes, url-safe base64: a well-formed Fernet key
TOKEN = "t" * 40
OPS_ROUTES = ("/docs", "/redoc", "/openapi.json", "/metrics")


# --- the loopback check compares addresses -----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.0.0.2",
        "http://127.255.255.254:1",
        "http://[::1]:8080",
        "http://localhost:9000",
        "http://LOCALHOST.:9000",
    ],
)
def test_loopback_addresses_are_loopback(url):
    assert is_loopback(url)
    assert load_settings(_env_file=None, doi_resolver_url=url).doi_resolver_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.attacker.example",
        "http://127.0.0.1.attacker.example",
        "http://localhost.attacker.example",
        "http://[::1].attacker.example",
        "http://10.0.0.1",
        "http://169.254.169.254",
        "http://0.0.0.0",
        "http://[::ffff:127.0.0.1]x",
        "http://[::1",
    ],
)
def test_names_that_look_like_loopback_are_not(url):
    assert not is_loopback(url)
    with pytest.raises(ConfigError, match="PIDSYNC_DOI_RESOLVER_URL"):
        load_settings(_env_file=None, doi_resolver_url=url)


# --- production guard rails, as an operator meets them -------------------------------------------


def run_pidsync(tmp_path: Path, command: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``pidsync <command>`` in a clean environment (no PIDSYNC_* of this test process)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIDSYNC_")}
    clean.update(PIDSYNC_ENV_FILE=str(tmp_path / "absent.env"), PIDSYNC_DATA_DIR=str(tmp_path))
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", command],
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["web", "worker", "scheduler"])
def test_production_without_intake_clients_or_token_keys_stops_in_one_line(tmp_path, command):
    done = run_pidsync(tmp_path, command, PIDSYNC_ENV="production")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2
    assert len(lines) == 1, done.stderr
    assert "PIDSYNC_INTAKE_CLIENTS" in lines[0] and "PIDSYNC_TOKEN_KEYS" in lines[0]
    # And no key was generated for this host alone
    assert not (tmp_path / "token.key").exists()


def test_production_without_token_keys_names_only_them(tmp_path):
    done = run_pidsync(
        tmp_path, "web", PIDSYNC_ENV="production", PIDSYNC_INTAKE_CLIENTS="cris:" + "s" * 32
    )
    (line,) = done.stderr.strip().splitlines()
    assert done.returncode == 2
    assert "PIDSYNC_TOKEN_KEYS" in line and "PIDSYNC_INTAKE_CLIENTS" not in line


@pytest.mark.parametrize(
    "keys",
    ["not-a-key", GOOD_KEY + ",short", "x" * 44, GOOD_KEY[:-1] + "!", "é" * 44],
)
@pytest.mark.parametrize("environment", ["production", "development"])
def test_malformed_token_keys_are_one_line_not_a_traceback(tmp_path, keys, environment):
    done = run_pidsync(
        tmp_path,
        "web",
        PIDSYNC_ENV=environment,
        PIDSYNC_INTAKE_CLIENTS="cris:" + "s" * 32,
        PIDSYNC_TOKEN_KEYS=keys,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2
    assert len(lines) == 1, done.stderr
    assert "PIDSYNC_TOKEN_KEYS" in lines[0] and "Traceback" not in done.stderr
    # The malformed key is a secret all the same: it is not echoed
    for key in keys.split(","):
        if len(key) >= 6:
            assert key not in done.stderr


def test_a_well_formed_key_passes_the_check():
    settings = load_settings(_env_file=None, token_keys=GOOD_KEY)
    assert [k.get_secret_value() for k in settings.token_keys] == [GOOD_KEY]


# --- /docs, /redoc, /openapi.json, /metrics ------------------------------------------------------


def app_client(runtime, **settings):
    changed = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update=settings))
    return TestClient(create_app(changed))


def test_outside_production_the_ops_routes_are_open(runtime):
    with app_client(runtime, env="development") as client:
        for path in OPS_ROUTES:
            assert client.get(path).status_code == 200, path


def test_in_production_without_a_credential_the_ops_routes_are_off(runtime):
    with app_client(runtime, env="production", ops_credential=None) as client:
        for path in OPS_ROUTES:
            assert client.get(path).status_code == 404, path
        assert client.get("/healthz").status_code == 200


def test_in_production_a_bearer_credential_guards_them(runtime):
    settings = load_settings(_env_file=None, ops_credential=TOKEN)
    with app_client(runtime, env="production", ops_credential=settings.ops_credential) as client:
        for path in OPS_ROUTES:
            missing = client.get(path)
            wrong = client.get(path, headers={"Authorization": "Bearer " + "u" * 40})
            basic = client.get(path, headers={"Authorization": "Basic " + TOKEN})
            right = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert (missing.status_code, wrong.status_code, basic.status_code) == (401, 401, 401)
            assert missing.headers["WWW-Authenticate"].startswith("Bearer")
            assert right.status_code == 200, path
        schema = client.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"})
        assert "/events" in schema.json()["paths"]
        assert "/openapi.json" not in schema.json()["paths"]


def test_in_production_a_basic_credential_guards_them(runtime):
    digest = hashlib.sha256(b"correct horse battery staple").hexdigest()
    settings = load_settings(_env_file=None, ops_credential=f"ops:{digest}")

    def basic(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    with app_client(runtime, env="production", ops_credential=settings.ops_credential) as client:
        assert client.get("/metrics").headers["WWW-Authenticate"].startswith("Basic")
        assert client.get("/metrics", headers=basic("ops", "wrong")).status_code == 401
        assert (
            client.get(
                "/metrics", headers=basic("root", "correct horse battery staple")
            ).status_code
            == 401
        )
        assert client.get("/metrics", headers={"Authorization": "Basic %%%"}).status_code == 401
        assert (
            client.get("/metrics", headers={"Authorization": f"Bearer {digest}"}).status_code == 401
        )
        right = basic("ops", "correct horse battery staple")
        for path in OPS_ROUTES:
            assert client.get(path, headers=right).status_code == 200, path


@pytest.mark.parametrize("credential", ["short", "ops:nothex", "ops:" + "a" * 63, ":" + "a" * 64])
def test_a_malformed_ops_credential_stops_the_process(credential):
    with pytest.raises(ConfigError, match="PIDSYNC_OPS_CREDENTIAL") as caught:
        load_settings(_env_file=None, ops_credential=credential)
    assert credential not in str(caught.value) or len(credential) < 6
