"""What both registrars share: the Work as the renderers take it, outcomes (confirmed, refused,
retry later) and the webhooks that report them.

The rule everywhere: a state that says the agency holds something (registered, findable,
withdrawn) is set only from the agency's own answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from worker.config import Settings
from worker.db import enqueue_after_commit
from worker.errors import EffectRefused, error_text
from worker.http import HttpError, asks_to_wait
from worker.logging import get_logger
from worker.metadata.work import Work as MetaWork
from worker.metadata.work import validate_work
from worker.models import DoiRegistration, DoiState, Registrar, TargetState, Work
from worker.notify.service import notify
from worker.registrars.accounts import registrar_named
from worker.registrars.repository import CONFIRMED

log = get_logger(__name__)

#: A message that arrives this much before its registration's next attempt is a duplicate.
#: Not a knob: the broker delivers a delayed message up to its own clock's skew and
#: millisecond rounding early, and the retry it carries is seconds away; one second tells the
#: two apart whatever the backoff or poll schedule is.
EARLY = timedelta(seconds=1)


#: ``registration.registrar`` of a Work whose DOI (if any) no registrar of ours holds.
NO_REGISTRAR = "none"


def wanted_registration(work: Work) -> dict[str, Any]:
    """The Work's ``registration`` object as stored (``{}`` when absent): JSON strings, read
    into types by :func:`wanted_registrar` and :func:`wanted_target`."""
    value = work.work_metadata.get("registration")
    return value if isinstance(value, dict) else {}


def wanted_registrar(work: Work) -> Registrar | None:
    """The registrar the Work asks for; None for ``none`` (or no registration object).
    :class:`~worker.registrars.accounts.UnknownAccount` naming the known ones for any other
    word."""
    word = wanted_registration(work).get("registrar") or NO_REGISTRAR
    return None if word == NO_REGISTRAR else registrar_named(word)


def wanted_target(work: Work, registrar: Registrar) -> TargetState:
    """The state the Work asks its DOI to reach: DataCite's ``registration.state`` (findable
    by default); Crossref has only registered. EffectRefused for a word that names none."""
    if registrar is Registrar.CROSSREF:
        return TargetState.REGISTERED
    word = wanted_registration(work).get("state") or TargetState.FINDABLE
    try:
        return TargetState(word)
    except ValueError:
        known = ", ".join(t.value for t in TargetState)
        raise EffectRefused(f"unknown DataCite state {word!r} (known: {known})") from None


def work_model(work: Work, doi: str, *, url: str | None = None) -> MetaWork:
    """The stored Work as the renderers take it, carrying ``doi`` (and ``url`` instead of its
    own landing page, for a tombstone)."""
    model = validate_work(work.work_metadata)
    update: dict[str, Any] = {"doi": doi}
    if url is not None:
        update["url"] = url
    return model.model_copy(update=update)


def in_flight(reg: DoiRegistration, now: datetime) -> bool:
    """Whether a later attempt is already scheduled (this message is then a duplicate)."""
    return reg.next_attempt_at is not None and reg.next_attempt_at > now + EARLY


def payload(reg: DoiRegistration, work: Work, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": work.source,
        "id": work.external_id,
        "doi": reg.doi,
        "registrar": reg.registrar.value,
        "account": reg.account,
        "state": reg.state.value,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def report(
    session: Session,
    reg: DoiRegistration,
    event_type: str,
    *,
    work: Work | None = None,
    settings: Settings | None = None,
    **extra: Any,
) -> None:
    """A signed webhook (``doi.registered``, ``doi.failed``, ...) to the work's emitting
    system, delivered after commit. Without a known client it is logged, never dropped
    silently."""
    work = work or reg.work
    body = payload(reg, work, **extra)
    if reg.client_id is None:
        log.warning("doi_webhook_without_client", event_type=event_type, doi=reg.doi)
        return
    notify(
        session,
        client_id=reg.client_id,
        event_type=event_type,
        payload=body,
        work_id=work.id,
        settings=settings,
    )


def settled(session: Session, reg: DoiRegistration) -> None:
    """The DOI's fate changed (confirmed, failed for good, withdrawn): the ORCID flow places
    the work's waiting placements or corrects them (a message by name, after commit: the two
    flows never import each other)."""
    enqueue_after_commit(session, "orcid.doi_settled", reg.work_id)


def mark_confirmed(
    session: Session,
    reg: DoiRegistration,
    *,
    state: DoiState,
    confirmed_hash: str,
    now: datetime,
    warning: str | None = None,
    note: str | None = None,
    settings: Settings | None = None,
) -> None:
    """The agency confirmed the payload with hash ``confirmed_hash``: record and report it
    (``settings``: see :func:`worker.notify.service.notify`)."""
    before = reg.state
    if state != before:
        settled(session, reg)
    reg.state = state
    reg.confirmed_hash = confirmed_hash
    if reg.pending_hash == confirmed_hash:
        reg.pending_hash = None
        reg.pending_since = None
    reg.confirmed_at = now
    if state != DoiState.WITHDRAWN and reg.registered_at is None:
        reg.registered_at = now
    reg.warning = warning
    reg.last_error = None
    reg.error_details = None
    reg.retry_count = 0
    reg.next_attempt_at = None
    # No flush of its own: the report's notification flushes these changes with its row (one
    # flush, not two: issue 13), and the unit of work's commit does when nobody is told.
    if state == DoiState.WITHDRAWN:
        report(session, reg, "doi.withdrawn", settings=settings, warning=warning, message=note)
        return
    change = "updated" if before in CONFIRMED and before != DoiState.WITHDRAWN else "registered"
    if before == DoiState.WITHDRAWN:
        change = "restored"
    report(
        session,
        reg,
        "doi.registered",
        settings=settings,
        change=change,
        warning=warning,
        message=note,
    )
    log.info("doi_confirmed", doi=reg.doi, state=state.value, change=change)


def mark_failed(
    session: Session,
    settings: Settings,
    reg: DoiRegistration,
    message: str,
    *,
    details: list[Any] | None = None,
    failed_hash: str | None = None,
) -> None:
    """The agency refused (or we gave up): failed, with a reason a person can act on.

    The change that failed is no longer pending (retrying it cannot help); a newer change
    (``pending_hash`` other than ``failed_hash``) stays pending."""
    if reg.state != DoiState.FAILED:
        settled(session, reg)
    reg.state = DoiState.FAILED
    reg.last_error = message[: settings.error_text_chars]
    reg.error_details = details or None
    if failed_hash is None or reg.pending_hash == failed_hash:
        reg.pending_hash = None
        reg.pending_since = None
    reg.retry_count = 0
    reg.next_attempt_at = None
    report(  # its notification flushes the changes above with its row
        session,
        reg,
        "doi.failed",
        settings=settings,
        message=reg.last_error,
        errors=details or None,
    )
    log.warning("doi_failed", doi=reg.doi, registrar=reg.registrar.value, reason=reg.last_error)


def retry_later(
    session: Session,
    settings: Settings,
    reg: DoiRegistration,
    exc: HttpError,
    now: datetime,
    *,
    agency: str,
) -> float | None:
    """A transient failure (network, 5xx, 429): the delay before the next try, or None when
    the tries are spent (then failed, and reported). A 429 is the agency asking us to wait;
    it does not count as a failed try."""
    backoff = settings.doi.backoff
    chars = settings.error_text_chars
    if not asks_to_wait(exc):
        reg.retry_count += 1
    answer = error_text(exc, chars)
    reg.last_error = f"{agency} did not answer usably (try {reg.retry_count}): {answer}"
    if backoff.exhausted(reg.retry_count):
        mark_failed(
            session,
            settings,
            reg,
            f"gave up after {reg.retry_count} tries; last answer: {answer}",
            failed_hash=reg.pending_hash,
        )
        return None
    delay = backoff.delay(reg.retry_count, getattr(exc, "retry_after", None))
    reg.next_attempt_at = now + timedelta(seconds=delay)
    session.flush()
    # One line, no traceback: the attempt is on the row, and the next one is scheduled.
    log.warning("doi_retry_scheduled", doi=reg.doi, delay_s=delay, error=reg.last_error)
    return delay
