"""The README's first command: `pidsync demo` runs the whole pipeline on embedded servers and
the sandbox, and every journey ends as it should (a change that breaks it fails here, not in a
user's first minute), and it leaves no data directory behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temporary directory with a short path: the embedded PostgreSQL's Unix socket lives
    under the demo's data directory, and socket paths are limited to about 100 bytes (pytest's
    own tmp_path under xdist is too deep)."""
    path = Path(tempfile.mkdtemp(prefix="pd", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_the_demo_runs_every_journey_to_its_end(short_tmp):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(short_tmp),
        "TMPDIR": str(short_tmp),  # where the demo makes its temporary data directory
    }
    done = subprocess.run(
        [sys.executable, "-m", "worker.cli", "demo"],
        env=env, cwd=short_tmp, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Every journey ended as it should." in done.stdout + done.stderr
    assert "every effect happened exactly once" in done.stdout + done.stderr
    # And it cleaned up after itself: its data directory (tens of MB) is gone
    assert not list(short_tmp.glob("pidsync-demo-*")), "the demo left its data directory behind"
    assert "removed" in done.stderr
