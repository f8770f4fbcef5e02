"""RabbitMQ works as the broker when the URL is amqp:// (skipped where none is running)."""

from __future__ import annotations

import os
import socket

import dramatiq
import pytest
from sqlalchemy import select

from tests.conftest import record_dead_letter
from tests.helpers import event
from worker.broker import QUEUES, build_broker, init_broker
from worker.events.intake import check_events, store_events
from worker.events.types import IntakeContext
from worker.models import EventStatus, ReceivedEvent
from worker.queues import join_all, queue_depths

AMQP_URL = os.environ.get("PIDSYNC_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def _rabbit_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), 1).close()
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _rabbit_answers(), reason="no RabbitMQ on 127.0.0.1:5672")


def test_event_flows_through_rabbitmq(committed_runtime, committed_database, cipher):
    broker = build_broker(AMQP_URL, record_dead_letter=record_dead_letter)
    init_broker(broker, max_retries=2)
    import worker.actors  # noqa: F401

    # Every queue (with its delayed one) is declared by the actors bound to the broker.
    assert set(QUEUES) <= broker.get_declared_queues()
    assert {f"{q}.DQ" for q in QUEUES} <= broker.get_declared_delay_queues()
    for queue in QUEUES:
        broker.flush(queue)
    consumer = dramatiq.Worker(broker, worker_timeout=50, worker_threads=1)
    consumer.start()
    try:
        # Three events in one unit of work: its messages are sent together after the commit
        # (one pipelined round trip on Redis; one publish each on RabbitMQ), none lost.
        checked = check_events(
            [event(event_id=f"rabbit-{n}") for n in range(3)], IntakeContext(()), batch=True
        )
        with committed_database.session() as session:
            store_events(session, checked, client_id="cris", cipher=cipher)
        join_all(broker, timeout_ms=20_000)
        consumer.join()
        depths = {d.name: d.depth for d in queue_depths(broker)}
    finally:
        consumer.stop()
        broker.close()
    with committed_database.session() as session:
        statuses = session.execute(select(ReceivedEvent.status)).scalars().all()
    assert statuses == [EventStatus.DONE] * 3
    assert depths == {f"{q}{suffix}": 0 for q in QUEUES for suffix in ("", ".DQ", ".XQ")}


def test_a_message_that_keeps_killing_its_worker_is_parked_with_rabbitmq(
    committed_runtime, committed_database, redis_url, redis_client
):
    from worker.models import DeadLetter

    # A queue of its own, read by this test's worker only: the other RabbitMQ tests (another
    # xdist worker, the same server) flush and read pidsync's queues meanwhile.
    queue = "pidsync-test-killer"
    ran: list[str] = []
    # Given RabbitMQ as the broker, pidsync's Redis counting deliveries beside it, and a message
    # whose earlier deliveries never finished (RabbitMQ gave it back each time its worker died)
    broker = build_broker(AMQP_URL, record_dead_letter=record_dead_letter, deliveries_url=redis_url)
    killer = dramatiq.actor(actor_name="test.rabbit_killer", queue_name=queue, broker=broker)(
        ran.append
    )
    message = killer.message("poison")
    redis_client.set(f"pidsync:deliveries:{message.message_id}", 3)
    consumer = dramatiq.Worker(broker, queues={queue}, worker_timeout=50, worker_threads=1)
    consumer.start()
    try:
        # When it is delivered again
        broker.enqueue(message)
        broker.join(queue, timeout=20_000)
        consumer.join()
    finally:
        consumer.stop()
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            broker.channel.queue_delete(name)
        broker.close()
    # Then it is not run but parked, with the reason an operator can act on
    assert ran == []
    with committed_database.session() as session:
        letter = session.execute(select(DeadLetter)).scalar_one()
    assert letter.actor == "test.rabbit_killer"
    assert "without finishing" in letter.reason
