"""A new integrator's first hour: `pidsync sandbox --json` hands over everything pidsync needs
to run against it, and `pidsync demo` leaves nothing behind unless asked to."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

from worker.config import load_settings


def _sandbox_json(*args: str) -> dict:
    process = subprocess.Popen(
        [sys.executable, "-m", "worker.cli.sandbox", "--json", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        return json.loads(process.stdout.readline())
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def test_sandbox_json_is_a_complete_configuration_for_pidsync(monkeypatch, tmp_path):
    info = _sandbox_json("--pidsync-url", "http://127.0.0.1:8123")
    # Given nothing but the printed environment
    for name in [n for n in os.environ if n.startswith("PIDSYNC_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    for name, value in info["env"].items():
        monkeypatch.setenv(name, value)
    settings = load_settings(data_dir=tmp_path)
    # Then pidsync accepts events from the printed client, and emit signs as that client
    client = info["pidsync"]["intake_client"]
    assert settings.emit.client == client["id"]
    assert settings.emit.secret is not None
    assert settings.emit.secret.get_secret_value() == client["secret"]
    assert settings.intake_clients[client["id"]].secrets[0].get_secret_value() == client["secret"]
    assert settings.emit.url == "http://127.0.0.1:8123"
    # And Crossref's callback points at pidsync's web process, with a secret path
    callback = info["pidsync"]["crossref_callback_url"]
    assert callback.startswith("http://127.0.0.1:8123/webhooks/crossref/")
    assert settings.crossref.notify_secret == callback.rpartition("/")[2]
    assert settings.orcid_callback_url == "http://127.0.0.1:8123/orcid/callback"
    # And the agencies are the sandbox's
    assert settings.orcid_api_url == info["orcid_api_url"]


def test_each_sandbox_start_has_its_own_secrets():
    first, second = _sandbox_json(), _sandbox_json()
    assert (
        first["pidsync"]["intake_client"]["secret"] != second["pidsync"]["intake_client"]["secret"]
    )
    assert first["pidsync"]["crossref_callback_url"] != second["pidsync"]["crossref_callback_url"]


def _failing_demo(base, *args: str) -> subprocess.CompletedProcess[str]:
    """`pidsync demo` whose database cannot be reached: it stops at once, as a run cut short."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(base),
        "TMPDIR": str(base),
        "PIDSYNC_DATABASE_URL": f"postgresql+psycopg://u@127.0.0.1:{closed}/x",
    }
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", "demo", *args],
        env=env, cwd=base, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_demo_cut_short_still_removes_its_data_directory(tmp_path):
    done = _failing_demo(tmp_path)
    assert done.returncode == 1
    assert "PostgreSQL unreachable" in done.stderr
    assert not list(tmp_path.glob("pidsync-demo-*"))


def test_keep_keeps_the_demos_data_directory(tmp_path):
    done = _failing_demo(tmp_path, "--keep")
    assert done.returncode == 1
    assert len(list(tmp_path.glob("pidsync-demo-*"))) == 1
    assert "removed" not in done.stderr
