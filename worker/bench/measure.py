"""Figures from outside the measured processes: CPU time from the operating system, PostgreSQL's
and Redis' own counters, percentiles and rates over time."""

from __future__ import annotations

import bisect
import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psutil


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and every live descendant (dramatiq's worker
    processes are children of its main process)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def tree_rss_mb(pid: int) -> dict[int, float]:
    """Resident memory (MB) of each process in the tree, by pid."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {}
    sizes = {}
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            sizes[process.pid] = process.memory_info().rss / 2**20
    return sizes


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def per_second(times: Sequence[float], start: float | None = None) -> list[tuple[float, int]]:
    """(second since ``start``, events in that second) for event timestamps in seconds."""
    if not times:
        return []
    origin = min(times) if start is None else start
    counts: dict[int, int] = {}
    for moment in times:
        second = int(moment - origin)
        counts[second] = counts.get(second, 0) + 1
    return [(float(s), counts.get(s, 0)) for s in range(max(counts) + 1)]


def sustained_rate(times: Sequence[float], skip: float) -> float:
    """Requests per second after the first ``skip`` seconds (the initial burst): the
    steady rate a limit allows."""
    ordered = sorted(times)
    window = [t for t in ordered if t >= ordered[0] + skip] if ordered else []
    if len(window) < 2 or window[-1] == window[0]:
        return 0.0
    return (len(window) - 1) / (window[-1] - window[0])


def backlogged_rate(
    done: Sequence[float], ready: Sequence[float], *, backlog: int, skip: float = 0.0
) -> tuple[float, int]:
    """The rate of ``done`` over the whole seconds that began with at least ``backlog`` items
    ``ready`` and not yet done (the supply was there: the limit or pidsync set the pace), from
    ``skip`` seconds after the first one done; and how many such seconds there were."""
    done_sorted, ready_sorted = sorted(done), sorted(ready)
    if not done_sorted:
        return 0.0, 0
    count = seconds = 0
    moment = done_sorted[0] + skip
    while moment + 1 <= done_sorted[-1]:
        finished = bisect.bisect_right(done_sorted, moment)
        if bisect.bisect_right(ready_sorted, moment) - finished >= backlog:
            seconds += 1
            count += bisect.bisect_right(done_sorted, moment + 1) - finished
        moment += 1
    return (count / seconds if seconds else 0.0), seconds


_PG_COUNTERS = (
    "xact_commit",
    "xact_rollback",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
)


@dataclass
class PgCounters:
    """PostgreSQL's cumulative counters for one database (``pg_stat_database``): transactions
    and rows. The statistics collector publishes a backend's counts within about a second of
    its transaction ending, so :meth:`snapshot` waits ``settle`` seconds first."""

    database_url: str
    settle: float = 1.5

    def snapshot(self) -> dict[str, int]:
        import psycopg
        from sqlalchemy.engine import make_url

        time.sleep(self.settle)
        url = make_url(self.database_url).set(drivername="postgresql")
        query = (
            f"SELECT {', '.join(_PG_COUNTERS)} FROM pg_stat_database "  # noqa: S608 - constants
            "WHERE datname = current_database()"
        )
        with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
            row = conn.execute(query).fetchone()
        assert row is not None  # noqa: S101 - the current database has a row
        return dict(zip(_PG_COUNTERS, (int(v) for v in row), strict=True))


def redis_calls(redis_client: Any) -> int:
    """Commands Redis has executed since its start (``INFO commandstats``), all kinds."""
    return sum(redis_calls_by_command(redis_client).values())


def redis_calls_by_command(redis_client: Any) -> dict[str, int]:
    """Commands Redis has executed since its start, by command (``cmdstat_evalsha`` ->
    ``evalsha``)."""
    stats = redis_client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in after}


def wait_until(
    what: str, check: Callable[[], bool], timeout: float, interval: float = 0.1
) -> float:
    """Poll ``check`` until it holds; the seconds it took. Raises TimeoutError naming ``what``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not done after {timeout:.0f}s")
        time.sleep(interval)
    return time.monotonic() - started
