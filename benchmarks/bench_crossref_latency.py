"""Time from a ``work.published`` event to its Crossref DOI registered, three ways.

Everything is real but the agency: the sandbox (in this process, over HTTP, with its default
processing time: 2 s queued + 2 s in process), PostgreSQL and Redis (the tests' ones), the
signed HTTP intake and pidsync's web server (uvicorn in this process, so Crossref's callbacks
reach it), and a dramatiq worker in this process. The sandbox compiles Crossref's XSD before
the first event (at its first deposit otherwise, seconds that are no part of any figure). Default settings otherwise, so the 5 s
coalescing window (``PIDSYNC_CROSSREF_BATCH_WINDOW_SECONDS``) is part of every figure.

1. **before**: the old poll schedule (first poll 60 s after the upload), no callback;
2. **polling**: the new default schedule (5, 10, 30, ... s), no callback;
3. **callback**: the new schedule, and Crossref's notification callback.

Each scenario runs in its own process (one runtime per process). Events are sent one at a
time, each waiting for its DOI; the figures are seconds from the intake's 202 to the
registration row saying ``registered``.

    .venv/bin/python benchmarks/bench_crossref_latency.py [--events 3] [--before-events 2]

Measured 2026-12-06 on the shared 2-core machine (seconds, event's 202 to DOI registered):
before 65.35 (2 events: 65.35-65.36), polling 10.27 (3: 10.25-10.29), callback 9.25 (3:
9.19-9.49). Each includes the 5 s window and the sandbox's 4 s of processing.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import requests

SOURCE = "https://cris.bench.example.edu"
CLIENT = "bench"
SECRET = "bench-intake-secret"
CALLBACK_SECRET = "bench-callback-" + "s" * 24
ADMIN_URL = os.environ.get(
    "PIDSYNC_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PIDSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/") + "/15"
DATABASE = "pidsync_bench_crossref"
OLD_SCHEDULE = "60,120,300,600,1200,1800,3600"


def fresh_database() -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    from worker.migrate import upgrade

    admin = make_url(ADMIN_URL)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    url = admin.set(database=DATABASE).render_as_string(hide_password=False)
    upgrade(url)
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post_event(url: str, n: int) -> None:
    from worker.events.signature import sign

    event = {
        "specversion": "1.0",
        "id": f"e-{n}",
        "source": SOURCE,
        "type": "work.published",
        "datacontenttype": "application/json",
        "data": {
            "id": f"a-{n}",
            "type": "journal-article",
            "title": f"Benchmark article {n}",
            "publisher": "Bench University Press",
            "publication_date": "2026-01-15",
            "url": f"https://journal.bench.example.edu/a-{n}",
            "container": {"title": "Journal of Benchmarks", "volume": "1", "issue": "1"},
            "registration": {"registrar": "crossref"},
            "contributors": [{"given": "Ada", "family": "Lovelace"}],
        },
    }
    body = json.dumps(event).encode()
    answer = requests.post(
        f"{url}/events",
        data=body,
        headers={
            "Content-Type": "application/cloudevents+json",
            "Pidsync-Client": CLIENT,
            "Pidsync-Signature": sign(SECRET, body),
        },
        timeout=30,
    )
    answer.raise_for_status()


def run_scenario(name: str, events: int) -> list[float]:
    """One scenario in this process: the seconds from each event's 202 to its DOI."""
    import dramatiq
    import redis
    import uvicorn
    from sqlalchemy import text

    from worker.bootstrap import boot
    from worker.config import load_settings
    from worker.reference import xsd
    from worker.sandbox.server import Sandbox
    from worker.web.app import create_app

    xsd("crossref")  # compiled once per process: not part of any figure
    database_url = fresh_database()
    redis.Redis.from_url(REDIS_URL).flushdb()
    port = free_port()
    with Sandbox() as sandbox:  # default processing: 2 s + 2 s
        env = {k.removeprefix("PIDSYNC_").lower(): v for k, v in sandbox.info()["env"].items()}
        env |= {
            "env": "production",
            "log_level": "WARNING",
            "database_url": database_url,
            "redis_url": REDIS_URL,
            "intake_clients": f"{CLIENT}:{SECRET}",
        }
        section: dict[str, Any] = {}  # the crossref section (flat names are read from env only)
        if name == "before":
            section["poll_schedule"] = OLD_SCHEDULE
        if name == "callback":
            section["notify_url"] = f"http://127.0.0.1:{port}/webhooks/crossref/{CALLBACK_SECRET}"
            section["notify_endpoint"] = "bench.1"
        settings = load_settings(_env_file=None, crossref=section, **env)
        runtime = boot(settings, migrate=False)
        # This process is the worker too: declare every actor.
        import worker.actors

        server = uvicorn.Server(
            uvicorn.Config(
                create_app(runtime), host="127.0.0.1", port=port, log_level="warning",
                log_config=None,
            )
        )  # fmt: skip
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.02)
        worker = dramatiq.Worker(runtime.broker, worker_threads=4, worker_timeout=100)
        worker.start()
        figures = []
        query = text(
            "SELECT r.state FROM doi_registrations r JOIN works w ON w.id = r.work_id "
            "WHERE w.external_id = :id"
        )
        for n in range(events):
            post_event(f"http://127.0.0.1:{port}", n)
            started = time.monotonic()
            while True:
                with runtime.database.engine.connect() as conn:
                    state = conn.execute(query, {"id": f"a-{n}"}).scalar_one_or_none()
                if state == "registered":
                    break
                if time.monotonic() - started > 300:
                    raise RuntimeError(f"{name}: a-{n} not registered after 300 s ({state})")
                time.sleep(0.02)
            figures.append(time.monotonic() - started)
        worker.stop()
        server.should_exit = True
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3, help="events per new-schedule run")
    parser.add_argument("--before-events", type=int, default=2, help="events, old schedule")
    parser.add_argument("--scenario", choices=["before", "polling", "callback"])
    args = parser.parse_args()
    if args.scenario:
        events = args.before_events if args.scenario == "before" else args.events
        print(json.dumps(run_scenario(args.scenario, events)), flush=True)
        return
    results: dict[str, Any] = {}
    for scenario in ("before", "polling", "callback"):
        command = [sys.executable, __file__, "--scenario", scenario]
        command += ["--events", str(args.events), "--before-events", str(args.before_events)]
        output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
        figures = json.loads(output.strip().splitlines()[-1])
        results[scenario] = {
            "events": len(figures),
            "median_s": round(statistics.median(figures), 2),
            "min_s": round(min(figures), 2),
            "max_s": round(max(figures), 2),
        }
        print(scenario, results[scenario], flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
