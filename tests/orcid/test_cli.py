"""The ORCID commands: stateless reads and search, and the operator's stateful ones."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.orcid.helpers import authorize, place_pending, placement, publish, researcher
from worker.cli import orcid as cli
from worker.models import GrantStatus, OrcidGrant, PlacementState


@pytest.fixture
def booted(runtime, monkeypatch):
    monkeypatch.setattr(cli, "boot", lambda: runtime)
    return runtime


def _env(sandbox) -> dict[str, str]:
    info = sandbox.info()
    return {
        "PIDSYNC_ORCID_OAUTH_URL": info["orcid_oauth_url"],
        "PIDSYNC_ORCID_PUBLIC_URL": info["orcid_public_url"],
        "PIDSYNC_ORCID_CLIENT_ID": info["orcid_client_id"],
        "PIDSYNC_ORCID_CLIENT_SECRET": info["orcid_client_secret"],
    }


def test_search_record_and_suggest_start_no_database(sandbox, tmp_path):
    # Given a sandbox record, and a pidsync configured with no reachable database or broker
    orcid = sandbox.add_researcher(
        given_names="Ada", family_name="Lovelace", affiliation="Example University"
    )
    env = {
        **_env(sandbox),
        "PIDSYNC_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "PIDSYNC_REDIS_URL": "redis://127.0.0.1:1/0",
        "PIDSYNC_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    code = (
        "import atexit, sys\n"
        "stack = {'sqlalchemy', 'dramatiq', 'psycopg', 'redis'}\n"
        "atexit.register(lambda: sys.stderr.write("
        "'LOADED:' + ','.join(sorted(stack & {m.split('.')[0] for m in sys.modules})) + '\\n'))\n"
        "from worker.cli.orcid import orcid\n"
        "orcid.main(sys.argv[1:], prog_name='pidsync orcid')\n"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip

    found = run("search", "family-name:Lovelace AND affiliation-org-name:Example*")
    record = run("record", orcid)
    suggested = run("suggest", "--given", "Ada", "--family", "Lovelace")
    bad = run("record", "0000-0002-1825-0098")

    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["num-found"] == 1
    assert json.loads(record.stdout)["orcid-identifier"]["path"] == orcid
    assert json.loads(suggested.stdout)[0]["orcid"] == orcid
    assert bad.returncode == 2 and "ORCID" in bad.stderr
    for done in (found, record, suggested):
        assert "LOADED:\n" in done.stderr  # no database or broker stack was even imported


def test_tokens_revoke_revokes_here_and_at_orcid(booted, session, sandbox, cipher, client_id):
    orcid = researcher(sandbox)
    grant, token = authorize(session, sandbox, cipher, orcid, client_id)

    result = CliRunner().invoke(cli.revoke, [orcid])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"grant": grant.id, "result": "token revoked at ORCID"}]
    session.expire_all()
    stored = session.get(OrcidGrant, grant.id)
    assert (
        stored.status == GrantStatus.REVOKED and stored.revoked_reason == "revoked by an operator"
    )
    revoked = {t["access_token"]: t["revoked"] for t in sandbox.state()["orcid"]["tokens"]}
    assert revoked[token["access_token"]] is True
    assert CliRunner().invoke(cli.revoke, [orcid]).exit_code == 2  # nothing left to revoke


def test_rotate_keys_command(booted, session, sandbox, cipher, client_id):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)

    checked = CliRunner().invoke(cli.rotate_keys, ["--check"])
    rotated = CliRunner().invoke(cli.rotate_keys, [])

    assert checked.exit_code == 0 and json.loads(checked.stdout) == {"undecryptable": []}
    assert rotated.exit_code == 0
    assert json.loads(rotated.stdout) == {"grants": 1, "inbox_events": 1}


def test_reconcile_and_re_add_commands(booted, session, sandbox, cipher, client_id, deps):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    place_pending(session, deps)
    sandbox.delete_work(orcid, placement(session, work_row, orcid).put_code)

    reconciled = CliRunner().invoke(cli.reconcile_orcid, ["--orcid", orcid])
    readded = CliRunner().invoke(cli.orcid, ["re-add", work_row.source, "w-1", orcid])

    assert reconciled.exit_code == 0, reconciled.output
    report = json.loads(reconciled.stdout.splitlines()[0])
    assert [r["id"] for r in report["removed_by_researcher"]] == ["w-1"]
    assert readded.exit_code == 0, readded.output
    assert placement(session, work_row, orcid).state == PlacementState.PENDING
    place_pending(session, deps)
    assert placement(session, work_row, orcid).state == PlacementState.PLACED
    nothing = CliRunner().invoke(cli.orcid, ["re-add", work_row.source, "w-1", orcid])
    assert nothing.exit_code == 2
    assert session.execute(select(OrcidGrant)).scalar_one().status == GrantStatus.ACTIVE


def test_reconcile_exits_1_while_orcid_fails_and_once_the_tries_are_spent(
    booted, session, sandbox, cipher, client_id
):
    # Given a granted record, and ORCID answering every call with a server error
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    sandbox.set_faults("orcid", error_rate=1.0)
    tries = booted.settings.orcid.max_retries

    # When an operator reconciles it until the tries are spent
    runs = [CliRunner().invoke(cli.reconcile_orcid, ["--orcid", orcid]) for _ in range(tries)]

    # Then every run says it did not finish: retried first, then failed
    assert [run.exit_code for run in runs] == [1] * tries
    assert all("will retry in" in run.stderr for run in runs[:-1])
    assert "failed: retries exhausted" in runs[-1].stderr


def test_tokens_revoke_exits_1_when_orcid_cannot_be_reached(
    booted, session, sandbox, cipher, client_id
):
    orcid = researcher(sandbox)
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    sandbox.set_faults("orcid", error_rate=1.0)

    result = CliRunner().invoke(cli.revoke, [orcid])

    assert result.exit_code == 1, result.output
    (shown,) = json.loads(result.stdout)
    assert shown["grant"] == grant.id and shown["result"].startswith("will retry in")
    assert "ORCID could not be reached; run the command again" in result.stderr
