"""Control API, state, reset, limits, state file, info and the `sandbox` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import requests

from worker.sandbox.server import Sandbox

ENV_NAMES = {
    "PIDSYNC_ORCID_OAUTH_URL", "PIDSYNC_ORCID_API_URL", "PIDSYNC_ORCID_PUBLIC_URL",
    "PIDSYNC_ORCID_CLIENT_ID", "PIDSYNC_ORCID_CLIENT_SECRET", "PIDSYNC_DATACITE_URL",
    "PIDSYNC_DATACITE_REPOSITORY_ID", "PIDSYNC_DATACITE_PASSWORD", "PIDSYNC_DATACITE_PREFIX",
    "PIDSYNC_CROSSREF_DEPOSIT_URL", "PIDSYNC_CROSSREF_API_URL", "PIDSYNC_CROSSREF_LOGIN_ID",
    "PIDSYNC_CROSSREF_PASSWORD", "PIDSYNC_CROSSREF_PREFIX", "PIDSYNC_DOI_RESOLVER_URL",
    "PIDSYNC_TOKEN_KEYS",
}  # fmt: skip
INFO_KEYS = {
    "orcid_oauth_url", "orcid_api_url", "orcid_public_url", "datacite_api_url",
    "crossref_deposit_url", "crossref_api_url", "doi_resolver_url", "control_url",
    "orcid_client_id", "orcid_client_secret", "datacite_repository_id", "datacite_password",
    "datacite_prefix", "crossref_login_id", "crossref_password", "crossref_prefix", "env",
}  # fmt: skip


def test_info_shape(sandbox):
    info = sandbox.info()
    assert set(info) == INFO_KEYS
    assert set(info["env"]) == ENV_NAMES
    assert all(isinstance(value, str) for value in info["env"].values())
    assert info["orcid_client_id"].startswith("APP-")
    assert len(info["orcid_client_id"]) == 20
    assert info["env"]["PIDSYNC_DATACITE_URL"] == info["datacite_api_url"]
    assert info["control_url"] == sandbox.url + "/_sandbox"
    from cryptography.fernet import Fernet

    Fernet(info["env"]["PIDSYNC_TOKEN_KEYS"].encode())


def test_state_shape_and_reset(sandbox, info, http):
    auth = (info["datacite_repository_id"], info["datacite_password"])
    http.put(
        info["datacite_api_url"] + "/dois/10.5072/state-1",
        json={"data": {"attributes": {}}},
        auth=auth,
    )
    http.get(info["datacite_api_url"] + "/dois/10.5072/missing")
    state = http.get(info["control_url"] + "/state").json()
    assert {"datacite", "crossref", "orcid", "requests", "faults", "limits"} <= set(state)
    assert state["datacite"]["dois"][0] == {
        **state["datacite"]["dois"][0],
        "doi": "10.5072/state-1",
        "state": "draft",
        "url": None,
        "client": "SANDBOX.REPO",
        "metadata": {},
    }
    assert {"submissions", "dois"} <= set(state["crossref"])
    assert set(state["requests"]) == {"orcid", "datacite", "crossref", "doi"}
    assert state["requests"]["datacite"] == {
        "total": 2,
        "rate_limited": 0,
        "by_status": {"201": 1, "404": 1},
    }
    sandbox.set_faults("datacite", latency_ms=10)
    assert http.post(info["control_url"] + "/reset").json() == {"reset": True}
    after = sandbox.state()
    assert after["datacite"]["dois"] == []
    assert after["requests"]["datacite"]["total"] == 0
    assert after["faults"]["datacite"]["latency_ms"] == 0


def test_limits_control_and_reset(sandbox, info, http):
    answer = http.post(info["control_url"] + "/limits", json={"datacite": {"limit": 1}})
    assert answer.json()["datacite"] == {"limit": 1, "window_seconds": 300.0}
    assert http.get(info["datacite_api_url"] + "/dois").status_code == 200
    assert http.get(info["datacite_api_url"] + "/dois").status_code == 429
    assert http.post(info["control_url"] + "/limits", json={"nowhere": {}}).status_code == 400
    assert (
        http.post(info["control_url"] + "/limits", json={"datacite": {"size": 1}}).status_code
        == 400
    )
    sandbox.reset()
    assert sandbox.state()["limits"]["datacite"] == {"limit": 3000, "window_seconds": 300.0}
    assert http.get(info["datacite_api_url"] + "/dois").status_code == 200


def test_unknown_paths_are_404_and_counted(sandbox, info, http):
    assert http.get(info["datacite_api_url"] + "/nothing-here").status_code == 404
    assert http.get(sandbox.url + "/elsewhere").status_code == 404
    assert sandbox.state()["requests"]["datacite"]["by_status"] == {"404": 1}


def test_the_request_counters_alone_are_what_the_state_counts(sandbox, info, http):
    """A load test follows its progress by the counters, without the records or a database."""
    assert http.get(info["datacite_api_url"] + "/dois").status_code == 200
    assert http.get(info["datacite_api_url"] + "/nothing-here").status_code == 404
    counters = http.get(info["control_url"] + "/requests").json()
    assert counters["datacite"]["by_status"] == {"200": 1, "404": 1}
    assert counters == sandbox.state()["requests"]


def test_state_file_survives_a_restart(tmp_path):
    path = tmp_path / "sandbox-state.json"
    with Sandbox(state_file=path) as first:
        info = first.info()
        auth = (info["datacite_repository_id"], info["datacite_password"])
        body = {"data": {"attributes": {"titles": [{"title": "Persisted"}]}}}
        assert (
            requests.put(
                info["datacite_api_url"] + "/dois/10.5072/kept", json=body, auth=auth, timeout=5
            ).status_code
            == 201
        )
    saved = json.loads(path.read_text())
    assert saved["datacite"]["dois"][0]["doi"] == "10.5072/kept"
    with Sandbox(state_file=path) as second:
        info = second.info()
        answer = requests.get(info["datacite_api_url"] + "/dois/10.5072/kept", auth=auth, timeout=5)
        assert answer.json()["data"]["attributes"]["titles"] == [{"title": "Persisted"}]


def test_sandbox_command_prints_one_json_line_and_stops_cleanly(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "worker.cli.sandbox",
            "--json",
            "--port",
            "0",
            "--crossref-delay",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        info = json.loads(line)
        assert set(info) == INFO_KEYS | {"pidsync"}  # the command adds pidsync's own settings
        # Every service accepts connections once the line is out
        assert requests.get(info["datacite_api_url"] + "/dois", timeout=5).status_code == 200
        assert requests.get(info["control_url"] + "/state", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert out == ""


def test_sandbox_command_readable_text(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "worker.cli.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while not lines or (lines[-1] and lines[-1].strip() != "Stop with Ctrl-C."):
            lines.append(process.stdout.readline())
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    text = "".join(lines)
    assert "datacite_api_url" in text
    assert "export PIDSYNC_DATACITE_URL=" in text
    assert process.returncode == 0


def test_python_orcid_controls_mirror_the_control_api(sandbox, info, http):
    # Given a researcher created and a token issued through the Python calls
    orcid = sandbox.add_researcher(given_names="Ada", family_name="Lovelace")
    token = sandbox.issue_token(orcid)
    assert token["orcid"] == orcid
    headers = {
        "Authorization": f"Bearer {token['access_token']}",
        "Accept": "application/vnd.orcid+json",
        "Content-Type": "application/vnd.orcid+json",
    }
    work = {
        "title": {"title": {"value": "Mirrored"}},
        "type": "journal-article",
        "external-ids": {
            "external-id": [
                {
                    "external-id-type": "doi",
                    "external-id-value": "10.5072/mirror",
                    "external-id-relationship": "self",
                }
            ]
        },
    }
    # When the client places two works and the researcher hides one and deletes the other
    codes = []
    for suffix in ("a", "b"):
        work["external-ids"]["external-id"][0]["external-id-value"] = f"10.5072/mirror-{suffix}"
        created = http.post(
            f"{info['orcid_api_url']}/v3.0/{orcid}/work", json=work, headers=headers
        )
        assert created.status_code == 201, created.text
        codes.append(int(created.headers["Location"].rsplit("/", 1)[1]))
    sandbox.hide_work(orcid, codes[0])
    sandbox.delete_work(orcid, codes[1])
    # Then the record keeps only the hidden one
    works = sandbox.state()["orcid"]["records"][orcid]["works"]
    assert [w["put_code"] for w in works] == [codes[0]]
    # And a revoked token no longer works
    sandbox.revoke_token(token["access_token"])
    refused = http.get(f"{info['orcid_api_url']}/v3.0/{orcid}/works", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
