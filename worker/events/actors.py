"""Actors for the inbox. Thin: ids in, one unit of work, one service call."""

from __future__ import annotations

from worker.broker import actor
from worker.db import session_scope
from worker.events import service


@actor("events.process", max_retries=8, time_limit=120_000)
def process_event(event_id: int) -> None:
    with session_scope() as session:
        service.process_event(session, event_id)
