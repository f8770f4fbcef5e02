"""Actors for the inbox. Thin: ids in, one unit of work, one service call."""

from __future__ import annotations

from worker.bootstrap import runtime
from worker.broker import actor, later
from worker.events import service


@actor("events.process", time_limit=120_000)
def process_event(event_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        outcome = service.process_event(
            session,
            event_id,
            service.Context(rt.settings, negotiator=rt.negotiator, orcid=rt.orcid),
        )
    # A transient failure recorded its next try on the row: run this message again then
    # (without it the event waited for the sweep's grace period instead of its backoff).
    later(outcome.retry_in if outcome is not None else None, "event postponed")
