"""Prometheus metrics (all prefixed ``pidsync_``). Counters per process; state gauges are read
from Postgres at scrape time, so every web process reports the same truth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from worker.db import Database
from worker.models import DeadLetter, ReceivedEvent

REGISTRY = CollectorRegistry()
INTAKE_REQUESTS = Counter(
    "pidsync_intake_requests", "Intake requests by HTTP status", ["status"], registry=REGISTRY
)
INTAKE_EVENTS = Counter(
    "pidsync_intake_events",
    "Events received, by type and duplicate",
    ["type", "duplicate"],
    registry=REGISTRY,
)


class StateCollector(Collector):
    """Counts of events by status and of parked dead letters, straight from the database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Any]:
        events = GaugeMetricFamily(
            "pidsync_events", "Inbox events by type and status", labels=["type", "status"]
        )
        dead = GaugeMetricFamily("pidsync_dead_letters", "Dead letters not yet requeued")
        with self.database.session() as session:
            rows = session.execute(
                select(ReceivedEvent.type, ReceivedEvent.status, func.count()).group_by(
                    ReceivedEvent.type, ReceivedEvent.status
                )
            ).all()
            for event_type, status, count in rows:
                events.add_metric([event_type, str(status.value)], count)
            parked = session.execute(
                select(func.count()).select_from(DeadLetter).where(DeadLetter.requeued_at.is_(None))
            ).scalar_one()
        dead.add_metric([], parked)
        yield events
        yield dead


def render(database: Database) -> bytes:
    registry = CollectorRegistry()
    registry.register(StateCollector(database))
    return generate_latest(REGISTRY) + generate_latest(registry)
