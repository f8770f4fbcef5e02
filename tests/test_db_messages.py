"""Messages are sent only once the transaction really commits: a released savepoint sends
nothing yet (SQLAlchemy reports it as a commit), a savepoint rolled back drops only the messages
queued inside it. Read from the real Redis broker's queue."""

from __future__ import annotations

import dramatiq
import pytest

from worker.db import enqueue_after_commit


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
