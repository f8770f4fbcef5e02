"""Works as an operator finds them: search by id, DOI, ORCID iD or tenant, and one work's
whole life on a timeline (its events, its DOI and Crossref diagnostics, each ORCID placement,
every outbound call with its status and latency, and what operators did to it).

Ops is cross-tenant: nothing here is scoped to an intake client (the signed client APIs are,
in worker.ops.status with ``owner``).

A work is named, on the command line and in the dashboard's search, by any of:
- an event's receipt (the UUID the intake answered): the work that event created or changed;
- ``SOURCE ID``: the CloudEvent source and the work's id, separated by a space;
- a DOI in any common form (``10.x/y``, ``doi:``, ``https://doi.org/...``);
- an ORCID iD (search only: a researcher has many works).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from worker.logging import redact_text
from worker.models import (
    ApiCall,
    CrossrefDepositRecord,
    DoiRegistration,
    DoiState,
    EventStatus,
    OpsAction,
    OrcidPlacement,
    PlacementState,
    ReceivedEvent,
    Work,
)
from worker.ops.status import work_status
from worker.pids.identifiers import InvalidIdentifier, normalize_doi, normalize_orcid

#: Calls shown on one timeline (newest first): a work retried for days makes many.
TIMELINE_CALLS = 200


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    offset: int
    limit: int
    more: bool  # another page follows (one row past the limit was found)

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "offset": self.offset, "limit": self.limit, "more": self.more}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _doi_of(text: str) -> str | None:
    try:
        return normalize_doi(text)
    except InvalidIdentifier:
        return None


def _orcid_of(text: str) -> str | None:
    try:
        return normalize_orcid(text)
    except InvalidIdentifier:
        return None


def _receipt_of(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _matching(query: str) -> Any:
    """The condition on Work (joined to its registration) that ``query`` names."""
    text = query.strip()
    if (receipt := _receipt_of(text)) is not None:
        return Work.id.in_(select(ReceivedEvent.work_id).where(ReceivedEvent.receipt == receipt))
    if (doi := _doi_of(text)) is not None:
        # Two indexed lookups (an OR across the outer join would scan both tables).
        registered = select(DoiRegistration.work_id).where(DoiRegistration.doi == doi)
        return Work.id.in_(registered.union(select(Work.id).where(Work.doi == doi)))
    if (orcid := _orcid_of(text)) is not None:
        return Work.id.in_(select(OrcidPlacement.work_id).where(OrcidPlacement.orcid == orcid))
    source, _, external_id = text.rpartition(" ")
    if source.strip():
        return and_(Work.source == source.strip(), Work.external_id == external_id)
    return Work.external_id == text


STATES = ("failed", "pending", "stale", "held")


def _state_filter(query: Any, state: str, stale_before: datetime) -> Any:
    """failed: the DOI, a placement or an event failed; pending: something still to do;
    stale: something still to do, waiting since before ``stale_before``; held: the DOI is
    on hold as a likely duplicate."""
    if state == "held":
        return query.where(DoiRegistration.state == DoiState.ON_HOLD)
    if state == "failed":
        return query.where(
            or_(
                DoiRegistration.state == DoiState.FAILED,
                exists().where(
                    OrcidPlacement.work_id == Work.id,
                    OrcidPlacement.state == PlacementState.FAILED,
                ),
                exists().where(
                    ReceivedEvent.work_id == Work.id, ReceivedEvent.status == EventStatus.FAILED
                ),
            )
        )
    waiting_doi: Any = DoiRegistration.pending_hash.isnot(None) & DoiRegistration.state.notin_(
        (DoiState.FAILED, DoiState.ON_HOLD)
    )
    waiting_placement: Any = OrcidPlacement.state.in_(
        (PlacementState.PENDING, PlacementState.AWAITING_DOI)
    )
    if state == "stale":
        waiting_doi = waiting_doi & (DoiRegistration.pending_since < stale_before)
        waiting_placement = (
            waiting_placement
            & (OrcidPlacement.created_at < stale_before)
            & (or_(OrcidPlacement.enqueued_at.is_(None), OrcidPlacement.enqueued_at < stale_before))
        )
    return query.where(
        or_(waiting_doi, exists().where(OrcidPlacement.work_id == Work.id, waiting_placement))
    )


def search(
    session: Session,
    *,
    query: str | None = None,
    tenant: str | None = None,
    state: str | None = None,
    stale_before: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Works newest first, narrowed by a search text, a tenant (intake client) and a state."""
    if state is not None and state not in STATES:
        raise ValueError(f"unknown state {state!r}: expected one of {', '.join(STATES)}")
    if state == "stale" and stale_before is None:
        raise ValueError("a stale search needs stale_before")
    chosen = select(Work, DoiRegistration).outerjoin(
        DoiRegistration, DoiRegistration.work_id == Work.id
    )
    if query and query.strip():
        chosen = chosen.where(_matching(query))
    if tenant:
        chosen = chosen.where(Work.client_id == tenant)
    if state is not None:
        chosen = _state_filter(chosen, state, stale_before or datetime.max.replace(tzinfo=UTC))
    chosen = chosen.options(selectinload(Work.placements))  # one query for the page's rows
    rows = session.execute(chosen.order_by(Work.id.desc()).limit(limit + 1).offset(offset)).all()
    return Page([_row(w, r) for w, r in rows[:limit]], offset, limit, len(rows) > limit)


def _row(work: Work, reg: DoiRegistration | None) -> dict[str, Any]:
    return {
        "work_id": work.id,
        "source": work.source,
        "id": work.external_id,
        "title": work.title,
        "tenant": work.client_id,
        "doi": reg.doi if reg is not None else work.doi,
        "doi_state": reg.state.value if reg is not None else None,
        "doi_error": reg.last_error if reg is not None else None,
        "placements": dict(Counter(p.state.value for p in work.placements)),
        "withdrawn": work.withdrawn_at is not None,
        "updated_at": _iso(work.updated_at),
    }


