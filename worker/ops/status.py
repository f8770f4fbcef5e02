"""What the status API, the CLI and the dashboard say about a work: one function, one shape.

Scoped by owner: a client's read (``owner`` = its id) sees only its own works and its own
events; the operator's views pass ``owner=None`` and see everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from worker.events.intake import DRYRUN_PREFIX
from worker.events.repository import recent_events_of_work
from worker.models import (
    DoiState,
    DryRunReport,
    OrcidPlacement,
    PlacementState,
    ReceivedEvent,
    Work,
)
from worker.works.render_notes import shown_notes
from worker.works.service import get_work

#: The state shown for a DOI that no registrar of ours holds (the Work carried it).
EXTERNAL = "external"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def work_status(
    session: Session, source: str, external_id: str, *, owner: str | None = None
) -> dict[str, Any] | None:
    """The work's status, or None when there is no such work or (``owner`` given) it belongs
    to another client: the two answers look the same to the caller."""
    work = get_work(session, source, external_id)
    if work is None or (owner is not None and work.client_id != owner):
        return None
    return {
        "source": work.source,
        "id": work.external_id,
        "type": work.type,
        "title": work.title,
        "version": work.version,
        "withdrawn": work.withdrawn_at is not None,
        "withdrawn_at": _iso(work.withdrawn_at),
        "doi": _doi(work),
        "orcid": [_placement(p) for p in work.placements],
        "events": _events(session, work, owner),
        "updated_at": _iso(work.updated_at),
    }


def _doi(work: Work) -> dict[str, Any] | None:
    from worker.registrars.common import NO_REGISTRAR
    from worker.registrars.status import describe

    reg = work.registration
    if reg is None:
        return {"doi": work.doi, "state": EXTERNAL, "registrar": NO_REGISTRAR} if work.doi else None
    return describe(reg)


def _placement(p: OrcidPlacement) -> dict[str, Any]:
    return {
        "orcid": p.orcid,
        "client_id": p.client_id,  # None while the researcher has not authorised
        "state": p.state.value,
        "put_code": p.put_code,
        "visibility": p.visibility.value if p.visibility is not None else None,
        "last_error": p.last_error,
        "attempts": p.attempts,
        "next_attempt_at": _iso(p.next_attempt_at),
        "blocked": _placement_blocked(p),
        "placed_at": _iso(p.placed_at),
        "updated_at": _iso(p.updated_at),
        # What ORCID's work could not hold of the Work last rendered (issue 16).
        "notes": shown_notes(p),
    }


#: A DOI pidsync registers is put on ORCID records only once the agency confirmed it (DESIGN §7).
_CONFIRMED = (DoiState.REGISTERED, DoiState.FINDABLE)


def _placement_blocked(p: OrcidPlacement) -> str | None:
    """Why a queued placement is not being written, when it waits for something other than its
    next try: the researcher's consent, or the work's DOI still unconfirmed."""
    if p.state == PlacementState.AWAITING_CONSENT:
        return (
            "awaiting consent: the researcher has not authorised this ORCID client to add works "
            "(or revoked it); placed once they do"
        )
    reg = p.work.registration
    if p.state == PlacementState.AWAITING_DOI and reg is not None and reg.state not in _CONFIRMED:
        return (
            f"awaiting the DOI: {reg.doi} is {reg.state.value} at {reg.registrar}; the work is "
            "placed with it once the agency confirms it"
        )
    return None


def _events(session: Session, work: Work, owner: str | None) -> list[dict[str, Any]]:
    events = recent_events_of_work(session, work.id, limit=20, client_id=owner)
    return [event_summary(e) for e in events]


def event_summary(e: ReceivedEvent) -> dict[str, Any]:
    summary = _event_fields(e)
    if (e.options or {}).get("dryrun"):
        # The id as sent (the inbox keeps dry runs under their own key), and the report.
        summary["id"] = e.event_id.removeprefix(DRYRUN_PREFIX)
        session = object_session(e)
        summary["dryrun"] = (
            session.execute(
                select(DryRunReport.report).where(DryRunReport.event_id == e.id)
            ).scalar_one_or_none()
            if session is not None
            else None
        )
    return summary


def _event_fields(e: ReceivedEvent) -> dict[str, Any]:
    return {
        "receipt": str(e.receipt),
        "source": e.source,
        "id": e.event_id,
        "type": e.type,
        "status": e.status.value,
        "outcome": e.outcome,
        "correlation_id": e.correlation_id,
        "received_at": _iso(e.received_at),
        "handled_at": _iso(e.handled_at),
        "attempts": e.attempts,
        "next_attempt_at": _iso(e.next_attempt_at),
    }
