"""``pidsync chaos``'s command line. The ``--quick`` run itself is CI's last step
(``scripts/test``, after pytest, alone on the machine so its bounded waits measure pidsync and
not the rest of the suite): it exits non-zero on any violated invariant."""

from __future__ import annotations

import subprocess
import sys

import pytest


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