class AmbiguousWork(LookupError):
    """The name matches more than one work (an ORCID iD, a bare id used by two sources)."""


def find(session: Session, name: str) -> Work | None:
    """The one work ``name`` names (receipt, ``SOURCE ID`` or DOI); None if none does."""
    rows = list(
        session.execute(
            select(Work)
            .outerjoin(DoiRegistration, DoiRegistration.work_id == Work.id)
            .where(_matching(name))
            .limit(2)
        ).scalars()
    )
    if len(rows) > 1:
        raise AmbiguousWork(f"{name!r} names more than one work: give SOURCE ID or a DOI")
    return rows[0] if rows else None


def timeline(session: Session, work: Work) -> dict[str, Any]:
    """The work's status and every dated thing that happened to it, newest first."""
    status = work_status(session, work.source, work.external_id) or {}
    entries: list[dict[str, Any]] = []
    events = session.execute(
        select(ReceivedEvent).where(ReceivedEvent.work_id == work.id).order_by(ReceivedEvent.id)
    ).scalars()
    for e in events:
        entries.append(
            _entry(
                e.received_at,
                "event",
                f"{e.type} received",
                e.status.value,
                {"receipt": str(e.receipt), "id": e.event_id, "client": e.client_id},
            )
        )
        if e.handled_at is not None:
            entries.append(
                _entry(
                    e.handled_at,
                    "event",
                    f"{e.type} {e.status.value}",
                    e.status.value,
                    {"outcome": e.outcome, "attempts": e.attempts},
                )
            )
    reg = work.registration
    if reg is not None:
        entries.extend(_registration(session, reg))
    for p in work.placements:
        entries.append(
            _entry(
                p.created_at,
                "placement",
                f"ORCID {p.orcid} queued",
                "pending",
                {"client_id": p.client_id},
            )
        )
        entries.append(
            _entry(
                p.updated_at,
                "placement",
                f"ORCID {p.orcid}: {p.state.value}",
                p.state.value,
                {"put_code": p.put_code, "error": p.last_error, "attempts": p.attempts},
            )
        )
    calls = session.execute(
        select(ApiCall)
        .where(ApiCall.work_id == work.id)
        .order_by(ApiCall.id.desc())
        .limit(TIMELINE_CALLS)
    ).scalars()
    for c in calls:
        ok = c.status is not None and c.status < 400
        entries.append(
            _entry(
                c.created_at,
                "call",
                f"{c.service} {c.method} {redact_text(c.url)}",
                "ok" if ok else "error",
                {
                    "status": c.status,
                    "latency_ms": c.latency_ms,
                    "error": c.error,
                    "excerpt": c.excerpt,
                },
            )
        )
    entries.extend(
        _entry(
            a.created_at,
            "operator",
            f"{a.action.value} by {a.actor}",
            a.action.value,
            {"note": a.note, "result": a.result},
        )
        for a in _actions(session, work, reg)
    )
    entries.sort(key=lambda item: item["at"] or "", reverse=True)
    return {
        "work": {"work_id": work.id, "tenant": work.client_id, **status},
        "timeline": entries,
    }


def _entry(
    at: datetime | None, kind: str, what: str, state: str, detail: dict[str, Any]
) -> dict[str, Any]:
    return {"at": _iso(at), "kind": kind, "what": what, "state": state, "detail": detail}


def _registration(session: Session, reg: DoiRegistration) -> list[dict[str, Any]]:
    out = [
        _entry(
            reg.created_at,
            "doi",
            f"DOI {reg.doi} reserved at {reg.registrar.value}",
            "reserved",
            {"account": reg.account},
        ),
        _entry(
            reg.updated_at,
            "doi",
            f"DOI {reg.doi}: {reg.state.value}",
            reg.state.value,
            {
                "error": reg.last_error,
                "errors": reg.error_details,
                "warning": reg.warning,
                "hold": reg.hold,
                "attempts": reg.attempts,
            },
        ),
    ]
    if reg.registered_at is not None:
        out.append(_entry(reg.registered_at, "doi", f"DOI {reg.doi} registered", "registered", {}))
    records = session.execute(
        select(CrossrefDepositRecord)
        .where(CrossrefDepositRecord.registration_id == reg.id)
        .order_by(CrossrefDepositRecord.id)
    ).scalars()
    for r in records:
        d = r.deposit
        outcome = r.status.value if r.status is not None else d.status.value
        out.append(
            _entry(
                d.completed_at or d.submitted_at or d.created_at,
                "deposit",
                f"Crossref deposit {d.file_name}: {outcome}",
                outcome,
                {
                    "deposit_id": d.id,
                    "batch": d.doi_batch_id,
                    "intent": r.intent.value,
                    "diagnostic": r.message,
                    "submission_id": d.submission_id,
                    "stale": d.stale,
                    "error": d.last_error,
                },
            )
        )
    return out


def _actions(session: Session, work: Work, reg: DoiRegistration | None) -> list[OpsAction]:
    targets = [
        and_(
            OpsAction.target_kind == "placement",
            OpsAction.target_id.in_([p.id for p in work.placements]),
        )
    ]
    if reg is not None:
        targets.append(and_(OpsAction.target_kind == "doi", OpsAction.target_id == reg.id))
    event_ids = select(ReceivedEvent.id).where(ReceivedEvent.work_id == work.id)
    targets.append(and_(OpsAction.target_kind == "event", OpsAction.target_id.in_(event_ids)))
    return list(
        session.execute(select(OpsAction).where(or_(*targets)).order_by(OpsAction.id)).scalars()
    )
