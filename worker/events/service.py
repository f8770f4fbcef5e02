"""Processing one inbox event: route it by type to the service that applies it.

Each event ends in a state a person can read in the status API: done, stale, failed (with the
reason), or unimplemented (this pidsync has no effect for that part yet, said plainly).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.config import Settings
from worker.errors import EffectRefused, PermanentError
from worker.events import types as t
from worker.logging import get_logger
from worker.metadata.errors import MetadataError
from worker.metadata.work import validate_work
from worker.models import EventStatus, ReceivedEvent
from worker.orcid.grants import can_write, store_grant
from worker.pids.enrich import enrich_work
from worker.pids.identifiers import InvalidIdentifier
from worker.pids.negotiation import Negotiator
from worker.works import effects
from worker.works.service import Applied, apply_work, withdraw_work

log = get_logger(__name__)


@dataclass
class Outcome:
    status: EventStatus
    message: str
    work_id: int | None = None


def _work_outcome(applied: Applied, notes: list[str]) -> Outcome:
    work_id = applied.work.id if applied.work else None
    if applied.work is None:
        return Outcome(EventStatus.FAILED, applied.message, work_id)
    if applied.stale:
        return Outcome(EventStatus.STALE, applied.message, work_id)
    message = "; ".join([applied.message, *notes])
    unimplemented = any("not implemented" in n for n in notes)
    return Outcome(
        EventStatus.UNIMPLEMENTED if unimplemented else EventStatus.DONE, message, work_id
    )


def _refused(exc: EffectRefused, work_id: int | None) -> Outcome:
    return Outcome(EventStatus.FAILED, str(exc), work_id)


@dataclass
class Context:
    """What an event's processing may need: the settings, and the clients (a None client
    means that effect is not available to this process)."""

    settings: Settings
    negotiator: Negotiator | None = None

    def trigger(self, event: ReceivedEvent) -> effects.Trigger:
        return effects.Trigger(client_id=event.client_id, settings=self.settings)


def _enriched(event: ReceivedEvent, ctx: Context) -> tuple[dict[str, Any], list[str]]:
    """The event's Work, with missing fields filled from its DOI's metadata when asked.

    What the event says is never overwritten; a DOI the resolver cannot describe leaves the
    Work as sent, with the reason in the outcome. Timeouts and outages propagate (retried).
    """
    data = event.data
    if not (event.options or {}).get("enrich") or event.type != t.WORK_PUBLISHED:
        return data, []
    if not data.get("doi"):
        return data, ["enrichment asked, but the work carries no DOI"]
    if ctx.negotiator is None:
        return data, ["enrichment asked, but no resolver is available to this worker"]
    try:
        enriched, filled = enrich_work(data, ctx.negotiator)
        work = validate_work(enriched)
    except (PermanentError, MetadataError, InvalidIdentifier) as exc:
        return data, [f"enrichment skipped: {exc}"]
    if not filled:
        return data, ["enrichment found nothing missing"]
    return work.model_dump(mode="json", exclude_none=True), [
        f"enriched from {data['doi']}: {', '.join(filled)}"
    ]


def _work_event(session: Session, event: ReceivedEvent, ctx: Context) -> Outcome:
    data, notes = _enriched(event, ctx)
    applied = apply_work(session, event.source, data, client_id=event.client_id)
    if applied.work is not None and applied.changed and not applied.stale:
        try:
            notes += effects.on_work_changed(session, applied.work, ctx.trigger(event))
        except EffectRefused as exc:
            return _refused(exc, applied.work.id)
    return _work_outcome(applied, notes)


def _withdrawn(session: Session, event: ReceivedEvent, ctx: Context) -> Outcome:
    applied = withdraw_work(session, event.source, event.data)
    notes: list[str] = []
    if applied.work is not None and applied.changed and not applied.stale:
        try:
            notes = effects.on_work_withdrawn(session, applied.work, ctx.trigger(event))
        except EffectRefused as exc:
            return _refused(exc, applied.work.id)
    return _work_outcome(applied, notes)


def _authorized(session: Session, event: ReceivedEvent, ctx: Context) -> Outcome:
    grant = store_grant(session, event.data)
    message = f"grant stored for {event.data['orcid']} (scope {grant.scope})"
    if not can_write(grant):
        return Outcome(EventStatus.DONE, message + "; read-only: works will not be placed")
    note = effects.on_grant_stored(session, grant, ctx.trigger(event))
    if note is None:
        return Outcome(EventStatus.DONE, message)
    status = EventStatus.UNIMPLEMENTED if "not implemented" in note else EventStatus.DONE
    return Outcome(status, f"{message}; {note}")


def _revoked(session: Session, event: ReceivedEvent, ctx: Context) -> Outcome:
    note = effects.on_researcher_revoked(session, event.data, ctx.trigger(event))
    status = EventStatus.UNIMPLEMENTED if "not implemented" in note else EventStatus.DONE
    return Outcome(status, note)


HANDLERS: dict[str, Callable[[Session, ReceivedEvent, Context], Outcome]] = {
    t.WORK_PUBLISHED: _work_event,
    t.WORK_UPDATED: _work_event,
    t.WORK_WITHDRAWN: _withdrawn,
    t.RESEARCHER_AUTHORIZED: _authorized,
    t.RESEARCHER_REVOKED: _revoked,
}

OPEN = (EventStatus.RECEIVED, EventStatus.PROCESSING)


def process_event(session: Session, event_id: int, ctx: Context) -> Outcome | None:
    """Apply one inbox event. Returns None when it was already handled (a redelivery)."""
    event = session.execute(
        select(ReceivedEvent).where(ReceivedEvent.id == event_id).with_for_update()
    ).scalar_one_or_none()
    if event is None or event.status not in OPEN:
        return None
    event.attempts += 1
    handler = HANDLERS.get(event.type)
    if handler is None:  # accepted by an older or newer intake than this worker
        outcome = Outcome(EventStatus.UNIMPLEMENTED, f"no handler for type {event.type!r}")
    else:
        outcome = handler(session, event, ctx)
    event.status = outcome.status
    event.outcome = outcome.message
    event.work_id = outcome.work_id
    event.handled_at = datetime.now(UTC)
    session.flush()
    log.info(
        "event_processed", type=event.type, status=outcome.status.value, outcome=outcome.message
    )
    return outcome


def mark_failed(session: Session, event_id: int, reason: str) -> None:
    """Record that an event's processing gave up (retries exhausted, worker kept dying)."""
    event = session.get(ReceivedEvent, event_id, with_for_update=True)
    if event is not None and event.status in OPEN:
        event.status = EventStatus.FAILED
        event.outcome = reason
        event.handled_at = datetime.now(UTC)
        session.flush()
