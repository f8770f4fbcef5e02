"""Suggestions for a stored work: ORCID iDs proposed for its persons without one, reported to the
emitting system (``orcid.suggestions``), never written into the Work or onto a record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from worker.config import Settings
from worker.db import enqueue_after_commit
from worker.errors import TransientError, error_text
from worker.logging import get_logger
from worker.models import Work
from worker.orcid.attempts import log_retry, next_try
from worker.orcid.client import OrcidError
from worker.orcid.payload import contributors_without_orcid
from worker.orcid.recipients import tell_work
from worker.orcid.result import Result, flushed
from worker.orcid.search import suggest

if TYPE_CHECKING:
    from worker.orcid.deps import OrcidDeps

log = get_logger(__name__)

MAX_CONTRIBUTORS = 25


def _affiliations(contributor: dict[str, Any]) -> list[str]:
    return [a["name"] for a in contributor.get("affiliations") or [] if a.get("name")]


@flushed
def suggest_for_work(session: Session, deps: OrcidDeps, work_id: int, attempt: int = 0) -> Result:
    """Propose iDs for the work's persons without one; tell the emitting system. ``attempt``:
    how many earlier tries of this message failed transiently."""
    work = session.get(Work, work_id)
    if work is None:
        return Result("no such work")
    public = deps.public()
    found = []
    for index, contributor in contributors_without_orcid(work)[:MAX_CONTRIBUTORS]:
        family = contributor.get("family")
        if not family:
            continue
        try:
            candidates = suggest(
                public,
                given=contributor.get("given"),
                family=family,
                affiliations=_affiliations(contributor),
                email=contributor.get("email"),
            )
        except OrcidError as exc:
            return Result(f"search refused: {error_text(exc, deps.settings.error_text_chars)}")
        except TransientError as exc:
            return _retry(session, deps.settings, work, attempt + 1, exc)
        if candidates:
            name = " ".join(p for p in (contributor.get("given"), family) if p)
            found.append(
                {"index": index, "name": name, "candidates": [c.as_dict() for c in candidates]}
            )
    if found:
        tell_work(session, deps.settings, work, "orcid.suggestions", {"contributors": found})
    return Result(f"suggestions for {len(found)} contributor(s)")


def _retry(
    session: Session, settings: Settings, work: Work, failures: int, exc: TransientError
) -> Result:
    """No row is about a suggestion (nothing is stored; the search is read again from the
    start), so the message carries the count of its failed tries: the next one is sent after
    the commit, with the delay. When the tries are spent a WARNING says so; the emitting
    system gets no suggestions for this change of the work."""
    why = error_text(exc, settings.error_text_chars)
    delay = next_try(settings, failures, exc)
    if delay is None:
        log.warning("orcid_suggestions_failed", work_id=work.id, attempts=failures, error=why)
        return Result(f"failed: retries exhausted ({why})", failed=True)
    enqueue_after_commit(session, "orcid.suggest", work.id, failures, delay=delay)
    log_retry("orcid.suggest", failures, delay, why, work_id=work.id)
    return Result(f"will retry in {delay:g}s: {why}")
