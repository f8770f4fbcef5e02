"""ORCID placement throughput against the sandbox enforcing ORCID's limit (24 req/s, burst 40)
with 50 ms of latency on every call.

1. **Single placements**: N works (default 2,000), each naming one of R researchers (default
   100) who authorised us, placed by W dramatiq worker *processes* x T threads. Reports the
   sustained member-API rate as a % of 24 req/s and the 503s the sandbox answered (goal: >= 95 %,
   zero 503s).
2. **Backfill of one researcher's 1,000 works**: through the bulk endpoint (the grant arrives
   after the works) versus single POSTs (the grant arrives first). Reports both times and the
   ratio. Single writes to one record are serialised by the per-record lock, as ORCID requires.

Needs PostgreSQL and Redis (the machine's by default; see --database-url / --redis-url). A
database ``pidsync_bench_orcid`` is created afresh.

    .venv/bin/python benchmarks/bench_orcid.py [--placements 2000] [--processes 4] [--threads 4]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import redis
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from worker.broker import DEFAULT_QUEUE  # noqa: E402
from worker.sandbox.ratelimit import BucketSpec  # noqa: E402
from worker.sandbox.server import Sandbox  # noqa: E402

LIMIT = 24.0
SOURCE = "https://cris.example.edu"


def fresh_database(admin_url: str, name: str) -> str:
    admin = make_url(admin_url)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.set(database=name).render_as_string(hide_password=False)


def environment(
    sandbox: Sandbox, database_url: str, redis_url: str, data_dir: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIDSYNC_")}
    env.update(sandbox.info()["env"])
    env.update(
        {
            "PIDSYNC_DATABASE_URL": database_url,
            "PIDSYNC_REDIS_URL": redis_url,
            "PIDSYNC_BROKER_URL": redis_url,
            "PIDSYNC_INTAKE_CLIENTS": "cris:bench-intake-secret",
            "PIDSYNC_LOG_LEVEL": "WARNING",
            "PIDSYNC_DATA_DIR": str(data_dir),
            "PIDSYNC_ENV": "test",
        }
    )
    return env


def private_redis() -> tuple[subprocess.Popen[bytes] | None, str]:
    """A Redis of our own (nobody else's test run can flush it), when redis-server exists."""
    import shutil
    import socket

    binary = shutil.which("redis-server")
    if binary is None:
        return None, ""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def start_workers(env: dict[str, str], processes: int, threads: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "dramatiq", "worker.entrypoint", "worker.actors",
        "--processes", str(processes), "--threads", str(threads), "--queues", "pidsync",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)


def stop_workers(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def work(work_id: str, orcid: str) -> dict[str, Any]:
    return {
        "id": work_id,
        "type": "journal-article",
        "title": f"Benchmark work {work_id}",
        "publication_date": "2024-05-01",
        "url": f"https://repo.example.edu/{work_id}",
        "contributors": [{"given": "Ada", "family": "Lovelace", "orcid": orcid}],
    }


def receive(session: Any, event_type: str, data: dict[str, Any], event_id: str) -> None:
    from worker.bootstrap import runtime
    from worker.events.service import Context, process_event
    from worker.models import ReceivedEvent

    row = ReceivedEvent(
        source=SOURCE, event_id=event_id, type=event_type, client_id="cris",
        correlation_id=event_id, data=data,
    )  # fmt: skip
    session.add(row)
    session.flush()
    process_event(session, row.id, Context(runtime().settings))


def authorize(runtime: Any, sandbox: Sandbox, orcid: str, event_id: str) -> None:
    from worker.orcid.grants import seal_token_response

    client_id = sandbox.info()["orcid_client_id"]
    token = sandbox.issue_token(orcid, client_id)
    with runtime.database.session() as session:
        sealed = seal_token_response(runtime.cipher, token, client_id)
        receive(session, "researcher.authorized", sealed, event_id)


def publish(runtime: Any, items: list[tuple[str, str]], prefix: str) -> None:
    for start in range(0, len(items), 100):
        with runtime.database.session() as session:
            for work_id, orcid in items[start : start + 100]:
                receive(session, "work.published", work(work_id, orcid), f"{prefix}-{work_id}")


def placed_count(runtime: Any, prefix: str) -> int:
    from worker.models import OrcidPlacement, PlacementState, Work

    with runtime.database.session() as session:
        return int(
            session.execute(
                select(func.count(OrcidPlacement.id))
                .join(Work, Work.id == OrcidPlacement.work_id)
                .where(
                    OrcidPlacement.state == PlacementState.PLACED,
                    Work.external_id.like(f"{prefix}-%"),
                )
            ).scalar_one()
        )


def wait_placed(runtime: Any, prefix: str, total: int, timeout: float) -> list[tuple[float, int]]:
    """(seconds, placed) samples until all are placed."""
    started = time.monotonic()
    samples = []
    while True:
        count = placed_count(runtime, prefix)
        elapsed = time.monotonic() - started
        samples.append((elapsed, count))
        if count >= total:
            return samples
        if elapsed > timeout:
            raise SystemExit(f"only {count}/{total} placed after {timeout:.0f}s")
        time.sleep(0.25)


def member_calls(runtime: Any, since: Any) -> list[tuple[str, int | None, float]]:
    """ORCID member-API calls recorded since ``since``: (method, status, epoch seconds)."""
    with runtime.database.session() as session:
        rows = session.execute(
            text(
                "SELECT method, status, extract(epoch from created_at) FROM api_calls "
                "WHERE service = 'orcid' AND created_at >= :since ORDER BY created_at"
            ),
            {"since": since},
        ).all()
    return [(r[0], r[1], float(r[2])) for r in rows]


def db_now(runtime: Any) -> Any:
    with runtime.database.session() as session:
        return session.execute(text("SELECT now()")).scalar_one()


def sustained_rate(calls: list[tuple[str, int | None, float]], skip: float = 2.0) -> float:
    """Requests per second after the first ``skip`` seconds (the initial burst)."""
    if len(calls) < 2:
        return 0.0
    start = calls[0][2] + skip
    window = [c for c in calls if c[2] >= start]
    if len(window) < 2:
        return 0.0
    return (len(window) - 1) / (window[-1][2] - window[0][2])


def sandbox_times(sandbox: Sandbox, prefix: str) -> list[float]:
    """When the sandbox created each of these works (seconds): the POSTs as ORCID saw them."""
    records = sandbox.state()["orcid"]["records"].values()
    title = f"Benchmark work {prefix}-"
    return sorted(
        w["created_ms"] / 1000 for r in records for w in r["works"] if w["title"].startswith(title)
    )


def steady_rate(times: list[float], skip: float = 2.0) -> float:
    """Requests per second after the first ``skip`` seconds (the initial burst)."""
    window = [t for t in times if t >= times[0] + skip] if times else []
    if len(window) < 2:
        return 0.0
    return (len(window) - 1) / (window[-1] - window[0])


def rate_limited(sandbox: Sandbox) -> int:
    return int(sandbox.state()["requests"]["orcid"]["rate_limited"])


def bench_singles(
    runtime: Any, sandbox: Sandbox, args: argparse.Namespace, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Queue every placement first, then start the workers: what is measured is the workers
    against ORCID's limit, not how fast the works arrive. Returns the running workers."""
    print(f"\n== {args.placements} single placements over {args.researchers} records ==")
    orcids = [
        sandbox.add_researcher(given_names="Ada", family_name=f"R{i}")
        for i in range(args.researchers)
    ]
    for i, orcid in enumerate(orcids):
        authorize(runtime, sandbox, orcid, f"grant-s-{i}")
    # The grants' backfills: nothing to place yet. By name: this process declares no actors.
    runtime.broker.flush(DEFAULT_QUEUE)
    t0 = time.monotonic()
    publish(runtime, [(f"s-{i}", orcids[i % len(orcids)]) for i in range(args.placements)], "s")
    print(f"published {args.placements} works in {time.monotonic() - t0:.1f}s (placements queued)")
    before_503 = rate_limited(sandbox)
    since = db_now(runtime)
    workers = start_workers(env, args.processes, args.threads)
    samples = wait_placed(runtime, "s", args.placements, timeout=args.placements / 10 + 120)
    calls = member_calls(runtime, since)
    elapsed = calls[-1][2] - calls[0][2]
    rate = sustained_rate(calls)
    statuses: dict[str, int] = {}
    for _m, status, _t in calls:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    print(f"placed {samples[-1][1]} works; ORCID member-API calls: {len(calls)} {statuses}")
    print(f"wall time of the calls: {elapsed:.1f}s; overall {len(calls) / elapsed:.2f} req/s")
    print(
        f"sustained, as pidsync recorded its calls (after the first 2 s): {rate:.2f} req/s = "
        f"{100 * rate / LIMIT:.1f}% of {LIMIT:.0f} req/s"
    )
    times = sandbox_times(sandbox, "s")
    seen = steady_rate(times)
    print(
        f"sustained, as the sandbox received the POSTs (after the first 2 s): {seen:.2f} req/s "
        f"= {100 * seen / LIMIT:.1f}% of {LIMIT:.0f} req/s; overall "
        f"{(len(times) - 1) / (times[-1] - times[0]):.2f} req/s over {times[-1] - times[0]:.1f}s"
    )
    print(f"503s from the sandbox's limit: {rate_limited(sandbox) - before_503}")
    return workers


def bench_backfill(runtime: Any, sandbox: Sandbox, args: argparse.Namespace) -> None:
    n = args.backfill
    print(f"\n== backfill of {n} works for one researcher ==")
    # Bulk: the works exist first (awaiting consent); the grant triggers the bulk backfill.
    bulk_orcid = sandbox.add_researcher(given_names="Bulk", family_name="Researcher")
    publish(runtime, [(f"b-{i}", bulk_orcid) for i in range(n)], "b")
    since = db_now(runtime)
    t0 = time.monotonic()
    authorize(runtime, sandbox, bulk_orcid, "grant-b")
    wait_placed(runtime, "b", n, timeout=300)
    bulk_time = time.monotonic() - t0
    bulk_calls = member_calls(runtime, since)
    # Singles: the grant exists first; each work is placed by its own POST, one at a time on
    # the record (the per-record lock).
    single_orcid = sandbox.add_researcher(given_names="Single", family_name="Researcher")
    authorize(runtime, sandbox, single_orcid, "grant-u")
    time.sleep(2)
    since = db_now(runtime)
    t0 = time.monotonic()
    publish(runtime, [(f"u-{i}", single_orcid) for i in range(n)], "u")
    wait_placed(runtime, "u", n, timeout=n * 0.5 + 120)
    single_time = time.monotonic() - t0
    single_calls = member_calls(runtime, since)
    works = sandbox.state()["orcid"]["records"]
    for label, seconds, calls, orcid in (
        ("bulk:  ", bulk_time, bulk_calls, bulk_orcid),
        ("single:", single_time, single_calls, single_orcid),
    ):
        print(
            f"{label} {seconds:6.1f}s, {len(calls)} ORCID calls, "
            f"{len(works[orcid]['works'])} works on the record"
        )
    print(
        f"bulk is {single_time / bulk_time:.1f}x faster "
        f"({len(single_calls) / max(1, len(bulk_calls)):.0f}x fewer calls)"
    )


def warm_up(runtime: Any, sandbox: Sandbox) -> None:
    orcid = sandbox.add_researcher(given_names="Warm", family_name="Up")
    authorize(runtime, sandbox, orcid, "grant-w")
    publish(runtime, [("w-0", orcid)], "w")
    wait_placed(runtime, "w", 1, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--placements", type=int, default=2000)
    parser.add_argument("--researchers", type=int, default=100)
    parser.add_argument("--backfill", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "PIDSYNC_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="an admin URL; a database pidsync_bench_orcid is created under it",
    )
    parser.add_argument(
        "--redis-url", default="", help="default: a private redis-server started for the run"
    )
    parser.add_argument("--skip-singles", action="store_true")
    parser.add_argument("--skip-backfill", action="store_true")
    args = parser.parse_args()

    from worker.bootstrap import boot
    from worker.config import load_settings
    from worker.migrate import upgrade

    database_url = fresh_database(args.database_url, "pidsync_bench_orcid")
    upgrade(database_url)
    redis_server = None
    if not args.redis_url:
        redis_server, args.redis_url = private_redis()
    if not args.redis_url:
        args.redis_url = "redis://127.0.0.1:6379/15"
    redis.Redis.from_url(args.redis_url).flushdb()
    data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "pidsync-bench-orcid"
    with Sandbox(orcid_rate=BucketSpec(rate=LIMIT, burst=40)) as sandbox:
        sandbox.set_faults("orcid", latency_ms=args.latency_ms)
        env = environment(sandbox, database_url, args.redis_url, data_dir)
        os.environ.update(env)
        runtime = boot(load_settings(), migrate=False)
        print(
            f"sandbox ORCID: {LIMIT:.0f} req/s, burst 40, {args.latency_ms:.0f} ms latency; "
            f"workers: {args.processes} processes x {args.threads} threads"
        )
        workers = None
        try:
            if not args.skip_singles:
                workers = bench_singles(runtime, sandbox, args, env)
            if workers is None:
                workers = start_workers(env, args.processes, args.threads)
                warm_up(runtime, sandbox)
            if not args.skip_backfill:
                bench_backfill(runtime, sandbox, args)
        finally:
            if workers is not None:
                stop_workers(workers)
            if redis_server is not None:
                redis_server.terminate()


if __name__ == "__main__":
    main()
