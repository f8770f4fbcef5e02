"""Transient failures of ORCID effects, on pidsync's one retry model (:mod:`worker.retry`).

A service that meets a transient failure (network, 5xx, 429) records the attempt on the row the
effect is about and returns the delay before the next try, from ``settings.orcid.backoff``
(ORCID's Retry-After wins when it gave one); the actor postpones its message by that delay
after the commit. When the tries are spent the service records a failure a person can act on.
Each retry logs one WARNING line, without a traceback: a retry is expected, not a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.errors import TransientError, error_text
from worker.http import asks_to_wait
from worker.logging import get_logger
from worker.models import GrantEffect, OrcidGrant
from worker.orcid import repository
from worker.orcid.client import RevokedToken
from worker.orcid.result import Result

log = get_logger(__name__)


def give_back_throttled(row: Any, exc: TransientError) -> None:
    """A try that ORCID's rate limit refused unseen (its 503 past the burst) is ORCID asking us
    to wait, not a failed try: ``row.attempts`` (counted before the call) gives it back. Else a
    spell of throttling spends every try and fails works nothing was wrong with."""
    if asks_to_wait(exc) and row.attempts > 0:
        row.attempts -= 1


def next_try(settings: Settings, failures: int, exc: TransientError) -> float | None:
    """Seconds before the next try after ``failures`` failed tries, or None when they are
    spent."""
    backoff = settings.orcid.backoff
    if backoff.exhausted(failures):
        return None
    return backoff.delay(failures, getattr(exc, "retry_after", None))


def log_retry(effect: str, attempt: int, delay: float, error: str, **about: Any) -> None:
    """The one line a transient retry logs."""
    log.warning(
        "orcid_retry_scheduled",
        effect=effect,
        attempt=attempt,
        delay_s=round(delay, 3),
        error=error,
        **about,
    )


def retry_grant_effect(
    session: Session,
    settings: Settings,
    grant: OrcidGrant,
    effect: GrantEffect,
    exc: TransientError,
) -> float | None:
    """Record a transient failure of ``effect`` about ``grant`` on its own row: the delay
    before the next try, or None when the tries are spent (then the row keeps the reason and
    ``failed_at``, and a WARNING says so)."""
    row = repository.grant_attempt_for_update(session, grant.id, effect)
    if row.failed_at is not None:  # given up before: this is a new series of tries
        row.attempts = 0
        row.failed_at = None
    row.attempts += 1
    give_back_throttled(row, exc)
    row.last_error = error_text(exc, settings.error_text_chars)
    now = utcnow()
    delay = next_try(settings, row.attempts, exc)
    about = {"orcid": grant.researcher.orcid, "client_id": grant.client_id, "grant_id": grant.id}
    if delay is None:
        row.next_attempt_at = None
        row.failed_at = now
        log.warning(
            "orcid_effect_failed",
            effect=effect.value,
            attempts=row.attempts,
            error=row.last_error,
            **about,
        )
        return None
    row.next_attempt_at = now + timedelta(seconds=delay)
    log_retry(effect.value, row.attempts, delay, row.last_error, **about)
    return delay


def grant_effect(
    session: Session,
    settings: Settings,
    grant_id: int,
    effect: GrantEffect,
    run: Callable[[OrcidGrant], Result],
    *,
    missing: str,
) -> Result:
    """An effect's message about a grant: the grant locked, the effect run by
    :func:`try_grant_effect`, the unit of work flushed; ``missing`` is the note when the grant
    is gone."""
    grant = session.get(OrcidGrant, grant_id, with_for_update=True)
    if grant is None:
        return Result(missing)
    result = try_grant_effect(session, settings, grant, effect, lambda: run(grant))
    session.flush()
    return result


def try_grant_effect(
    session: Session,
    settings: Settings,
    grant: OrcidGrant,
    effect: GrantEffect,
    run: Callable[[], Result],
) -> Result:
    """Run one effect about ``grant``. A transient failure it raises is recorded on the
    effect's row (the result carries the delay, or says the tries are spent); any other
    outcome settles the effect and forgets its tries."""
    try:
        result = run()
    except TransientError as exc:
        delay = retry_grant_effect(session, settings, grant, effect, exc)
        why = error_text(exc, settings.error_text_chars)
        if delay is None:
            return Result(f"failed: retries exhausted ({why})", failed=True)
        return Result(f"will retry in {delay:g}s: {why}", delay=delay)
    grant_effect_settled(session, grant, effect)
    return result


def grant_effect_settled(session: Session, grant: OrcidGrant, effect: GrantEffect) -> None:
    """The effect succeeded, or ended in a way retrying cannot change: forget its tries."""
    repository.forget_grant_attempts(session, grant.id, effect)


def stale_client_token(exc: RevokedToken) -> TransientError:
    """ORCID refused a cached client-credentials token (``/webhook``,
    ``/premium-notification``): it was forgotten, and the next try fetches a fresh one."""
    return TransientError(f"ORCID refused a cached client token (HTTP {exc.status})")
