"""``pidsync chaos --quick`` as CI runs it: the real processes on private servers, a few
hundred events, kills and one restart of each server; every invariant must hold."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from worker.chaos.report import violations


@pytest.mark.slow
@pytest.mark.timeout(290)
def test_a_quick_chaos_run_loses_and_duplicates_nothing(tmp_path):
    out = tmp_path / "chaos.json"
    # Given pidsync under kills (some inside an agency's acceptance window), a restart of
    # Redis and of PostgreSQL, agency faults, an outage of each agency and tight limits
    command = [sys.executable, "-m", "worker.cli", "chaos", "--quick", "--seed", "7"]
    run = subprocess.Popen(
        [*command, "--json", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = run.communicate(timeout=220)
    except subprocess.TimeoutExpired:
        run.terminate()  # SIGTERM: the run stops every server and process it started
        run.communicate(timeout=50)
        raise
    done = subprocess.CompletedProcess(command, run.returncode, stdout, stderr)
    figures = json.loads(out.read_text())
    # Then it was broken as the quick profile says...
    assert figures["worker_kills"] >= 3, done.stderr[-3000:]
    assert figures["redis_restarts"] == 1
    assert figures["postgres_restarts"] == 1
    assert figures["web_kills"] == 1
    assert figures["faults_injected"] > 0
    assert figures["events"] >= 200  # "about" the 300 asked: the traffic plans whole items
    # ...and every invariant held: nothing lost, duplicated, stranded or looping
    assert violations(figures) == [], done.stdout + done.stderr[-3000:]
    assert done.returncode == 0


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--events", "0"], "--events"),
        (["--seed", "x"], "--seed"),
        (["--broker", "kafka"], "--broker"),
    ],
)
def test_bad_arguments_are_exit_code_2_naming_them(args, named):
    done = subprocess.run(
        [sys.executable, "-m", "worker.cli", "chaos", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert named in done.stderr
