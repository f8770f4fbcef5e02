"""Gauges read at scrape time: what is true in Postgres and the broker, not what one process saw.

Each scrape runs a handful of grouped counts and ``min()`` queries, each served by an index on
its state column, and a few Redis reads (never a scan of a queue): cheap enough for a scrape
every 15 s on a large database. The counts by state cover what is not settled yet (waiting,
on hold, failed): the settled rows (done, findable, placed, ...) are most of the database and
grow forever, and their rates are the processes' counters (``*_total``), not gauges.
``pidsync bench metrics-scrape`` measures a scrape.

The web app serves them (any replica tells the same truth: graph them with ``max``), so
adding workers never multiplies them.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.db import Database
from worker.logging import get_logger
from worker.models import (
    CrossrefDeposit,
    DeadLetter,
    DepositStatus,
    DoiRegistration,
    DoiState,
    EventStatus,
    OrcidGrant,
    OrcidPlacement,
    PlacementState,
    ReceivedEvent,
)
from worker.queues import queue_depths

log = get_logger(__name__)

#: Crossref submissions not yet reported on (stale when old: the alert reads their age).
OPEN_DEPOSITS = (DepositStatus.SUBMITTED, DepositStatus.QUEUED, DepositStatus.IN_PROCESS)
#: The states counted: everything but the settled ones, which only grow.
UNSETTLED_EVENTS = (EventStatus.RECEIVED, EventStatus.FAILED)
UNSETTLED_DOIS = tuple(
    s for s in DoiState if s not in {DoiState.REGISTERED, DoiState.FINDABLE, DoiState.WITHDRAWN}
)
UNSETTLED_PLACEMENTS = (
    PlacementState.PENDING,
    PlacementState.AWAITING_CONSENT,
    PlacementState.AWAITING_DOI,
    PlacementState.FAILED,
)
UNSETTLED_DEPOSITS = (DepositStatus.PREPARED, *OPEN_DEPOSITS, DepositStatus.FAILED)


class StateCollector(Collector):
    """Database and broker gauges; a source that cannot be read is reported by
    ``pidsync_state_scrape_error`` instead of failing the whole scrape."""

    def __init__(self, database: Database, broker: Any = None) -> None:
        self.database = database
        self.broker = broker

    def collect(self) -> Iterator[Any]:
        failed = GaugeMetricFamily(
            "pidsync_state_scrape_error",
            "1 when this scrape could not read a source (database or broker)",
            labels=["source"],
        )
        try:
            with self.database.session() as session:
                yield from _database_gauges(session)
            failed.add_metric(["database"], 0)
        except Exception as exc:
            log.warning("metrics_database_unreadable", error=type(exc).__name__)
            failed.add_metric(["database"], 1)
        if self.broker is not None:
            try:
                yield from _queue_gauges(self.broker)
                failed.add_metric(["broker"], 0)
            except Exception as exc:
                log.warning("metrics_broker_unreadable", error=type(exc).__name__)
                failed.add_metric(["broker"], 1)
        yield failed


def _age(oldest: Any) -> float:
    return max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0


def _label(value: Any) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def _counts(
    session: Session, name: str, documentation: str, labels: dict[str, Any], where: Any = None
) -> GaugeMetricFamily:
    """A gauge of row counts grouped by ``labels`` (label name: column), rows ``where``."""
    gauge = GaugeMetricFamily(name, documentation, labels=list(labels))
    query = select(*labels.values(), func.count()).group_by(*labels.values())
    if where is not None:
        query = query.where(where)
    for *values, count in session.execute(query):
        gauge.add_metric([_label(value) for value in values], count)
    return gauge


def _database_gauges(session: Session) -> Iterator[GaugeMetricFamily]:
    yield _counts(
        session,
        "pidsync_events",
        "Inbox events not handled yet (received) or failed, by type and status",
        {"type": ReceivedEvent.type, "status": ReceivedEvent.status},
        ReceivedEvent.status.in_(UNSETTLED_EVENTS),
    )
    oldest_event = session.execute(
        select(func.min(ReceivedEvent.received_at)).where(
            ReceivedEvent.status == EventStatus.RECEIVED
        )
    ).scalar_one()
    yield GaugeMetricFamily(
        "pidsync_events_oldest_unhandled_age_seconds",
        "Age of the oldest event not yet handled (0 when none waits)",
        value=_age(oldest_event),
    )
    yield _counts(
        session,
        "pidsync_doi_registrations",
        "DOIs not confirmed (reserved, on hold, submitted) or failed, by registrar and state",
        {"registrar": DoiRegistration.registrar, "state": DoiRegistration.state},
        DoiRegistration.state.in_(UNSETTLED_DOIS),
    )
    yield _counts(
        session,
        "pidsync_orcid_placements",
        "ORCID placements not placed yet (pending, awaiting consent or the DOI) or failed",
        {"state": OrcidPlacement.state},
        OrcidPlacement.state.in_(UNSETTLED_PLACEMENTS),
    )
    yield _counts(
        session,
        "pidsync_orcid_grants",
        "Researchers' ORCID grants by member client and status",
        {"client": OrcidGrant.client_id, "status": OrcidGrant.status},
    )
    yield _counts(
        session,
        "pidsync_crossref_deposits",
        "Crossref submissions not completed (prepared, submitted, queued, in process) or "
        "failed, by status",
        {"status": CrossrefDeposit.status},
        CrossrefDeposit.status.in_(UNSETTLED_DEPOSITS),
    )
    oldest_deposit = session.execute(
        select(func.min(CrossrefDeposit.created_at)).where(
            CrossrefDeposit.status.in_(OPEN_DEPOSITS)
        )
    ).scalar_one()
    stale = session.execute(
        select(func.count())
        .select_from(CrossrefDeposit)
        .where(CrossrefDeposit.status.in_(OPEN_DEPOSITS), CrossrefDeposit.stale.is_(True))
    ).scalar_one()
    yield GaugeMetricFamily(
        "pidsync_crossref_deposits_stale",
        "Crossref submissions still unfinished past PIDSYNC_CROSSREF_STALE_AFTER_SECONDS "
        "(flagged by the deposit upkeep)",
        value=stale,
    )
    yield GaugeMetricFamily(
        "pidsync_crossref_deposit_oldest_open_age_seconds",
        "Age of the oldest Crossref submission Crossref has not finished (0 when none)",
        value=_age(oldest_deposit),
    )

    parked, oldest_dead = session.execute(
        select(func.count(), func.min(DeadLetter.created_at)).where(
            DeadLetter.requeued_at.is_(None)
        )
    ).one()
    yield GaugeMetricFamily("pidsync_dead_letters", "Dead letters not yet replayed", value=parked)
    yield GaugeMetricFamily(
        "pidsync_dead_letters_oldest_age_seconds",
        "Age of the oldest dead letter not yet replayed (0 when none)",
        value=_age(oldest_dead),
    )


def _queue_gauges(broker: Any) -> Iterator[GaugeMetricFamily]:
    depth = GaugeMetricFamily(
        "pidsync_queue_messages",
        "Messages in each broker queue not finished: pidsync (events and read-backs) and "
        "pidsync-effects (DOIs, placements, webhooks) to run or being run, each .DQ (delayed: "
        "postponed or retrying), each .XQ (dead)",
        labels=["queue"],
    )
    age = GaugeMetricFamily(
        "pidsync_queue_oldest_message_age_seconds",
        "How long the message at the head of each queue has waited since it was due (dead: "
        "since it died); 0 when empty",
        labels=["queue"],
    )
    depths = queue_depths(broker)
    for queue in depths:
        depth.add_metric([queue.name], queue.total)
    yield depth
    # RabbitMQ: depths only (AMQP does not show a queue's head).
    if getattr(broker, "client", None) is not None:
        for queue in depths:
            age.add_metric([queue.name], queue.oldest_age_seconds or 0.0)
        yield age
