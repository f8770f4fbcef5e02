"""/healthz latency while the largest allowed batch is being stored (issue 11).

Starts the web process (uvicorn in a thread) on a fresh database, posts one batch of
PIDSYNC_MAX_BATCH_EVENTS signed work.published events, and polls /healthz every 10 ms from
another thread meanwhile. Prints one JSON object: the batch's time, and /healthz latencies
(median, p95, max) at rest and during the batch.

    PIDSYNC_TEST_DATABASE_URL=... PIDSYNC_TEST_REDIS_URL=... python benchmarks/bench_intake.py
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import threading
import time
from typing import Any

import psycopg
import requests
import uvicorn
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get(
    "PIDSYNC_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PIDSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/") + "/14"
DATABASE = "pidsync_bench_intake"
CLIENT, SECRET = "bench", "bench-intake-secret"
SOURCE = "https://cris.bench.example/"


def fresh_database() -> str:
    from worker.migrate import upgrade

    admin = make_url(ADMIN_URL)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    url = admin.set(database=DATABASE).render_as_string(hide_password=False)
    upgrade(url)
    return url


def start_web(database_url: str) -> tuple[Any, str]:
    from worker.bootstrap import boot
    from worker.config import load_settings
    from worker.web.app import create_app

    settings = load_settings(
        _env_file=None,
        env="test",
        log_level="WARNING",
        database_url=database_url,
        redis_url=REDIS_URL,
        intake_clients=f"{CLIENT}:{SECRET}",
    )
    runtime = boot(settings, migrate=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning",
                       log_config=None)
    )  # fmt: skip
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return runtime, f"http://127.0.0.1:{port}"


def batch(count: int) -> bytes:
    events = [
        {
            "specversion": "1.0",
            "id": f"e-{n}",
            "source": SOURCE,
            "type": "work.published",
            "data": {
                "id": f"ds-{n}",
                "type": "dataset",
                "title": f"Dataset {n}",
                "publisher": "Bench University",
                "publication_date": "2024",
                "contributors": [{"name": "Bench Lab"}],
            },
        }
        for n in range(count)
    ]
    return json.dumps(events).encode()


def poll(url: str, stop: threading.Event, out: list[float]) -> None:
    with requests.Session() as http:
        while not stop.is_set():
            began = time.perf_counter()
            http.get(url + "/healthz", timeout=30).raise_for_status()
            out.append((time.perf_counter() - began) * 1000)
            time.sleep(0.01)


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "samples": len(ordered),
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2),
        "max_ms": round(ordered[-1], 2),
    }


def main() -> None:
    from worker.events.signature import sign

    runtime, url = start_web(fresh_database())
    count = runtime.settings.max_batch_events
    at_rest: list[float] = []
    stop = threading.Event()
    poller = threading.Thread(target=poll, args=(url, stop, at_rest))
    poller.start()
    time.sleep(1.0)
    stop.set()
    poller.join()

    raw = batch(count)
    during: list[float] = []
    stop = threading.Event()
    poller = threading.Thread(target=poll, args=(url, stop, during))
    poller.start()
    time.sleep(0.2)
    headers = {
        "Content-Type": "application/cloudevents-batch+json",
        "Pidsync-Client": CLIENT,
        "Pidsync-Signature": sign(SECRET, raw),
    }
    began = time.perf_counter()
    response = requests.post(url + "/events", data=raw, headers=headers, timeout=300)
    batch_ms = (time.perf_counter() - began) * 1000
    time.sleep(0.2)
    stop.set()
    poller.join()
    response.raise_for_status()
    print(
        json.dumps(
            {
                "batch_events": count,
                "batch_bytes": len(raw),
                "batch_status": response.status_code,
                "batch_accepted": response.json()["accepted"],
                "batch_ms": round(batch_ms, 1),
                "healthz_at_rest": summary(at_rest),
                "healthz_during_batch": summary(during),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
