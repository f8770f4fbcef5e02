"""Processing one inbox event: route it by type to the service that applies it.

Each event ends in a state a person can read in the status API: done, stale, or failed (with
the reason). A transient failure while applying it (e.g. enrichment's resolver timing out)
undoes what the attempt did, records the attempt on the event and returns when to try again
(worker.retry); the attempts are bounded by ``settings.events``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.errors import EffectRefused, PermanentError, TransientError, error_text
from worker.events import dryrun, repository
from worker.events import types as t
from worker.logging import get_logger
from worker.metadata.errors import MetadataError
from worker.metadata.work import validate_work
from worker.models import EventStatus, OrcidItemKind, ReceivedEvent
from worker.notify import types as webhook
from worker.notify.service import notify
from worker.orcid.deps import OrcidDeps
from worker.orcid.grants import (
    GrantRefused,
    can_write,
    check_replaceable,
    store_grant,
    verify_token,
)
from worker.orcid.repository import grant_of
from worker.orcid.sections import service as sections
from worker.orcid.tokens import TokenKeyError
from worker.pids.enrich import enrich_work
from worker.pids.identifiers import InvalidIdentifier
from worker.pids.negotiation import Negotiator
from worker.works import effects
from worker.works.service import Applied, apply_work, withdraw_work
from worker.works.trigger import Trigger

log = get_logger(__name__)


@dataclass
class Outcome:
    status: EventStatus
    message: str
    work_id: int | None = None
    #: Seconds until the next try, when a transient failure postponed the event.
    retry_in: float | None = None
    #: The Work's fields at fault when it failed (JSON paths), for the ``work.failed`` webhook.
    fields: list[str] = field(default_factory=list)
    #: The affiliation, funding or peer review an item event stored (for a dry run's report).
    assertion_id: int | None = None


def _work_outcome(applied: Applied, notes: list[str]) -> Outcome:
    work_id = applied.work.id if applied.work else None
    if applied.work is None:
        return Outcome(EventStatus.FAILED, applied.message, work_id)
    if applied.stale:
        return Outcome(EventStatus.STALE, applied.message, work_id)
    return Outcome(EventStatus.DONE, "; ".join([applied.message, *notes]), work_id)


def _refused(exc: EffectRefused, work_id: int | None) -> Outcome:
    return Outcome(EventStatus.FAILED, str(exc), work_id, fields=exc.fields)


@dataclass
class Context:
    """What an event's processing may need: the settings, and the clients (a None client
    means that effect is not available to this process)."""

    settings: Settings
    negotiator: Negotiator | None = None
    #: The ORCID API, to prove a researcher.authorized token before it is stored.
    orcid: OrcidDeps | None = None

    def trigger(self, event: ReceivedEvent) -> Trigger:
        return Trigger(client_id=event.client_id, settings=self.settings)


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


def _runs_effects(applied: Applied, event: ReceivedEvent) -> bool:
    """Whether the flows' hooks run: the Work changed, or an operator revived this failed event
    (``pidsync retry``: received again after it was handled once). The hooks are idempotent: an
    unchanged DOI or placement sends nothing."""
    revived = event.handled_at is not None
    return not applied.stale and (applied.changed or revived)


def _work_event(session: Session, event: ReceivedEvent, ctx: Context) -> Outcome:
    data, notes = _enriched(event, ctx)
    # Only a client placing one work per version family needs its families exact at once
    # (they serialise its work events); with "each", converging recomputes them when switched.
    exact = ctx.settings.orcid_versions_for(event.client_id) != "each"
    applied = apply_work(
        session, event.source, data, client_id=event.client_id, exact_families=exact
    )
    if applied.work is not None and _runs_effects(applied, event):
        try:
            notes += effects.on_work_changed(session, applied.work, ctx.trigger(event))
        except EffectRefused as exc:
            return _refused(exc, applied.work.id)
    return _work_outcome(applied, notes)


def _withdrawn(session: Session, event: ReceivedEvent, ctx: Context) -> Outcome:
    applied = withdraw_work(session, event.source, event.data, client_id=event.client_id)
    notes: list[str] = []
    if applied.work is not None and _runs_effects(applied, event):
        try:
            notes = effects.on_work_withdrawn(session, applied.work, ctx.trigger(event))
        except EffectRefused as exc:
            return _refused(exc, applied.work.id)
    return _work_outcome(applied, notes)


def _prove_token(session: Session, event: ReceivedEvent, ctx: Context) -> None:
    """Refuse a grant the sender may not replace, then prove its token with ORCID (the intake
    must not call ORCID, so the proof happens here, before anything is stored)."""
    data = event.data
    held = grant_of(session, data["orcid"], data["client_id"])
    if held is not None:
        check_replaceable(held, event.client_id)
    if ctx.orcid is None:
        raise GrantRefused("no ORCID API is available to this worker to verify the token")
    try:
        token = ctx.orcid.cipher.decrypt(str(data.get("access_token_enc", "")).encode())
    except TokenKeyError as exc:
        raise GrantRefused(f"the event's token cannot be read: {exc}") from None
    verify_token(ctx.orcid.member(data["client_id"]), data["orcid"], token)


def _authorized(session: Session, event: ReceivedEvent, ctx: Context) -> Outcome:
    try:
        _prove_token(session, event, ctx)
        grant = store_grant(session, event.data, owner=event.client_id)
    except GrantRefused as exc:
        return Outcome(EventStatus.FAILED, str(exc))
    message = f"grant stored for {event.data['orcid']} (scope {grant.scope})"
    if not can_write(grant):
        message += "; read-only: works will not be placed"
    # A read-only grant still reads the record: placements in doubt are resolved with it.
    note = effects.on_grant_stored(session, grant, ctx.trigger(event))
    return Outcome(EventStatus.DONE, f"{message}; {note}" if note else message)


def _revoked(session: Session, event: ReceivedEvent, ctx: Context) -> Outcome:
    return Outcome(
        EventStatus.DONE, effects.on_researcher_revoked(session, event.data, ctx.trigger(event))
    )


def _item(session: Session, event: ReceivedEvent, _ctx: Context) -> Outcome:
    """An affiliation, funding or peer review: stored, and its ORCID items queued."""
    kind, withdrawn = t.ITEM_EVENTS[event.type]
    apply = sections.withdraw_item if withdrawn else sections.apply_item
    applied = apply(session, OrcidItemKind(kind), event.source, event.data, event.client_id)
    if applied.failed:
        return Outcome(EventStatus.FAILED, applied.message)
    status = EventStatus.STALE if applied.stale else EventStatus.DONE
    return Outcome(status, applied.message, assertion_id=applied.assertion_id)


HANDLERS: dict[str, Callable[[Session, ReceivedEvent, Context], Outcome]] = {
    t.WORK_PUBLISHED: _work_event,
    t.WORK_UPDATED: _work_event,
    t.WORK_WITHDRAWN: _withdrawn,
    t.RESEARCHER_AUTHORIZED: _authorized,
    t.RESEARCHER_REVOKED: _revoked,
    **dict.fromkeys(t.ITEM_EVENTS, _item),
}


def process_event(session: Session, event_id: int, ctx: Context) -> Outcome | None:
    """Apply one inbox event. Returns None when it was already handled (a redelivery); an
    Outcome with ``retry_in`` when a transient failure postponed it."""
    event = repository.lock_event(session, event_id)
    if event is None or event.status != EventStatus.RECEIVED:
        return None
    handler = HANDLERS.get(event.type)
    failure: TransientError | None = None
    try:
        with session.begin_nested():  # a failed attempt leaves nothing half-applied
            if handler is None:  # accepted by an older or newer intake than this worker
                outcome = Outcome(EventStatus.FAILED, f"no handler for type {event.type!r}")
            elif (event.options or {}).get("dryrun"):
                outcome = _dry_run(session, event, ctx, handler)
            else:
                outcome = handler(session, event, ctx)
    except TransientError as exc:
        failure = exc
    # Counted after the attempt, in the UPDATE that records its outcome (an attempt that dies
    # rolls back either way): counted before the savepoint, it cost an UPDATE and a flush of
    # its own (issue 13).
    event.attempts += 1
    if failure is not None:
        outcome = _postpone(event, failure, ctx.settings)
        if outcome.retry_in is not None:
            session.flush()
            return outcome
    event.status = outcome.status
    event.outcome = outcome.message
    event.work_id = outcome.work_id or event.work_id
    event.next_attempt_at = None
    event.handled_at = utcnow()
    if outcome.status == EventStatus.FAILED and not (event.options or {}).get("dryrun"):
        tell_failed(session, event, outcome.fields)  # a dry run's outcome is in its report
    session.flush()
    log.info(
        "event_processed", type=event.type, status=outcome.status.value, outcome=outcome.message
    )
    return outcome


def _dry_run(
    session: Session,
    event: ReceivedEvent,
    ctx: Context,
    handler: Callable[[Session, ReceivedEvent, Context], Outcome],
) -> Outcome:
    """Process the event to the end, keep only the report (worker.events.dryrun)."""
    outcome, report = dryrun.rehearse(session, ctx.settings, lambda: handler(session, event, ctx))
    dryrun.keep_report(session, event.id, report)
    message = f"dry run, nothing written: {outcome.message}"
    return Outcome(outcome.status, message, None, fields=outcome.fields)


def tell_failed(session: Session, event: ReceivedEvent, fields: list[str]) -> None:
    """The emitting system learns of a failure after its 202 without polling: a signed
    ``work.failed`` (``event.failed`` for events not about a work) with the reason and the
    fields at fault, in the same commit as the failed state."""
    about_work = event.type.startswith("work.")
    payload: dict[str, Any] = {"source": event.source}
    if about_work:
        payload["id"] = event.data.get("id")
    payload |= {
        "event": {"source": event.source, "id": event.event_id, "type": event.type},
        "reason": event.outcome,
        "fields": fields,
        "attempts": event.attempts,
        "correlation_id": event.correlation_id,
    }
    notify(
        session,
        client_id=event.client_id,
        event_type=webhook.WORK_FAILED if about_work else webhook.EVENT_FAILED,
        payload=payload,
        work_id=event.work_id,
    )


def _postpone(event: ReceivedEvent, exc: TransientError, settings: Settings) -> Outcome:
    """Record a transient failure: the next try, or a failure once the tries are spent."""
    why = error_text(exc, settings.error_text_chars)
    backoff = settings.events.backoff
    if backoff.exhausted(event.attempts):
        return Outcome(EventStatus.FAILED, f"gave up after {event.attempts} attempts: {why}")
    delay = backoff.delay(event.attempts, exc.retry_after)
    event.next_attempt_at = utcnow() + timedelta(seconds=delay)
    event.outcome = f"attempt {event.attempts} failed; next in {delay:g}s: {why}"
    log.warning("event_retry_scheduled", type=event.type, delay_s=delay, error=why)
    return Outcome(EventStatus.RECEIVED, event.outcome, event.work_id, retry_in=delay)


def mark_failed(session: Session, event_id: int, reason: str) -> None:
    """Record that an event's processing gave up (retries exhausted, worker kept dying)."""
    event = session.get(ReceivedEvent, event_id, with_for_update=True)
    if event is not None and event.status == EventStatus.RECEIVED:
        event.status = EventStatus.FAILED
        event.outcome = reason
        event.next_attempt_at = None
        event.handled_at = utcnow()
        tell_failed(session, event, [])
        session.flush()
