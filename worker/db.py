"""Database engine, the unit of work, and messages sent only after commit.

``Database.session()`` is the unit of work: it commits or rolls back. Services flush, never
commit.
Messages queued with ``enqueue_after_commit`` are sent once the transaction has committed and
dropped if it rolls back, so a worker never acts on state that does not exist (yet). A
savepoint (``begin_nested``) released sends nothing yet; one rolled back drops the messages
queued inside it and keeps the others.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from worker.broker import Outgoing, keep_follow_ups, send_committed
from worker.logging import current_correlation_id

_PENDING = "pidsync_pending_messages"
_MARKS = "pidsync_savepoint_marks"
_NEW_WORKS = "pidsync_new_works"


class PidsyncSession(Session):
    """A Session that sends the messages queued during its transaction after it commits."""


@event.listens_for(PidsyncSession, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    # A savepoint remembers how many messages were queued before it, so rolling it back drops
    # only its own.
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[transaction] = len(session.info.get(_PENDING, []))


@event.listens_for(PidsyncSession, "after_transaction_end")
def _forget_savepoint(session: Session, transaction: SessionTransaction) -> None:
    session.info.get(_MARKS, {}).pop(transaction, None)


@event.listens_for(PidsyncSession, "after_commit")
def _send_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released (SQLAlchemy calls that a commit too): not yet
    session.info.pop(_NEW_WORKS, None)  # committed: other transactions see those rows now
    pending: list[tuple[str, tuple[Any, ...], float | None, dict[str, Any]]] = session.info.pop(
        _PENDING, []
    )
    if not pending:
        return
    # All of them in one round trip to the broker (issue 13: one per message was ~40 % of an
    # intake request), each still its own message.
    outgoing = keep_follow_ups(
        [Outgoing(name, args, delay, options) for name, args, delay, options in pending]
    )
    if outgoing:
        send_committed(outgoing)


@event.listens_for(PidsyncSession, "after_rollback")
def _drop_pending(session: Session) -> None:
    savepoint = session.get_nested_transaction()
    mark = session.info.get(_MARKS, {}).get(savepoint) if savepoint is not None else None
    if mark is None:  # the transaction itself
        session.info.pop(_PENDING, None)
        session.info.pop(_NEW_WORKS, None)
        return
    del session.info.get(_PENDING, [])[mark:]  # only what the savepoint queued


def enqueue_after_commit(
    session: Session, actor_name: str, *args: Any, delay: float | None = None, **options: Any
) -> None:
    """Send the message for actor ``actor_name`` (e.g. ``"registrars.datacite.sync"``) when,
    and only if, this session's transaction commits; ``delay`` seconds later when given.

    The correlation id of the message or request being handled is carried on unless
    ``correlation_id`` is given, so every log line an event causes can be found by it."""
    correlation = options.get("correlation_id") or current_correlation_id()
    if correlation:
        options["correlation_id"] = correlation
    session.info.setdefault(_PENDING, []).append((actor_name, args, delay, options))


def note_new_work(session: Session, work_id: int) -> None:
    """Remember that this transaction just inserted the work ``work_id``.

    Until the transaction ends no other can see the row, so only this session can add rows
    naming it: as long as it has flushed no row of a kind naming the work, a lookup of that
    kind (the work's registration, its placements) would find nothing, and
    :func:`none_names_new_work` lets it skip the query (issue 13: two statements of every new
    work's event). Forgotten when the transaction commits or rolls back. Rows naming a work
    (by ``work_id``) are only ever inserted by the ORM's flush, never by a Core INSERT."""
    session.info.setdefault(_NEW_WORKS, {})[work_id] = set()


def none_names_new_work(session: Session, kind: type, work_id: int) -> bool:
    """Whether ``work_id`` is a work this transaction inserted (:func:`note_new_work`) and no
    ``kind`` row naming it has been written since. Flushes first, as the query it stands in
    for would have (its autoflush): a row added but not yet written counts."""
    if work_id not in session.info.get(_NEW_WORKS, {}):
        return False
    session.flush()
    named = session.info.get(_NEW_WORKS, {}).get(work_id)
    return named is not None and kind not in named


@event.listens_for(PidsyncSession, "after_flush")
def _note_named(session: Session, _context: Any) -> None:
    """Each new row naming a new work, by kind (the session's ``new`` still lists them)."""
    works: dict[int, set[type]] | None = session.info.get(_NEW_WORKS)
    if not works:
        return
    for obj in session.new:
        work_id = getattr(obj, "work_id", None)
        if isinstance(work_id, int) and work_id in works:
            works[work_id].add(type(obj))


def pending_messages(session: Session) -> list[tuple[str, tuple[Any, ...]]]:
    """The (actor name, args) this session will send when it commits, oldest first."""
    return [(name, args) for name, args, _delay, _options in session.info.get(_PENDING, [])]


def discard_messages(session: Session, keep: int) -> None:
    """Forget the messages queued after the first ``keep`` (a dry run's, rolled back with its
    savepoint: they must never be sent)."""
    pending = session.info.get(_PENDING)
    if pending is not None:
        del pending[keep:]


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Test a pooled connection before use only when it sat idle ``idle_seconds`` or more.

    A connection that dropped while idle (a database restart, a firewall's idle timeout) is
    replaced before a unit of work meets it, as ``pool_pre_ping`` would, without the extra
    round trip on every checkout of a busy worker (issue 13: 8 % of its CPU). A connection lost
    while in use fails that unit of work, which rolls back and is retried; SQLAlchemy then
    drops every older connection of the pool."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi: Any, record: Any) -> None:
        record.info["pidsync_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("pidsync_idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError(str(exc)) from exc


def session_limits(lock_timeout: float, idle_in_transaction_timeout: float) -> str:
    """libpq ``options`` setting the server-side limits of a session (issue 17: a row lock was
    held by a transaction that never ended, and every worker and the scheduler's sweeps queued
    behind it for good).

    ``lock_timeout``: a wait for a row or advisory lock ends with an error after this long
    (SQLSTATE 55P03, an OperationalError: the message is retried with backoff) rather than
    hanging until dramatiq's time limit. ``idle_in_transaction_session_timeout``: the server
    ends a session left inside a transaction with no statement running (a thread killed by
    the time limit between statements, a process frozen) and so frees its locks; the pool
    replaces the dead connection on its next checkout."""
    settings = (
        ("lock_timeout", lock_timeout),
        ("idle_in_transaction_session_timeout", idle_in_transaction_timeout),
    )
    return " ".join(f"-c {name}={int(seconds * 1000)}" for name, seconds in settings if seconds > 0)


#: SQLSTATE of a lock wait ended by ``lock_timeout`` (or refused by NOWAIT).
LOCK_NOT_AVAILABLE = "55P03"


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is a lock wait PostgreSQL ended (``lock_timeout``): the lock is held by
    another transaction, nothing is wrong with the row."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE


class Database:
    """An engine and its session factory. One per process, built at boot."""

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        ping_after_idle: float = 0.0,
        lock_timeout: float = 0.0,
        idle_in_transaction_timeout: float = 0.0,
        **kw: Any,
    ) -> None:
        """``ping_after_idle``: seconds idle after which a pooled connection is tested before
        use (0: before every use, SQLAlchemy's ``pool_pre_ping``). ``lock_timeout`` and
        ``idle_in_transaction_timeout``: the server-side limits of every session (seconds, 0:
        none), see :func:`session_limits`."""
        if engine is None:
            if url is None:
                raise ValueError("Database needs a url or an engine")
            options = session_limits(lock_timeout, idle_in_transaction_timeout)
            if options:
                connect_args = dict(kw.pop("connect_args", {}))
                connect_args["options"] = f"{connect_args.get('options', '')} {options}".strip()
                kw["connect_args"] = connect_args
            engine = create_engine(url, pool_pre_ping=ping_after_idle <= 0, **kw)
            if ping_after_idle > 0:
                ping_when_idle(engine, ping_after_idle)
        self.engine = engine
        self.sessionmaker = sessionmaker(bind=engine, class_=PidsyncSession, expire_on_commit=False)
        #: The outer connection of :meth:`within` (tests); None: the engine's own transactions.
        self._outer: Connection | None = None

    @classmethod
    def within(cls, connection: Connection) -> Database:
        """Sessions that commit to savepoints of an outer transaction (tests roll it back)."""
        database = cls(engine=connection.engine)
        database.sessionmaker = sessionmaker(
            bind=connection,
            class_=PidsyncSession,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        )
        database._outer = connection
        return database

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection whose every statement commits on its own, without a Session: for one
        write nothing reads back in the same process (the record of an outbound call). No
        identity map, flush or after-commit messages (a Session costs several times the INSERT
        itself), and no BEGIN and COMMIT round trips (issue 13: 0.18 -> 0.12 ms of CPU per
        record). Under :meth:`within`, a savepoint of the outer transaction, like the sessions
        there."""
        if self._outer is not None:
            with self._outer.begin_nested():
                yield self._outer
            return
        with self.engine.connect() as connection:
            yield connection.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """The unit of work: commit on success, roll back on any error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
