"""Small builders shared by tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from worker.events.signature import sign

SOURCE = "https://cris.example.edu"


def work(work_id: str = "w-1", **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": work_id,
        "type": "dataset",
        "title": "Ocean temperatures 2020",
        "publisher": "Example University",
        "publication_date": "2024-03-01",
        "url": "https://repo.example.edu/w-1",
        "contributors": [{"given": "Ada", "family": "Lovelace"}],
    }
    data.update(fields)
    return data


def event(
    event_type: str = "work.published",
    data: Any = None,
    *,
    event_id: str = "e-1",
    source: str = SOURCE,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "datacontenttype": "application/json",
        "data": work() if data is None else data,
        **extra,
    }


def signed_post(
    client,
    body: Any,
    *,
    secret: str,
    client_id: str = "cris",
    batch: bool | None = None,
    content_type: str | None = None,
    raw: bytes | None = None,
    signature: str | None = None,
):
    payload = raw if raw is not None else json.dumps(body).encode()
    if content_type is None:
        is_batch = isinstance(body, list) if batch is None else batch
        content_type = (
            "application/cloudevents-batch+json" if is_batch else "application/cloudevents+json"
        )
    headers = {
        "Content-Type": content_type,
        "Pidsync-Client": client_id,
        "Pidsync-Signature": signature if signature is not None else sign(secret, payload),
    }
    return client.post("/events", content=payload, headers=headers)


def process_event(session: Any, event_id: int, ctx: Any = None) -> Any:
    """Process one inbox event as the worker's actor does: with the booted test runtime's
    settings and resolver when a test booted one, else with plain test settings."""
    from worker.bootstrap import runtime
    from worker.config import Settings
    from worker.events import service

    if ctx is None:
        try:
            rt = runtime()
            ctx = service.Context(rt.settings, negotiator=rt.negotiator, orcid=rt.orcid)
        except RuntimeError:
            ctx = service.Context(Settings(_env_file=None, env="test"))
    return service.process_event(session, event_id, ctx)


def queued_messages(redis_client: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """(actor name, args) of every message waiting in the test's Redis broker (immediate and
    delayed), in no particular order: what sweeps sent once their transactions committed."""
    found: list[tuple[str, tuple[Any, ...]]] = []
    for key in redis_client.keys("pidsync:*.msgs"):
        for raw in redis_client.hvals(key):
            message = json.loads(raw)
            found.append((message["actor_name"], tuple(message["args"])))
    return found


def session_database(session: Any) -> Any:
    """A Database on the test session's own connection (inside the test's transaction, rolled
    back at the end): for code that runs its own transactions, such as the sweeps. The test
    session's flushed changes are visible to it; reload objects after it ran."""
    from worker.db import Database

    session.flush()
    return Database.within(session.connection())


def signed_get(client, target: str, *, secret: str, client_id: str = "cris"):
    """A read of the status API signed as DESIGN.md §7 pins: over "<t>.GET <path and query>"."""
    from worker.events.signature import sign_read

    headers = {"Pidsync-Client": client_id, "Pidsync-Signature": sign_read(secret, "GET", target)}
    return client.get(target, headers=headers)


#: The prefixes of the accounts in :func:`settings_with_accounts`.
DATACITE_PREFIX = "10.5555"
CROSSREF_PREFIX = "10.32013"


def settings_with_accounts(data_dir: Any) -> Any:
    """Test settings with one DataCite and one Crossref account (nothing is sent to them), so
    Works naming a registrar reach its checks at the intake."""
    from tests.conftest import INTAKE_SECRET, TOKEN_KEY
    from worker.config import CrossrefAccount, DataCiteAccount, Settings

    return Settings(
        _env_file=None,
        env="test",
        data_dir=data_dir,
        intake_clients={"cris": INTAKE_SECRET},
        token_keys=[TOKEN_KEY],
        orcid_client_id="APP-TESTCLIENT0001",
        orcid_client_secret="orcid-client-secret",
        datacite_accounts=[
            DataCiteAccount(repository_id="EX.REPO", password="pw-dc", prefixes=[DATACITE_PREFIX])
        ],
        crossref_accounts=[
            CrossrefAccount(login_id="ex", password="pw-cr", prefixes=[CROSSREF_PREFIX])
        ],
    )


@contextmanager
def statements_run(session) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the session's connection runs inside the block, with its
    parameters, in order (the list fills as they run)."""
    from sqlalchemy import event as sql_event

    ran: list[tuple[str, Any]] = []
    connection = session.connection()

    def capture(_conn, _cursor, statement, params, _context, _many):
        ran.append((statement, params))

    sql_event.listen(connection, "before_cursor_execute", capture)
    try:
        yield ran
    finally:
        sql_event.remove(connection, "before_cursor_execute", capture)


# --- races: two units of work on the committing database ---------------------------------------


def in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[BaseException]]:
    """``target`` started in a thread of its own; the list receives what it raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def at_once(database: Any, steps: list[Callable[[Any], Any]], timeout: float = 60.0) -> list[Any]:
    """Run each step in a thread and a unit of work of its own, all starting at the same moment
    (each connected to the database before the start line), as workers given their messages at
    once would; their results, in the order given. What a step raised fails the test."""
    barrier = threading.Barrier(len(steps))
    results: list[Any] = [None] * len(steps)

    def run(index: int) -> None:
        with database.session() as session:
            session.connection()  # connected before the start line
            barrier.wait(timeout=10)
            results[index] = steps[index](session)

    threads = [in_thread(lambda i=i: run(i)) for i in range(len(steps))]
    errors = []
    for thread, raised in threads:
        thread.join(timeout=timeout)
        errors += raised
    assert not errors, errors
    return results


def until(what: str, check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Bounded: fails naming ``what`` never happened rather than hanging."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


def waiting_on_a_lock(database: Any) -> bool:
    """Whether a session of the test's database waits for a row lock at this moment."""
    from sqlalchemy import text

    with database.engine.connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)
