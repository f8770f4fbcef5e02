"""The operator's CLI given an id or offset past any row (past PostgreSQL's bigint): exit 2
naming the argument, as any bad input does, never a database traceback (exit 1)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from worker.cli import dead_letters as letters_cli
from worker.cli import ops as ops_cli

HUGE = str(2**70)


@pytest.fixture
def booted(runtime, monkeypatch):
    for module in (ops_cli, letters_cli):
        monkeypatch.setattr(module, "boot", lambda **_kw: runtime)
    return runtime


@pytest.mark.parametrize(
    ("command", "args", "named"),
    [
        (letters_cli.dead_letters, ["show", HUGE], "LETTER_ID"),
        (letters_cli.dead_letters, ["replay", HUGE], "LETTER_IDS"),
        (letters_cli.dead_letters, ["purge", HUGE, "--yes"], "LETTER_IDS"),
        (letters_cli.dead_letters, ["list", "--offset", HUGE], "--offset"),
        (ops_cli.works, ["list", "--offset", HUGE], "--offset"),
    ],
)
def test_an_id_or_offset_past_any_row_is_bad_input(booted, command, args, named):
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert named in result.stderr
