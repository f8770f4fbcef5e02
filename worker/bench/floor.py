"""The floor: what an outbound effect costs with nothing of pidsync around it. One bare
dramatiq message whose actor commits a one-row PostgreSQL insert (SQLAlchemy Core, psycopg,
a connection pool) and makes one keep-alive ``requests`` call to the sandbox.

It runs as its own dramatiq worker (``dramatiq worker.bench.floor``), configured by the
``BENCH_FLOOR_*`` variables :func:`environment` sets; the overhead scenario compares pidsync's
CPU per effect with this process's CPU per message, measured in the same run.
"""

from __future__ import annotations

import os
import threading

import dramatiq
import requests
import sqlalchemy
from dramatiq.brokers.redis import RedisBroker

NAMESPACE = "bench-floor"
QUEUE = "floor"
TABLE = "bench_floor"
COUNT = f"SELECT count(*) FROM {TABLE}"  # noqa: S608 - a constant

_local = threading.local()


def environment(database_url: str, redis_url: str, http_url: str) -> dict[str, str]:
    return {
        "BENCH_FLOOR_DATABASE_URL": database_url,
        "BENCH_FLOOR_REDIS_URL": redis_url,
        "BENCH_FLOOR_HTTP_URL": http_url,
    }


def create_table(engine: sqlalchemy.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigint PRIMARY KEY)")


def broker_for(redis_url: str) -> RedisBroker:
    return RedisBroker(url=redis_url, namespace=NAMESPACE)  # type: ignore[no-untyped-call]


def _http() -> requests.Session:
    session: requests.Session | None = getattr(_local, "http", None)
    if session is None:
        session = _local.http = requests.Session()
    return session


if os.environ.get("BENCH_FLOOR_REDIS_URL"):  # the floor's own worker process
    broker = broker_for(os.environ["BENCH_FLOOR_REDIS_URL"])
    dramatiq.set_broker(broker)
    _engine = sqlalchemy.create_engine(os.environ["BENCH_FLOOR_DATABASE_URL"], pool_size=8)
    _insert = sqlalchemy.text(f"INSERT INTO {TABLE} (id) VALUES (:id)")  # noqa: S608 - constant
    _url = os.environ["BENCH_FLOOR_HTTP_URL"]

    @dramatiq.actor(queue_name=QUEUE, max_retries=0)
    def effect(number: int) -> None:
        with _engine.begin() as conn:
            conn.execute(_insert, {"id": number})
        _http().get(_url, timeout=30).raise_for_status()
