"""The operator's CLI against the real database: the overview (`pidsync status` without a
work), `works list|show`, `dead-letters show|replay|purge` with progress on stderr, and exit
codes a script can use (0 done, 1 some failed, 2 bad input)."""

from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import select

from tests.ops.flows import fail_with_401
from worker.cli import dead_letters as letters_cli
from worker.cli import events as events_cli
from worker.cli import ops as ops_cli
from worker.models import DeadLetter, OpsAction, OpsActionKind


@pytest.fixture
def booted(runtime, monkeypatch):
    for module in (ops_cli, letters_cli):
        monkeypatch.setattr(module, "boot", lambda **_kw: runtime)
    return runtime


def run(command, *args: str, stdin: str | None = None):
    return CliRunner().invoke(command, list(args), input=stdin)


def test_status_without_a_work_prints_the_overview(booted, session, registrars):
    fail_with_401(session, registrars)
    result = run(events_cli.status, "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["problems"]["failed_dois"] == 1
    assert shown["events"]["hour"]["received"] == 1
    text = run(events_cli.status)
    assert "1 failed DOIs" in text.stdout and "queue pidsync" in text.stdout


def test_status_with_half_a_work_is_bad_input(booted):
    result = run(events_cli.status, "urn:x")
    assert result.exit_code == 2
    assert "SOURCE and WORK_ID together" in result.stderr


def test_works_list_by_state_and_tenant(booted, session, registrars):
    fail_with_401(session, registrars)
    failed = json.loads(run(ops_cli.works, "list", "--state", "failed", "--json").stdout)
    assert [w["id"] for w in failed["items"]] == ["w-1"] and failed["more"] is False
    other = json.loads(
        run(ops_cli.works, "list", "--state", "failed", "--tenant", "x", "--json").stdout
    )
    assert other["items"] == []
    assert run(ops_cli.works, "list", "--state", "stuck").exit_code == 2


def test_works_show_prints_the_timeline_by_doi(booted, session, registrars):
    reg = fail_with_401(session, registrars)
    result = run(ops_cli.works, "show", reg.doi)
    assert result.exit_code == 0, result.stderr
    assert f"DOI {reg.doi}: failed" in result.stdout
    assert "-> 401 in" in result.stdout  # the refused call, with its latency
    shown = json.loads(run(ops_cli.works, "show", reg.doi, "--json").stdout)
    assert shown["work"]["id"] == "w-1"
    missing = run(ops_cli.works, "show", "10.9999/none")
    assert missing.exit_code == 2 and "no work" in missing.stderr


def _letters(session, n: int, tag: str = "a") -> list[int]:
    rows = [DeadLetter(queue="pidsync", actor="events.process", message_id=f"m-{tag}{i}", args=[i],
                       reason="gave up") for i in range(n)]  # fmt: skip
    session.add_all(rows)
    session.flush()
    return [r.id for r in rows]


def test_replay_all_shows_progress_and_replays_each_once(booted, session):
    ids = _letters(session, 3)
    result = run(letters_cli.dead_letters, "replay", "--all")
    assert result.exit_code == 0, result.stderr
    assert "replaying: 3/3" in result.stderr  # plain lines: not a terminal
    assert sorted(json.loads(line)["id"] for line in result.stdout.splitlines()) == ids
    actions = session.execute(select(OpsAction.action)).scalars().all()
    assert actions == [OpsActionKind.REPLAY] * 3
    # Replaying one already replayed and one never parked: nothing done, bad input (2);
    # one of two done: some failed (1).
    assert run(letters_cli.dead_letters, "replay", str(ids[0])).exit_code == 2
    fresh = _letters(session, 1, tag="b")
    assert run(letters_cli.dead_letters, "replay", str(ids[0]), str(fresh[0])).exit_code == 1


def test_replay_needs_ids_or_all(booted):
    result = run(letters_cli.dead_letters, "replay")
    assert result.exit_code == 2 and "--all" in result.stderr


def test_show_redacts_and_purge_asks_first(booted, session):
    letter = DeadLetter(queue="pidsync", actor="x", message_id="m-x", args=[],
                        reason="POST https://svc/?password=hunter2 failed")  # fmt: skip
    session.add(letter)
    session.flush()
    shown = run(letters_cli.dead_letters, "show", str(letter.id))
    assert shown.exit_code == 0 and "hunter2" not in shown.stdout
    refused = run(letters_cli.dead_letters, "purge", "--all")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert session.get(DeadLetter, letter.id) is not None
    done = run(letters_cli.dead_letters, "purge", "--all", "--yes", "--note", "noise")
    assert json.loads(done.stdout) == {"purged": 1}
    assert session.execute(select(DeadLetter)).first() is None


def test_hash_password_makes_an_argon2_hash_of_it():
    result = run(ops_cli.ops, "hash-password", "--stdin", stdin="a long enough password\n")
    assert result.exit_code == 0
    assert PasswordHasher().verify(result.stdout.strip(), "a long enough password")
    assert run(ops_cli.ops, "hash-password", "--stdin", stdin="short\n").exit_code == 2
