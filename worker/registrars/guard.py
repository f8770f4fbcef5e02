"""The duplicate guard before minting: ask the finder (:mod:`.duplicates`) whether a DOI for a
reserved Work may already exist, and hold the registration when it may.

Off by default (``PIDSYNC_DOI_DUPLICATE_CHECK``). A likely match puts the registration on hold
("possible duplicate of 10.x/y" with the evidence) in the status API and a ``doi.on_hold``
webhook; ``pidsync doi release`` lets it go on. A search that keeps failing does not block
minting forever: after the usual tries the DOI goes ahead with a warning saying the check was
skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.errors import PermanentError, TransientError, error_text
from worker.http import asks_to_wait
from worker.logging import get_logger
from worker.models import DoiRegistration, DoiState, DuplicateCheck
from worker.registrars.common import in_flight, report, work_model
from worker.registrars.deps import RegistrarDeps
from worker.registrars.repository import lock_registration
from worker.registrars.service import schedule_send

log = get_logger(__name__)


def _evidence(match: Any) -> dict[str, Any]:
    evidence = getattr(match, "evidence", None)
    dump = getattr(evidence, "model_dump", None)
    if callable(dump):
        evidence = dump(mode="json")
    elif evidence is not None and not isinstance(evidence, dict | list | str | int | float):
        evidence = str(evidence)
    return {
        "doi": str(match.doi),
        "score": round(float(match.score), 4),
        "evidence": evidence,
    }


def check_registration(
    session: Session, deps: RegistrarDeps, registration_id: int, *, now: datetime | None = None
) -> float | None:
    """Run the guard for a reserved DOI. Returns a delay when the search failed and should be
    tried again, else None (held, or cleared and sent on)."""
    now = now or utcnow()
    reg = lock_registration(session, registration_id)
    if reg is None or reg.duplicate_check != DuplicateCheck.PENDING or in_flight(reg, now):
        return None
    chars = deps.settings.error_text_chars
    model = work_model(reg.work, reg.doi)
    try:
        if deps.duplicate_finder is None:
            raise LookupError("the duplicate guard is not configured in this process")
        matches = [m for m in deps.duplicate_finder(model) if str(m.doi).lower() != reg.doi]
    except TransientError as exc:
        if not asks_to_wait(exc):  # the registry's rate limit: a wait, not a failed try
            reg.retry_count += 1
        answer = error_text(exc, chars)
        reg.last_error = (
            f"duplicate check: registry search failed (try {reg.retry_count}): {answer}"
        )
        backoff = deps.settings.doi.backoff
        if backoff.exhausted(reg.retry_count):
            _skip(session, deps, reg, reg.last_error, now)
            return None
        delay = backoff.delay(reg.retry_count, exc.retry_after)
        reg.next_attempt_at = now + timedelta(seconds=delay)
        session.flush()
        log.warning("duplicate_check_retry_scheduled", doi=reg.doi, delay_s=delay, error=answer)
        return delay
    except PermanentError as exc:  # a refused search (4xx): asking again cannot help
        answer = error_text(exc, chars)
        _skip(session, deps, reg, f"duplicate check: registry search refused: {answer}", now)
        return None
    except LookupError as exc:
        _skip(session, deps, reg, f"duplicate guard unavailable: {exc}", now)
        return None
    if not matches:
        reg.duplicate_check = DuplicateCheck.CLEAR
        reg.retry_count = 0
        reg.last_error = None
        if reg.state == DoiState.ON_HOLD:
            reg.state = DoiState.RESERVED if reg.confirmed_hash is None else reg.state
        schedule_send(session, deps.settings, reg, now)
        return None
    _hold(session, reg, sorted(matches, key=lambda m: -float(m.score)))
    return None


def _skip(
    session: Session, deps: RegistrarDeps, reg: DoiRegistration, reason: str, now: datetime
) -> None:
    log.warning("duplicate_check_skipped", doi=reg.doi, reason=reason)
    reg.duplicate_check = DuplicateCheck.SKIPPED
    reg.retry_count = 0
    reg.last_error = None
    reg.warning = f"duplicate check skipped: {reason}"
    if reg.state == DoiState.ON_HOLD:
        reg.state = DoiState.RESERVED
    schedule_send(session, deps.settings, reg, now)


def _hold(session: Session, reg: DoiRegistration, matches: list[Any]) -> None:
    found = [_evidence(m) for m in matches]
    best = found[0]
    reg.state = DoiState.ON_HOLD
    reg.duplicate_check = DuplicateCheck.HELD
    reg.retry_count = 0
    reg.last_error = None
    reg.next_attempt_at = None
    reg.hold = {"possible_duplicate_of": best["doi"], "matches": found}
    reg.warning = f"possible duplicate of {best['doi']} (score {best['score']})"
    session.flush()
    report(
        session,
        reg,
        "doi.on_hold",
        message=reg.warning,
        possible_duplicate_of=best["doi"],
        matches=found,
    )
    log.info("doi_on_hold", doi=reg.doi, duplicate_of=best["doi"], score=best["score"])
