"""Messages are sent only once the transaction really commits: a released savepoint sends
nothing yet (SQLAlchemy reports it as a commit), a savepoint rolled back drops only the messages
queued inside it. Read from the real Redis broker's queue."""

from __future__ import annotations

import time

import dramatiq
import pytest
import structlog
from sqlalchemy import func, select
from structlog.testing import capture_logs

import worker.broker
from tests.conftest import record_dead_letter
from tests.helpers import event
from worker.broker import build_broker, init_broker
from worker.db import enqueue_after_commit
from worker.events.intake import check_events, store_events
from worker.events.types import IntakeContext
from worker.models import ReceivedEvent


def _queued(redis_client) -> list[tuple[str, tuple]]:
    """The messages waiting in the queue, sorted (messages sent at one commit share a
    millisecond timestamp, so their order in the queue is not what these tests promise)."""
    raw = redis_client.hvals("pidsync:pidsync-effects.msgs")  # orcid.place: an effect
    return sorted((m.actor_name, tuple(m.args)) for m in (dramatiq.Message.decode(r) for r in raw))


@pytest.fixture
def empty_queue(broker, redis_client):
    redis_client.delete("pidsync:pidsync-effects.msgs", "pidsync:pidsync-effects")
    yield
    redis_client.delete("pidsync:pidsync-effects.msgs", "pidsync:pidsync-effects")


def test_a_released_savepoint_sends_nothing_before_the_commit(
    empty_queue, committed_database, redis_client
):
    with committed_database.session() as session:
        enqueue_after_commit(session, "orcid.place", 1)
        with session.begin_nested():
            enqueue_after_commit(session, "orcid.place", 2)
        # The savepoint is released, the transaction is not committed: a worker must not
        # see a message about rows it cannot read yet
        assert _queued(redis_client) == []
    assert _queued(redis_client) == [("orcid.place", (1,)), ("orcid.place", (2,))]


def test_a_savepoint_rolled_back_drops_only_its_own_messages(
    empty_queue, committed_database, redis_client
):
    with committed_database.session() as session:
        enqueue_after_commit(session, "orcid.place", 1)
        with pytest.raises(ValueError, match="this row failed"), session.begin_nested():
            enqueue_after_commit(session, "orcid.place", 2)
            raise ValueError("this row failed")
        with session.begin_nested():
            enqueue_after_commit(session, "orcid.place", 3)
    assert _queued(redis_client) == [("orcid.place", (1,)), ("orcid.place", (3,))]


def test_a_rolled_back_transaction_sends_nothing(empty_queue, committed_database, redis_client):
    with pytest.raises(ValueError, match="boom"), committed_database.session() as session:
        enqueue_after_commit(session, "orcid.place", 1)
        raise ValueError("boom")
    assert _queued(redis_client) == []


def _take(broker, queue: str) -> list[dramatiq.Message]:
    """Every message a worker would take from ``queue`` now, acknowledged."""
    consumer = broker.consume(queue, prefetch=10, timeout=200)
    taken = []
    try:
        for proxy in consumer:
            if proxy is None:
                break
            taken.append(proxy._message)
            consumer.ack(proxy)
    finally:
        consumer.close()
    return taken


def test_the_messages_of_one_commit_each_reach_their_queue(committed_database, broker):
    # Given one unit of work queueing an event, two effects (one of them for later), each with
    # the request's correlation id
    with committed_database.session() as session:
        enqueue_after_commit(session, "events.process", 7, correlation_id="req-1")
        enqueue_after_commit(session, "orcid.place", 8, correlation_id="req-1")
        enqueue_after_commit(session, "orcid.place", 9, delay=60, correlation_id="req-1")
        sent_at = time.time() * 1000

    # When a worker takes what is on the queues
    events, effects = _take(broker, "pidsync"), _take(broker, "pidsync-effects")
    delayed = _take(broker, "pidsync-effects.DQ")

    # Then each message is there once, as if sent alone: its actor, arguments and correlation
    # id, its own id in Redis; the delayed one due a minute later
    assert [(m.actor_name, m.args) for m in events] == [("events.process", (7,))]
    assert [(m.actor_name, m.args) for m in effects] == [("orcid.place", (8,))]
    assert [(m.actor_name, m.args) for m in delayed] == [("orcid.place", (9,))]
    everything = [*events, *effects, *delayed]
    assert {m.options["correlation_id"] for m in everything} == {"req-1"}
    assert len({m.options["redis_message_id"] for m in everything}) == 3
    assert 59_000 <= delayed[0].options["eta"] - sent_at <= 61_000


def test_messages_are_sent_when_redis_forgot_the_broker_script(
    empty_queue, committed_database, broker, redis_client
):
    # Given a Redis that lost dramatiq's Lua script (restarted, or failed over to a replica)
    with committed_database.session() as session:
        enqueue_after_commit(session, "orcid.place", 0)
    redis_client.script_flush()

    # When a unit of work commits several messages
    with committed_database.session() as session:
        for n in (1, 2, 3):
            enqueue_after_commit(session, "orcid.place", n)

    # Then the script is loaded again and every one of them is sent
    assert _queued(redis_client) == [("orcid.place", (n,)) for n in (0, 1, 2, 3)]


def test_a_broker_down_at_commit_keeps_the_state_and_says_what_was_not_sent(
    committed_database, broker, cipher, monkeypatch
):
    # Given a broker that cannot be reached when the intake commits two new events
    down = build_broker("redis://127.0.0.1:9", record_dead_letter=record_dead_letter)
    init_broker(down, max_retries=2)
    checked = check_events(
        [event(event_id="down-1"), event(event_id="down-2")], IntakeContext(()), batch=True
    )
    with capture_logs() as logs:
        monkeypatch.setattr(worker.broker, "log", structlog.get_logger("worker.broker"))
        with committed_database.session() as session:
            receipts = store_events(session, checked, client_id="cris", cipher=cipher)

    # Then both events are stored (the scheduler's sweep sends them again), and each message
    # not sent is named in a warning
    assert [r.duplicate for r in receipts] == [False, False]
    with committed_database.session() as session:
        assert session.execute(select(func.count()).select_from(ReceivedEvent)).scalar() == 2
    failed = [e for e in logs if e["event"] == "enqueue_failed"]
    assert [(e["actor"], e["log_level"]) for e in failed] == [("events.process", "warning")] * 2
