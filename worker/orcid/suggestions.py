"""Suggestions for a stored work: ORCID iDs proposed for its persons without one, reported to the
emitting system (``orcid.suggestions``), never written into the Work or onto a record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from worker.errors import TransientError, error_text
from worker.models import Work
from worker.orcid.client import OrcidError
from worker.orcid.common import Result, flushed
from worker.orcid.payload import contributors_without_orcid
from worker.orcid.recipients import tell_work
from worker.orcid.search import suggest

if TYPE_CHECKING:
    from worker.orcid.deps import OrcidDeps

MAX_CONTRIBUTORS = 25


def _affiliations(contributor: dict[str, Any]) -> list[str]:
    return [a["name"] for a in contributor.get("affiliations") or [] if a.get("name")]


@flushed
def suggest_for_work(session: Session, deps: OrcidDeps, work_id: int) -> Result:
    """Propose iDs for the work's persons without one; tell the emitting system."""
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
            return Result("will retry", retry=exc)
        if candidates:
            name = " ".join(p for p in (contributor.get("given"), family) if p)
            found.append(
                {"index": index, "name": name, "candidates": [c.as_dict() for c in candidates]}
            )
    if found:
        tell_work(session, deps.settings, work, "orcid.suggestions", {"contributors": found})
    return Result(f"suggestions for {len(found)} contributor(s)")
