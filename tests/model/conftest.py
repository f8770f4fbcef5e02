"""Model-based tests: hypothesis state machines drive the placement and DOI services as the
actors do, on the real (committing) Postgres and Redis, against the sandbox over real HTTP.

Each example starts from empty tables, a reset sandbox and an empty broker (:class:`World`);
a step is one unit of work, committed as a worker's is, and the messages it would send are
kept by the model (a bag the rules deliver, redeliver, lose or run twice at once) instead of
going to the broker. The sweeps' messages, which do go to the broker, are read back from Redis.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from sqlalchemy.orm import Session

from tests.conftest import make_runtime
from tests.helpers import queued_messages
from tests.orcid.conftest import orcid_settings
from worker.config import Settings
from worker.db import Database, discard_messages, pending_messages
from worker.sandbox.server import Sandbox

#: Every table a step can write (the committing fixture's list, in one TRUNCATE).
TABLES = (
    "received_events", "dry_run_reports", "oauth_states", "crossref_deposit_records", "crossref_deposits", "doi_registrations",
    "orcid_placements", "orcid_grant_attempts", "orcid_grants", "researchers", "api_calls",
    "outbound_notifications", "dead_letters", "works", "orcid_items", "orcid_assertions",
    "orcid_group_ids", "ops_actions",
)  # fmt: skip

Message = tuple[str, tuple[Any, ...]]

#: Examples per run across the machines (the issue asks for at least 1,000 per CI run);
#: PIDSYNC_MODEL_EXAMPLES lowers it for a quick look, or raises it for a long soak.
EXAMPLES = int(os.environ.get("PIDSYNC_MODEL_EXAMPLES", "1000"))


def _children_first(conn: Any) -> list[str]:
    """TABLES ordered so that a table comes before every table its foreign keys point to."""
    edges = conn.exec_driver_sql(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
        "WHERE contype = 'f'"
    ).all()
    parents = {t: {p for c, p in edges if c == t and p != t} & set(TABLES) for t in TABLES}
    order: list[str] = []
    while len(order) < len(TABLES):
        # A table no remaining table points to can go (its children are gone already).
        ready = [
            t for t in TABLES
            if t not in order and not any(t in parents[c] for c in TABLES if c not in order)
        ]  # fmt: skip
        assert ready, f"foreign keys in a cycle among {set(TABLES) - set(order)}"
        order.extend(ready)
    return order


class Crash(Exception):
    """Raised inside a unit of work after the service returned: the worker died before the
    commit (the remote effect happened, the local state rolls back)."""


@dataclass
class World:
    """The parts one example works with, and how to start an example afresh."""

    database: Database
    sandbox: Sandbox
    redis: redis.Redis
    settings: Settings
    runtime: Any
    counts: dict[str, int] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def reset(self) -> None:
        # DELETE, children first: a TRUNCATE of these tables costs half a second (files are
        # swapped), DELETE of an example's few rows a few milliseconds.
        with self.database.engine.begin() as conn:
            self.order = self.order or _children_first(conn)
            order = self.order
            conn.exec_driver_sql("; ".join(f"DELETE FROM {t}" for t in order))
        self.sandbox.reset()
        self.redis.flushdb()

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def unit(self, step: Callable[[Session], Any], *, crash: bool = False) -> tuple[Any, list]:
        """Run ``step`` in one committed unit of work, as an actor does; (its result, the
        messages it would send after commit). ``crash``: die after ``step``, before the commit
        (nothing local kept, nothing sent)."""
        with self.database.session() as session:
            result = step(session)
            messages: list[Message] = list(pending_messages(session))
            discard_messages(session, 0)  # the model delivers them, not the broker
            if crash:
                raise Crash
        return result, messages

    def crashed(self, step: Callable[[Session], Any]) -> None:
        try:
            self.unit(step, crash=True)
        except Crash:
            return

    def together(self, step: Callable[[Session], Any], runs: int = 2) -> list[Any]:
        """Run ``step`` in ``runs`` threads at once, each its own unit of work (as two workers
        given the same message would); their (result, messages), in no particular order."""
        barrier = threading.Barrier(runs)
        out: list[Any] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with self.database.session() as session:
                    session.connection()  # connected before the start line
                    barrier.wait(timeout=10)
                    result = step(session)
                    messages = list(pending_messages(session))
                    discard_messages(session, 0)
                out.append((result, messages))
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(runs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        if errors:
            raise errors[0]
        return out

    def broker_messages(self) -> list[Message]:
        """What the sweeps sent to the broker since the last call (taken off it)."""
        found = queued_messages(self.redis)
        self.redis.flushdb()
        return found


def model_settings(sandbox: Sandbox, tmp_path: Any) -> Settings:
    """The sandbox's ORCID, DataCite and Crossref; no grace before the sweeps resend (the
    model runs them only when it settles); no webhooks to register."""
    info = sandbox.info()
    return orcid_settings(
        sandbox,
        tmp_path,
        orcid={"max_retries": 3, "resend_grace_seconds": 0, "retry_backoff": [0.01]},
        datacite_url=info["datacite_api_url"],
        datacite_repository_id=info["datacite_repository_id"],
        datacite_password=info["datacite_password"],
        datacite_prefix=info["datacite_prefix"],
        doi={
            "retry_backoff": [0.01],
            "reconcile_min_age_seconds": 0,
            "max_retries": 3,
            "resend_grace_seconds": 0,
        },
        datacite={"limit_count": 1_000_000},
    )


@pytest.fixture
def world(
    sandbox: Sandbox,
    tmp_path: Any,
    committed_database: Database,
    broker: Any,
    redis_client: redis.Redis,
    database_url: str,
    redis_url: str,
    cipher: Any,
) -> Iterator[World]:
    settings = model_settings(sandbox, tmp_path)
    rt = make_runtime(settings, committed_database, broker, cipher, database_url, redis_url)
    yield World(committed_database, sandbox, redis_client, settings, rt)
    rt.registrars.close()
