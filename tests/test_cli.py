"""The pidsync command as an operator meets it: one-line errors, exit codes, emit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tests.conftest import INTAKE_SECRET
from tests.helpers import event
from worker.cli import main


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PIDSYNC_")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        check=False,
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_postgres_is_one_line_not_a_traceback(tmp_path):
    port = _closed_port()
    result = _run(
        "dead-letters",
        "list",
        PIDSYNC_DATABASE_URL=f"postgresql+psycopg://u@127.0.0.1:{port}/x",
        PIDSYNC_REDIS_URL="redis://127.0.0.1:6379/15",
        PIDSYNC_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 1
    assert "PostgreSQL unreachable at postgresql+psycopg://u@127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_redis_is_one_line(tmp_path, database_url):
    port = _closed_port()
    result = _run(
        "dead-letters",
        "list",
        PIDSYNC_DATABASE_URL=database_url,
        PIDSYNC_REDIS_URL=f"redis://127.0.0.1:{port}/0",
        PIDSYNC_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 1
    assert f"broker unreachable at redis://127.0.0.1:{port}/0" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_configuration_exits_2_naming_the_variable(tmp_path):
    result = _run(
        "dead-letters", "list", PIDSYNC_MAX_RETRIES="lots", PIDSYNC_DATA_DIR=str(tmp_path)
    )
    assert result.returncode == 2
    assert "PIDSYNC_MAX_RETRIES" in result.stderr


def test_emit_signs_and_posts_a_file(live_server, tmp_path):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event()))
    runner = CliRunner()
    args = ["emit", str(path), "--url", live_server, "--client", "cris", "--secret", INTAKE_SECRET]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["accepted"] == 1
    again = runner.invoke(main, args)
    assert json.loads(again.stdout)["duplicate"] is True


def test_emit_reports_rejection_with_exit_2(live_server, tmp_path):
    path = tmp_path / "batch.json"
    path.write_text(json.dumps([event(data={"id": "x"})]))
    result = CliRunner().invoke(
        main,
        ["emit", str(path), "--url", live_server, "--client", "cris", "--secret", INTAKE_SECRET],
    )
    assert result.exit_code == 2
    assert "rejected with HTTP 422" in result.stderr


def test_emit_refuses_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{oops")
    result = CliRunner().invoke(main, ["emit", str(path), "--client", "c", "--secret", "s"])
    assert result.exit_code == 2
    assert "not JSON" in result.stderr


def test_status_reads_signed_with_the_emit_settings(live_server, monkeypatch):
    # Given the client settings in the environment (as .env would give them)
    monkeypatch.setenv("PIDSYNC_EMIT_URL", live_server)
    monkeypatch.setenv("PIDSYNC_EMIT_CLIENT", "cris")
    monkeypatch.setenv("PIDSYNC_EMIT_SECRET", INTAKE_SECRET)
    # When it asks for a work pidsync does not hold: the signed read got through to a 404
    missing = CliRunner().invoke(main, ["status", "https://cris.example.edu", "nope"])
    assert missing.exit_code == 2
    assert "rejected with HTTP 404" in missing.stderr
    # And with a wrong secret the read is refused as unsigned
    monkeypatch.setenv("PIDSYNC_EMIT_SECRET", "not-the-secret")
    refused = CliRunner().invoke(main, ["status", "https://cris.example.edu", "nope"])
    assert refused.exit_code == 2
    assert "rejected with HTTP 401" in refused.stderr


def test_status_without_client_settings_is_exit_2_naming_them(monkeypatch):
    monkeypatch.delenv("PIDSYNC_EMIT_CLIENT", raising=False)
    monkeypatch.delenv("PIDSYNC_EMIT_SECRET", raising=False)
    result = CliRunner().invoke(main, ["status", "s", "w"])
    assert result.exit_code == 2
    assert "PIDSYNC_EMIT_CLIENT" in result.stderr


def test_status_of_a_funding_reads_the_fundings_collection(live_server, monkeypatch):
    monkeypatch.setenv("PIDSYNC_EMIT_URL", live_server)
    monkeypatch.setenv("PIDSYNC_EMIT_CLIENT", "cris")
    monkeypatch.setenv("PIDSYNC_EMIT_SECRET", INTAKE_SECRET)

    missing = CliRunner().invoke(
        main, ["status", "--kind", "funding", "https://cris.example.edu", "grant-1"]
    )

    assert missing.exit_code == 2
    assert "no funding 'grant-1'" in missing.stderr


@pytest.fixture
def bare_environment(monkeypatch, tmp_path):
    """A new integrator's shell: no PIDSYNC_* exported, in a directory of their own."""
    for name in [n for n in os.environ if n.startswith("PIDSYNC_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _env_lines(url: str) -> str:
    return (
        f"PIDSYNC_EMIT_URL={url}\nPIDSYNC_EMIT_CLIENT=cris\nPIDSYNC_EMIT_SECRET={INTAKE_SECRET}\n"
    )


def test_emit_and_status_read_a_dotenv_file_with_nothing_exported(bare_environment, live_server):
    # Given only a .env file in the working directory
    (bare_environment / ".env").write_text(_env_lines(live_server))
    (bare_environment / "event.json").write_text(json.dumps(event()))
    # When the integrator emits and asks for the status, with no options
    sent = CliRunner().invoke(main, ["emit", "event.json"])
    status = CliRunner().invoke(main, ["status", "https://cris.example.edu", "w-1"])
    # Then both signed as the .env's client: the event accepted, the read got through (404:
    # not processed yet, rather than 401 unsigned)
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.stdout)["accepted"] == 1
    assert "HTTP 404" in status.stderr


def test_emit_reads_the_file_named_by_pidsync_env_file(bare_environment, live_server, monkeypatch):
    elsewhere = bare_environment / "config" / "pidsync.env"
    elsewhere.parent.mkdir()
    elsewhere.write_text(_env_lines(live_server))
    (bare_environment / "event.json").write_text(json.dumps(event()))
    monkeypatch.setenv("PIDSYNC_ENV_FILE", str(elsewhere))
    sent = CliRunner().invoke(main, ["emit", "event.json"])
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.stdout)["accepted"] == 1


def test_emit_with_nothing_configured_names_the_missing_setting_in_one_line(bare_environment):
    (bare_environment / "event.json").write_text(json.dumps(event()))
    result = CliRunner().invoke(main, ["emit", "event.json"])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "PIDSYNC_EMIT_CLIENT" in result.stderr
    assert "PIDSYNC_EMIT_SECRET" in result.stderr
    assert "Traceback" not in result.output


def test_only_the_missing_setting_is_named(bare_environment):
    (bare_environment / ".env").write_text("PIDSYNC_EMIT_CLIENT=cris\n")
    result = CliRunner().invoke(main, ["status", "s", "w"])
    assert result.exit_code == 2
    assert "PIDSYNC_EMIT_SECRET" in result.stderr
    assert "PIDSYNC_EMIT_CLIENT" not in result.stderr


def test_worker_refuses_a_queue_it_does_not_have_with_exit_2():
    # A typo in a supervisor's --queue would leave a queue with no consumer at all.
    result = CliRunner().invoke(main, ["worker", "--queue", "pidsync-efects"])
    assert result.exit_code == 2
    assert "no queue pidsync-efects" in result.output
    assert "pidsync, pidsync-effects" in result.output
