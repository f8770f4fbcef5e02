"""The floors: what an outbound effect costs with nothing of pidsync around it.

- The bare floor (actor ``effect``): one dramatiq message whose actor commits a one-row
  PostgreSQL insert (SQLAlchemy Core, psycopg, a connection pool) and makes one keep-alive
  ``requests`` call to the sandbox. The issue's yardstick.
- The design floor (actors ``event`` and ``guarded``): the least that pidsync's promises take,
  written with the same bare parts and nothing else (no ORM, no validation, no rendering, no
  logging): per inbox event one message that locks the event, stores the work, its
  registration and its three placements and marks the event handled, in one transaction, then
  sends one message per effect; per effect one message whose transaction locks the effect's
  row across its call (exactly once), takes the agency's rate-limit token and the record's lock
  in Redis, makes the call, records it, writes the outcome and the emitting system's
  notification, and releases the lock. What pidsync spends beyond this is its own code.

It runs as its own dramatiq worker (``dramatiq worker.bench.floor``), configured by the
``BENCH_FLOOR_*`` variables :func:`environment` sets; the overhead scenario compares pidsync's
CPU per effect with this process's CPU per effect, measured in the same run.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time

import dramatiq
import requests
import sqlalchemy
from dramatiq.brokers.redis import RedisBroker

NAMESPACE = "bench-floor"
QUEUE = "floor"
TABLE = "bench_floor"
COUNT = f"SELECT count(*) FROM {TABLE}"  # noqa: S608 - a constant
#: The design floor's effects per event: one DOI and three placements, as in the scenario.
EFFECTS_PER_EVENT = 4
#: The design floor's tables (created and emptied by the scenario): the inbox, the works, the
#: effects (a registration or a placement each), the calls' records and the notifications.
DESIGN_TABLES = {
    "bench_design_inbox": "id bigint PRIMARY KEY, status text NOT NULL, handled_at timestamptz",
    "bench_design_work": "id bigint PRIMARY KEY, metadata jsonb NOT NULL",
    "bench_design_effect": (
        "id bigserial PRIMARY KEY, work_id bigint NOT NULL, kind text NOT NULL, "
        "state text NOT NULL, attempts int NOT NULL DEFAULT 0, put_code bigint"
    ),
    "bench_design_call": (
        "id bigserial PRIMARY KEY, effect_id bigint NOT NULL, status int NOT NULL, "
        "latency_ms double precision NOT NULL"
    ),
    "bench_design_note": "id bigserial PRIMARY KEY, effect_id bigint NOT NULL, payload jsonb",
}
DESIGN_DONE = "SELECT count(*) FROM bench_design_effect WHERE state = 'done'"

_local = threading.local()


def environment(database_url: str, redis_url: str, http_url: str) -> dict[str, str]:
    return {
        "BENCH_FLOOR_DATABASE_URL": database_url,
        "BENCH_FLOOR_REDIS_URL": redis_url,
        "BENCH_FLOOR_HTTP_URL": http_url,
    }


def create_table(engine: sqlalchemy.Engine) -> None:
    """The bare floor's table and the design floor's, each emptied."""
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigint PRIMARY KEY)")
        for name, columns in DESIGN_TABLES.items():
            conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
        conn.exec_driver_sql(f"TRUNCATE {TABLE}, {', '.join(DESIGN_TABLES)}")


def seed_inbox(engine: sqlalchemy.Engine, first: int, count: int) -> None:
    """Inbox rows for the design floor's events (the intake's part, not measured)."""
    with engine.begin() as conn:
        conn.execute(
            sqlalchemy.text(
                "INSERT INTO bench_design_inbox (id, status) "
                "SELECT n, 'received' "
                "FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS n"
            ),
            {"first": first, "last": first + count - 1},
        )


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

    _redis = broker.client
    _text = sqlalchemy.text
    _LOCK_EVENT = _text("SELECT status FROM bench_design_inbox WHERE id = :id FOR UPDATE")
    _WORK = _text("INSERT INTO bench_design_work (id, metadata) VALUES (:id, CAST(:m AS jsonb))")
    _EFFECTS = _text(
        "INSERT INTO bench_design_effect (work_id, kind, state) "
        "SELECT :work, k, 'pending' FROM unnest(CAST(:kinds AS text[])) AS k RETURNING id"
    )
    _HANDLED = _text(
        "UPDATE bench_design_inbox SET status = 'done', handled_at = now() WHERE id = :id"
    )
    _LOCK_EFFECT = _text("SELECT state FROM bench_design_effect WHERE id = :id FOR UPDATE")
    _CALL = _text(
        "INSERT INTO bench_design_call (effect_id, status, latency_ms) VALUES (:id, :s, :ms)"
    )
    _DONE = _text(
        "UPDATE bench_design_effect SET state = 'done', attempts = attempts + 1, put_code = :p "
        "WHERE id = :id"
    )
    _NOTE = _text(
        "INSERT INTO bench_design_note (effect_id, payload) VALUES (:id, CAST(:p AS jsonb))"
    )
    # The release of a lock only by its holder, as pidsync's (a compare-and-delete script).
    _release = _redis.register_script(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
        "return 0"
    )
    _KINDS = ["doi", "placement", "placement", "placement"]

    @dramatiq.actor(queue_name=QUEUE, max_retries=0)
    def event(event_id: int) -> None:
        with _engine.begin() as conn:
            if conn.execute(_LOCK_EVENT, {"id": event_id}).scalar_one() != "received":
                return
            conn.execute(_WORK, {"id": event_id, "m": json.dumps({"title": f"work {event_id}"})})
            ids = conn.execute(_EFFECTS, {"work": event_id, "kinds": _KINDS}).scalars().all()
            conn.execute(_HANDLED, {"id": event_id})
        effects.send(list(ids))  # after the commit

    @dramatiq.actor(queue_name=QUEUE, max_retries=0)
    def effects(effect_ids: list[int]) -> None:
        """The DOI, then its placements: each effect in its own transaction (one's outcome
        never depends on another's), one message for the four, as pidsync's
        ``orcid.doi_settled`` places a work's placements itself."""
        for effect_id in effect_ids:
            _guarded(effect_id)

    def _guarded(effect_id: int) -> None:
        key, token = f"bench-floor:record:{effect_id}", secrets.token_hex(16)
        with _engine.begin() as conn:
            if conn.execute(_LOCK_EFFECT, {"id": effect_id}).scalar_one() != "pending":
                return
            # the agency's limit (a counter per second) and the record's lock (never contended
            # here: the floor never waits for it), in one round trip
            window = f"bench-floor:limit:{int(time.time())}"
            pipe = _redis.pipeline(transaction=False)
            pipe.incr(window)
            pipe.expire(window, 2)
            pipe.set(key, token, nx=True, px=30_000)
            pipe.execute()
            started = time.perf_counter()
            response = _http().get(_url, timeout=30)
            _release(keys=[key], args=[token])
            ms = 1000 * (time.perf_counter() - started)
            conn.execute(_CALL, {"id": effect_id, "s": response.status_code, "ms": ms})
            response.raise_for_status()
            conn.execute(_DONE, {"id": effect_id, "p": effect_id})
            conn.execute(_NOTE, {"id": effect_id, "p": json.dumps({"effect": effect_id})})
