"""Shared fixtures: a real PostgreSQL database per test process (migrated once), each test in
a transaction rolled back at the end; a real Redis database per test process; the stub broker
for wiring tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import psycopg
import pytest
import redis
import requests
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from worker.broker import build_broker, init_broker
from worker.config import Settings
from worker.db import Database
from worker.migrate import upgrade
from worker.sandbox.server import Sandbox

# The suite draws the same examples on every machine, as in CI (hypothesis's own "ci" profile:
# derandomized, no example database): a red run is reproducible, never the luck of a seed.
# PIDSYNC_EXPLORE=1 draws new ones instead: a soak that looks for failures nobody has seen.
if not os.environ.get("PIDSYNC_EXPLORE"):
    hypothesis.settings.load_profile("ci")

ADMIN_URL = os.environ.get(
    "PIDSYNC_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PIDSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379")
INTAKE_SECRET = "s3cret-intake-key"
TOKEN_KEY = "8Fq2hYwSpX6VdC0NvQbq0k6tMfQb3d7Zs1vH8aJ2xq0="


@pytest.fixture(scope="session", autouse=True)
def _logging():
    """Log as every pidsync process does (to stderr, redacted), never to stdout."""
    from worker.logging import configure_logging

    configure_logging("INFO", "console")


def _worker_index() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name.removeprefix("gw") or 0)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database for this test process, migrated to head."""
    # PIDSYNC_TEST_RUN (set by scripts/test) keeps two suites on one server apart.
    run = os.environ.get("PIDSYNC_TEST_RUN", "")
    name = f"pidsync_test_{run + '_' if run else ''}{_worker_index()}"
    admin = make_url(ADMIN_URL)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def engine(database_url: str):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


#: The test's database(s), newest last: where the broker fixture parks dead letters.
_databases: list[Database] = []


def record_dead_letter(message: Any, reason: str) -> None:
    from worker.ops.dead_letters import record_dead_letter as record

    record(_databases[-1], message, reason)


@pytest.fixture
def database(engine) -> Iterator[Database]:
    """A Database whose sessions commit into savepoints of one transaction, rolled back after."""
    connection = engine.connect()
    transaction = connection.begin()
    db = Database.within(connection)
    _databases.append(db)
    yield db
    _databases.remove(db)
    transaction.rollback()
    connection.close()


@pytest.fixture
def session(database: Database):
    with database.session() as s:
        yield s


@pytest.fixture
def committed_database(database_url: str) -> Iterator[Database]:
    """A Database that really commits (for tests across processes); tables emptied after."""
    yield from committed(Database(database_url))


def committed(db: Database) -> Iterator[Database]:
    """``db`` (which really commits) as the test's database; its tables emptied after."""
    _databases.append(db)
    yield db
    _databases.remove(db)
    with db.engine.begin() as conn:
        conn.exec_driver_sql(_emptying(db.engine.url.render_as_string(hide_password=False), conn))
    db.engine.dispose()


#: Per database: the statement emptying every table a test may have written.
_EMPTYING: dict[str, str] = {}


def _emptying(url: str, conn: Any) -> str:
    """DELETE from every table of the schema but alembic's, each before the tables its foreign
    keys point to, then every sequence back to its start (what TRUNCATE ... RESTART IDENTITY
    did). A TRUNCATE of ~16 tables cost ~0.5 s per committed test (each table and index gets
    a new file, fsynced at commit); deleting a test's few rows costs milliseconds. Every
    table, read from the catalog: a table added later is emptied too."""
    if url not in _EMPTYING:
        tables = set(
            conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'alembic_version'"
            ).scalars()
        )
        edges = conn.exec_driver_sql(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid <> confrelid"
        ).all()
        parents = {t: {p for c, p in edges if c == t} & tables for t in tables}
        order: list[str] = []
        while len(order) < len(tables):
            # A table no remaining table points to can go (its children are gone already).
            ready = sorted(
                t
                for t in tables - set(order)
                if not any(t in parents[c] for c in tables - set(order))
            )
            if not ready:
                raise RuntimeError(f"foreign keys in a cycle among {tables - set(order)}")
            order.extend(ready)
        deletes = "; ".join(f'DELETE FROM "{t}"' for t in order)
        _EMPTYING[url] = (
            f"{deletes}; SELECT setval((quote_ident(schemaname) || '.' || "
            "quote_ident(sequencename))::regclass, start_value, false) "
            "FROM pg_sequences WHERE schemaname = current_schema()"
        )
    return _EMPTYING[url]


