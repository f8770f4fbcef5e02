"""The effects a work or grant event has on the outside world, by domain.

Each domain exposes hook functions that run inside the event's unit of work: they record what
must happen (a reserved DOI, pending placements), enqueue the actors that do it after commit,
and return a one-line note for the event's outcome (or None when there is nothing to do). A
hook that must refuse the event raises :class:`~worker.errors.EffectRefused` with the reason.
Every hook is told which intake client sent the event and the process's settings
(:class:`~worker.works.trigger.Trigger`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from worker.models import OrcidGrant, Work
from worker.works.trigger import Trigger


def on_work_changed(session: Session, work: Work, trigger: Trigger) -> list[str]:
    from worker.orcid import placements
    from worker.registrars import service as registrars

    notes = [
        registrars.on_work_changed(session, work, trigger),
        placements.on_work_changed(session, work, trigger),
    ]
    return [n for n in notes if n]


def on_work_withdrawn(session: Session, work: Work, trigger: Trigger) -> list[str]:
    from worker.orcid import placements
    from worker.registrars import service as registrars

    notes = [
        registrars.on_work_withdrawn(session, work, trigger),
        placements.on_work_withdrawn(session, work, trigger),
    ]
    return [n for n in notes if n]


def on_grant_stored(session: Session, grant: OrcidGrant, trigger: Trigger) -> str | None:
    from worker.orcid import placements
    from worker.orcid.sections import service as sections

    notes = [
        placements.on_grant_stored(session, grant, trigger),
        sections.on_grant_stored(session, grant),
    ]
    return "; ".join(n for n in notes if n) or None


def on_researcher_revoked(session: Session, data: dict[str, Any], trigger: Trigger) -> str:
    from worker.orcid import placements

    return placements.on_researcher_revoked(session, data, trigger)
