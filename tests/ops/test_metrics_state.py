"""The metrics' own promises, close up: outcomes are counted only when their transaction
commits (a rolled-back try is not an outcome), the state gauges read what is in Postgres and the
broker, and a source that cannot be read is reported instead of breaking the scrape."""

from __future__ import annotations

import os
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import update

from tests.ops.hosts import sample
from worker.broker import send
from worker.clock import utcnow
from worker.db import Database
from worker.metrics.registry import REGISTRY
from worker.metrics.state import StateCollector
from worker.metrics.transitions import install
from worker.models import (
    CrossrefDeposit,
    DeadLetter,
    DepositStatus,
    EventStatus,
    ReceivedEvent,
)


def _scrape(database: Any, broker: Any = None) -> str:
    registry = CollectorRegistry()
    registry.register(StateCollector(database, broker))
    return generate_latest(registry).decode()


def _handled(outcome: str) -> float:
    return sample(generate_latest(REGISTRY).decode(), "pidsync_events_handled_total",
                  type="metrics.test", outcome=outcome) or 0.0  # fmt: skip


def _inbox_row(database: Database) -> int:
    with database.session() as session:
        row = ReceivedEvent(source="https://s.example", event_id="m-1", type="metrics.test",
                            client_id="cris", correlation_id="c", data={})  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def test_an_outcome_counts_when_its_transaction_commits_not_when_it_rolls_back(
    committed_database: Database,
):
    install()
    row_id = _inbox_row(committed_database)
    before = _handled("failed")

    # Given a worker that marks the event failed, then loses its transaction
    class Lost(Exception):
        pass

    with pytest.raises(Lost), committed_database.session() as session:
        session.get(ReceivedEvent, row_id).status = EventStatus.FAILED
        session.flush()
        raise Lost
    # Then nothing was counted
    assert _handled("failed") == before

    # When the next try commits it
    with committed_database.session() as session:
        event = session.get(ReceivedEvent, row_id)
        event.status = EventStatus.FAILED
        event.handled_at = utcnow()
    # Then it is counted once
    assert _handled("failed") == before + 1
    # And a later commit that does not change the status does not count it again
    with committed_database.session() as session:
        session.get(ReceivedEvent, row_id).outcome = "looked at by an operator"
    assert _handled("failed") == before + 1


def test_a_state_set_as_plain_text_counts_and_a_bad_row_never_breaks_the_commit(
    committed_database: Database,
):
    install()
    row_id = _inbox_row(committed_database)
    before = _handled("stale")
    # A service may set the enum's text; the flush converts it, the count reads it the same.
    with committed_database.session() as session:
        session.get(ReceivedEvent, row_id).status = "stale"
    assert _handled("stale") == before + 1
    # A row the counting cannot read (a naive timestamp next to an aware one) is not counted,
    # and its transaction commits all the same.
    with committed_database.session() as session:
        event = session.get(ReceivedEvent, row_id)
        event.status = EventStatus.FAILED
        event.handled_at = utcnow().replace(tzinfo=None)
    with committed_database.session() as session:
        assert session.get(ReceivedEvent, row_id).status == EventStatus.FAILED


def test_the_gauges_read_the_database_and_the_broker(session, database, broker, redis_client):
    # Given a dead letter, an open Crossref submission, and two messages nobody takes
    session.add(DeadLetter(queue="pidsync", actor="events.process", message_id="dl-1", args=[1],
                           reason="gave up after 8 tries: OperationalError"))  # fmt: skip
    session.add(CrossrefDeposit(account="acct", prefix="10.32013", file_name="f.xml",
                                doi_batch_id="b-1", content="<doi_batch/>",
                                status=DepositStatus.QUEUED, stale=True))  # fmt: skip
    session.flush()
    session.execute(update(DeadLetter).values(created_at=utcnow().replace(year=2020)))
    send("events.process", 1)
    send("events.process", 2)
    send("events.process", 3, delay=60)

    text = _scrape(database, broker)

    assert sample(text, "pidsync_dead_letters") == 1
    assert sample(text, "pidsync_dead_letters_oldest_age_seconds") > 365 * 86400
    assert sample(text, "pidsync_crossref_deposits", status="queued") == 1
    assert sample(text, "pidsync_crossref_deposits_stale") == 1
    assert sample(text, "pidsync_crossref_deposit_oldest_open_age_seconds") >= 0
    assert sample(text, "pidsync_queue_messages", queue="pidsync") == 2
    assert sample(text, "pidsync_queue_messages", queue="pidsync.DQ") == 1
    assert sample(text, "pidsync_queue_messages", queue="pidsync.XQ") == 0
    # A delayed message is not late before its time: its age counts from when it is due.
    assert sample(text, "pidsync_queue_oldest_message_age_seconds", queue="pidsync.DQ") == 0
    assert sample(text, "pidsync_queue_oldest_message_age_seconds", queue="pidsync") >= 0
    assert sample(text, "pidsync_state_scrape_error", source="broker") == 0


def test_the_metrics_and_the_ops_overview_read_every_queue_alike(session, database, broker):
    # Given events waiting, effects waiting (their own queue) and a postponed effect
    from worker.ops.overview import overview

    send("events.process", 1)
    send("registrars.datacite.sync", 7)
    send("orcid.place", 8)
    send("notify.deliver", 9, delay=60)

    text = _scrape(database, broker)
    shown = {q["name"]: q for q in overview(session, broker)["queues"]}

    # Then both show each queue, its delayed and its dead queue, with the same figures
    expected = {"pidsync": 1, "pidsync.DQ": 0, "pidsync.XQ": 0, "pidsync-effects": 2,
                "pidsync-effects.DQ": 1, "pidsync-effects.XQ": 0}  # fmt: skip
    assert {name: q["depth"] for name, q in shown.items()} == expected
    for name, count in expected.items():
        assert sample(text, "pidsync_queue_messages", queue=name) == count
    assert shown["pidsync-effects"]["oldest_age_seconds"] is not None


def test_an_unreachable_source_is_reported_not_fatal(database, broker):
    # Given the database is unreachable (a closed port) but the broker answers
    gone = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    text = _scrape(gone, broker)
    # Then the scrape still answers: the error gauge says which source failed, queues still show
    assert sample(text, "pidsync_state_scrape_error", source="database") == 1
    assert sample(text, "pidsync_state_scrape_error", source="broker") == 0
    assert sample(text, "pidsync_queue_messages", queue="pidsync") is not None
    assert sample(text, "pidsync_dead_letters") is None
    gone.engine.dispose()


AMQP_URL = os.environ.get("PIDSYNC_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def _rabbit_answers() -> bool:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(AMQP_URL)
    try:
        socket.create_connection((parts.hostname, parts.port or 5672), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _rabbit_answers(), reason="no RabbitMQ answers")
def test_with_rabbitmq_the_queue_depths_are_read_from_amqp(database):
    from worker.broker import build_broker

    rabbit = build_broker(AMQP_URL, record_dead_letter=lambda *_: None)
    try:
        text = _scrape(database, rabbit)
    finally:
        rabbit.close()
    assert sample(text, "pidsync_state_scrape_error", source="broker") == 0
    for queue in ("pidsync", "pidsync.DQ", "pidsync.XQ", "pidsync-effects", "pidsync-effects.XQ"):
        assert sample(text, "pidsync_queue_messages", queue=queue) >= 0
    # AMQP does not show a queue's head: no age, rather than a made-up one.
    assert sample(text, "pidsync_queue_oldest_message_age_seconds", queue="pidsync") is None
