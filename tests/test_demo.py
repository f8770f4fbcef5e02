"""The README's first command: `pidsync demo` runs the whole pipeline on embedded servers and
the sandbox, and every journey ends as it should (a change that breaks it fails here, not in a
user's first minute), and it leaves no data directory behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_the_demo_runs_every_journey_to_its_end(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),  # where the demo makes its temporary data directory
    }
    done = subprocess.run(
        [sys.executable, "-m", "worker.cli", "demo"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Every journey ended as it should." in done.stdout + done.stderr
    assert "every effect happened exactly once" in done.stdout + done.stderr
    # And it cleaned up after itself: its data directory (tens of MB) is gone
    assert not list(tmp_path.glob("pidsync-demo-*")), "the demo left its data directory behind"
    assert "removed" in done.stderr
