"""Actors for the inbox. Thin: ids in, one unit of work, one service call."""

from __future__ import annotations

from worker.bootstrap import current_runtime
from worker.broker import actor
from worker.db import get_database, session_scope
from worker.events import service
from worker.http import DatabaseRecorder
from worker.pids.negotiation import Negotiator


@actor("events.process", max_retries=8, time_limit=120_000)
def process_event(event_id: int) -> None:
    negotiator = Negotiator.from_settings(
        current_runtime().settings, recorder=DatabaseRecorder(get_database())
    )
    with session_scope() as session:
        service.process_event(session, event_id, service.Context(negotiator=negotiator))
