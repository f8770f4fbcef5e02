"""What the status API, the CLI and the dashboard say about a work: one function, one shape.

Scoped by owner: a client's read (``owner`` = its id) sees only its own works and its own
events; the operator's views pass ``owner=None`` and see everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from worker.events.repository import recent_events_of_work
from worker.models import ReceivedEvent, Work
from worker.works.service import get_work


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
    from worker.registrars.status import describe

    reg = work.registration
    if reg is None:
        return {"doi": work.doi, "state": "external", "registrar": "none"} if work.doi else None
    return describe(reg)


def _placement(p: Any) -> dict[str, Any]:
    return {
        "orcid": p.orcid,
        "client_id": p.client_id or None,  # none yet: the researcher has not authorised
        "state": p.state.value,
        "put_code": p.put_code,
        "visibility": p.visibility,
        "last_error": p.last_error,
        "attempts": p.attempts,
        "placed_at": _iso(p.placed_at),
        "updated_at": _iso(p.updated_at),
    }


def _events(session: Session, work: Work, owner: str | None) -> list[dict[str, Any]]:
    events = recent_events_of_work(session, work.id, limit=20, client_id=owner)
    return [event_summary(e) for e in events]


def event_summary(e: ReceivedEvent) -> dict[str, Any]:
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
