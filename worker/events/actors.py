"""Actors for the inbox. Thin: ids in, one unit of work, one service call."""

from __future__ import annotations

from worker.bootstrap import runtime
from worker.broker import actor
from worker.events import service


@actor("events.process", time_limit=120_000)
def process_event(event_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        service.process_event(
            session,
            event_id,
            service.Context(rt.settings, negotiator=rt.negotiator, orcid=rt.orcid),
        )