@pytest.fixture(scope="session")
def redis_url() -> str:
    db = 1 + _worker_index() % 14
    if REDIS_URL.startswith("unix://"):
        return f"{REDIS_URL}?db={db}"
    return f"{REDIS_URL.rstrip('/')}/{db}"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def broker(redis_url: str, redis_client):
    """The real Redis broker with pidsync's middleware, bound to every actor."""
    b = build_broker(redis_url, record_dead_letter=record_dead_letter)
    init_broker(b, max_retries=2)
    import worker.actors  # noqa: F401

    yield b
    b.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        env="test",
        data_dir=tmp_path,
        intake_clients={"cris": INTAKE_SECRET},
        token_keys=[TOKEN_KEY],
        orcid_client_id="APP-TESTCLIENT0001",
        orcid_client_secret="orcid-client-secret",
    )


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    """One in-process sandbox per test process on a free port (fast Crossref processing)."""
    server = Sandbox(crossref_delays=(0.05, 0.05), seed=1234)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The sandbox, reset before and after the test."""
    sandbox_server.reset()
    yield sandbox_server
    sandbox_server.reset()


@pytest.fixture
def info(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.info()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def make_runtime(settings, database, broker, cipher, database_url, redis_url):
    """A booted-process stand-in (set as the process's runtime) over the given parts."""
    from worker.bootstrap import compose, set_runtime

    rt = compose(settings, database, broker, cipher, redis_url=redis_url, database_url=database_url)
    set_runtime(rt)
    return rt


@pytest.fixture
def cipher():
    from worker.orcid.tokens import TokenCipher

    return TokenCipher([TOKEN_KEY])


@pytest.fixture
def runtime(settings, database, broker, database_url, redis_url, cipher):
    return make_runtime(settings, database, broker, cipher, database_url, redis_url)


@pytest.fixture
def committed_runtime(settings, committed_database, broker, database_url, redis_url, cipher):
    """A booted-process stand-in over the committing database (for real-worker tests)."""
    return make_runtime(settings, committed_database, broker, cipher, database_url, redis_url)


@pytest.fixture
def real_worker(broker, committed_runtime):
    """A real dramatiq worker (two threads) on the test broker over the committing runtime,
    stopped after the test."""
    import dramatiq

    consumer = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    consumer.start()
    yield consumer
    consumer.stop()


@pytest.fixture(autouse=True)
def _no_runtime_leaks():
    from worker.bootstrap import set_runtime

    yield
    set_runtime(None)


@pytest.fixture
def client(runtime):
    from fastapi.testclient import TestClient

    from worker.web.app import create_app

    with TestClient(create_app(runtime)) as c:
        yield c


@pytest.fixture
def live_server(runtime) -> Iterator[str]:
    """The web app under uvicorn on a free loopback port (for clients that speak real HTTP:
    the CLI, worker.client, the docs' examples in other languages); its base URL."""
    import logging
    import socket
    import threading
    import time

    import uvicorn

    from worker.web.app import create_app

    # uvicorn sets its loggers' levels (log_level below) for the whole process: put them back
    # after, or a later test in this worker that logs through uvicorn.access sees nothing.
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "uvicorn.access")]
    levels = [logger.level for logger in loggers]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime), host="127.0.0.1", port=port, log_level="warning", log_config=None
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
