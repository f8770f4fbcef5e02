"""Pooled connections: one dropped while idle is replaced before a unit of work meets it."""

from __future__ import annotations

import time

from sqlalchemy import text

from worker.db import Database


def _backend_pid(database: Database) -> int:
    with database.session() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_dropped_while_idle_is_replaced_before_use(database_url):
    # Given a pool whose connections are tested after 50 ms idle, with one connection in it
    database = Database(database_url, ping_after_idle=0.05, pool_size=1, max_overflow=0)
    try:
        first = _backend_pid(database)
        # When the server drops that connection while it sits idle in the pool
        killer = Database(database_url)
        with killer.session() as session:
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        killer.engine.dispose()
        time.sleep(0.2)
        # Then the next unit of work runs on a new connection instead of failing
        assert _backend_pid(database) != first
    finally:
        database.engine.dispose()


def test_a_busy_connection_is_reused_as_is(database_url):
    # Given a pool that tests connections only after a long idle time
    database = Database(database_url, ping_after_idle=300, pool_size=1, max_overflow=0)
    try:
        # Then back-to-back units of work share the one connection (nothing replaced it)
        assert _backend_pid(database) == _backend_pid(database)
    finally:
        database.engine.dispose()
