"""Problems: what failed or is stuck, grouped by the reason recorded (the agency's own words
where it gave them; the DOI, ORCID iD and try count in it replaced, so one cause is one group),
and what an operator does about them: retry one or every item of a group, release a DOI held
as a likely duplicate, or discard an item with a note.

Every action is written to ``ops_actions`` (who, when, what, the note, what came of it) in the
same transaction as its effect: an action that did not happen is not recorded, and one that
happened always is.

Stale means waiting for its next step longer than ``PIDSYNC_DASHBOARD_STALE_AFTER_SECONDS``:
an event not handled, a DOI change the agency has not confirmed, a placement not written.
A discarded item leaves the list until it changes again (fails anew after a retry).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, Text, cast, exists, func, literal, select, union_all
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.models import (
    DoiRegistration,
    DoiState,
    EventStatus,
    OpsAction,
    OpsActionKind,
    OrcidPlacement,
    PlacementState,
    ReceivedEvent,
    Work,
)
from worker.ops import retry as retrying
from worker.registrars import service as registrars

#: Characters of an error's first line that name its group (and select it for "retry all").
REASON_CHARS = 160
HELD = "on hold: a likely duplicate DOI (release it if it is none)"
UNHANDLED = "not handled yet"
UNCONFIRMED = "not confirmed by the agency yet"
UNWRITTEN = "not written to ORCID yet"


class ActionRefused(ValueError):
    """The action cannot be done as asked (nothing to act on, a note missing); says why."""


#: What differs between two failures of one cause, replaced in the group's name: the DOI, the
#: ORCID iD, the count of tries ("try 3", "attempt 2").
_VARYING = (
    (r"10\.\d{4,9}/\S+", "<DOI>", "g"),
    (r"\d{4}-\d{4}-\d{4}-\d{3}[\dX]", "<ORCID iD>", "g"),
    (r"\m(try|tries|attempt|attempts) \d+", "\\1 N", "gi"),
)


def _key(text: Any) -> Any:
    """The group of an error: its first line with what varies per row replaced, cut short."""
    key = func.split_part(func.coalesce(text, ""), "\n", 1)
    for pattern, replacement, flags in _VARYING:
        key = func.regexp_replace(key, pattern, replacement, flags)
    return func.left(key, REASON_CHARS)


def _discarded(kind: str, row_id: Any, changed_at: Any) -> Any:
    return ~exists().where(
        OpsAction.action == OpsActionKind.DISCARD,
        OpsAction.target_kind == kind,
        OpsAction.target_id == row_id,
        OpsAction.created_at >= changed_at,
    )


def _union(cutoff: datetime) -> Any:
    """Every problem as (kind, row_id, state, reason, since, work_id, stale)."""

    def row(
        kind: str, table: Any, state: Any, reason: Any, since: Any, work: Any, stale: bool
    ) -> Any:
        return select(
            literal(kind, String).label("kind"),
            table.id.label("row_id"),
            cast(state, String).label("state"),
            cast(reason, Text).label("reason"),
            since.label("since"),
            work.label("work_id"),
            literal(stale).label("stale"),
        )

    e, r, p = ReceivedEvent, DoiRegistration, OrcidPlacement
    changed_event = func.coalesce(e.handled_at, e.received_at)
    return union_all(
        row("event", e, e.status, _key(e.outcome), changed_event, e.work_id, stale=False).where(
            e.status == EventStatus.FAILED, _discarded("event", e.id, changed_event)
        ),
        row("event", e, e.status, literal(UNHANDLED), e.received_at, e.work_id, stale=True).where(
            e.status == EventStatus.RECEIVED,
            e.received_at < cutoff,
            e.enqueued_at < cutoff,  # sent again lately (a retry, the sweep): give it time
            _discarded("event", e.id, changed_event),
        ),
        row("doi", r, r.state, _key(r.last_error), r.updated_at, r.work_id, stale=False).where(
            r.state == DoiState.FAILED, _discarded("doi", r.id, r.updated_at)
        ),
        row("doi", r, r.state, literal(HELD), r.updated_at, r.work_id, stale=False).where(
            r.state == DoiState.ON_HOLD, _discarded("doi", r.id, r.updated_at)
        ),
        row(
            "doi",
            r,
            r.state,
            func.coalesce(_key(r.last_error), UNCONFIRMED),
            r.pending_since,
            r.work_id,
            stale=True,
        ).where(
            r.pending_hash.isnot(None),
            r.state.notin_((DoiState.FAILED, DoiState.ON_HOLD)),
            r.pending_since < cutoff,
            _discarded("doi", r.id, r.updated_at),
        ),
        row(
            "placement", p, p.state, _key(p.last_error), p.updated_at, p.work_id, stale=False
        ).where(p.state == PlacementState.FAILED, _discarded("placement", p.id, p.updated_at)),
        row(
            "placement",
            p,
            p.state,
            func.coalesce(_key(p.last_error), UNWRITTEN),
            p.created_at,
            p.work_id,
            stale=True,
        ).where(
            p.state == PlacementState.PENDING,
            p.created_at < cutoff,
            func.coalesce(p.enqueued_at, p.created_at) < cutoff,
            _discarded("placement", p.id, p.updated_at),
        ),
    ).subquery("problems")


def _empty_reason(reason: str) -> str:
    return reason or "(no reason recorded)"


def groups(
    session: Session,
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Problems grouped by reason, the largest group first: count, kinds, oldest, stale."""
    now = now or utcnow()
    u = _union(now - timedelta(seconds=settings.dashboard.stale_after_seconds))
    rows = session.execute(
        select(
            u.c.reason,
            func.count(),
            func.min(u.c.since),
            func.array_agg(func.distinct(u.c.kind)),
            func.bool_or(u.c.stale),
        )
        .group_by(u.c.reason)
        .order_by(func.count().desc(), u.c.reason)
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        {
            "reason": reason,
            "label": _empty_reason(reason),
            "count": count,
            "oldest": oldest.isoformat() if oldest else None,
            "kinds": sorted(kinds),
            "stale": bool(stale),
        }
        for reason, count, oldest, kinds, stale in rows
    ]


def items(
    session: Session,
    settings: Settings,
    reason: str | None = None,
    *,
    now: datetime | None = None,
    limit: int | None = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The problems of one reason (every problem when None), oldest first, with their work."""
    now = now or utcnow()
    u = _union(now - timedelta(seconds=settings.dashboard.stale_after_seconds))
    query = select(u, Work.source, Work.external_id, Work.client_id, Work.title).outerjoin(
        Work, Work.id == u.c.work_id
    )
    if reason is not None:
        query = query.where(u.c.reason == reason)
    rows = session.execute(
        query.order_by(u.c.since, u.c.kind, u.c.row_id).limit(limit).offset(offset)
    ).all()
    return [
        {
            "kind": r.kind,
            "row_id": r.row_id,
            "state": r.state,
            "reason": _empty_reason(r.reason),
            "since": r.since.isoformat() if r.since else None,
            "stale": r.stale,
            "work": {
                "work_id": r.work_id,
                "source": r.source,
                "id": r.external_id,
                "tenant": r.client_id,
                "title": r.title,
            },
        }
        for r in rows
    ]


# --- actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    action: OpsAction
    summary: str


def _record(
    session: Session,
    actor: str,
    action: OpsActionKind,
    *,
    kind: str | None = None,
    row_id: int | None = None,
    reason: str | None = None,
    note: str | None = None,
    result: dict[str, Any] | None = None,
) -> OpsAction:
    entry = OpsAction(
        actor=actor,
        action=action,
        target_kind=kind,
        target_id=row_id,
        reason=reason,
        note=note,
        result=result or {},
    )
    session.add(entry)
    session.flush()
    return entry


def retry_one(session: Session, settings: Settings, actor: str, kind: str, row_id: int) -> Done:
    try:
        report = retrying.retry_row(session, settings, kind, row_id)
    except LookupError as exc:
        raise ActionRefused(str(exc)) from None
    item = report.items[0]
    entry = _record(
        session,
        actor,
        OpsActionKind.RETRY,
        kind=kind,
        row_id=row_id,
        result={
            "action": item.action.value,
            "correlation_id": report.correlation_id,
            **({"skipped": item.detail["reason"]} if "reason" in item.detail else {}),
        },
    )
    return Done(entry, f"{kind} {row_id}: {item.action.value.replace('_', ' ')}")


def retry_reason(session: Session, settings: Settings, actor: str, reason: str) -> Done:
    """Retry every item listed under ``reason`` (a group of the problems list), one by one as
    "retry" would: what cannot be retried (a DOI on hold: release it) is counted as skipped."""
    if not reason.strip():
        raise ActionRefused("say which reason: the group's name as the problems list shows it")
    chosen = [(i["kind"], i["row_id"]) for i in items(session, settings, reason, limit=None)]
    if not chosen:
        raise ActionRefused(f"nothing is listed under {reason!r} (any more)")
    retried, skipped = 0, 0
    for kind, row_id in chosen:
        try:
            with session.begin_nested():  # a row that cannot be retried changes nothing
                report = retrying.retry_row(session, settings, kind, row_id)
            retried += report.items[0].action != retrying.Action.SKIPPED
            skipped += report.items[0].action == retrying.Action.SKIPPED
        except LookupError:
            skipped += 1
    entry = _record(
        session,
        actor,
        OpsActionKind.RETRY_REASON,
        reason=reason,
        result={"retried": retried, "skipped": skipped},
    )
    return Done(entry, f"{retried} retried, {skipped} skipped")


def release_hold(session: Session, settings: Settings, actor: str, reg_id: int) -> Done:
    reg = session.get(DoiRegistration, reg_id)
    if reg is None or reg.state != DoiState.ON_HOLD:
        raise ActionRefused(f"no DOI registration {reg_id} on hold")
    try:
        registrars.release(session, reg.work.source, reg.work.external_id, settings=settings)
    except (registrars.ReleaseRefused, LookupError) as exc:
        raise ActionRefused(str(exc)) from None
    entry = _record(
        session,
        actor,
        OpsActionKind.RELEASE_HOLD,
        kind="doi",
        row_id=reg_id,
        result={"doi": reg.doi},
    )
    return Done(entry, f"DOI {reg.doi} released")


_TABLES: dict[str, Any] = {
    "event": ReceivedEvent,
    "doi": DoiRegistration,
    "placement": OrcidPlacement,
}


def discard(session: Session, actor: str, kind: str, row_id: int, note: str) -> Done:
    """Set a problem aside (the row stays as it is: this only records that a person looked)."""
    if not note.strip():
        raise ActionRefused("say why in a note: a discarded problem is gone from the list")
    table = _TABLES.get(kind)
    if table is None:
        raise ActionRefused(f"unknown kind {kind!r}: expected one of {', '.join(_TABLES)}")
    if session.get(table, row_id) is None:
        raise ActionRefused(f"no {kind} {row_id}")
    entry = _record(
        session, actor, OpsActionKind.DISCARD, kind=kind, row_id=row_id, note=note.strip()
    )
    return Done(entry, f"{kind} {row_id} discarded")


def recent_actions(session: Session, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    rows = session.execute(
        select(OpsAction).order_by(OpsAction.id.desc()).limit(limit).offset(offset)
    ).scalars()
    return [
        {
            "id": a.id,
            "at": a.created_at.isoformat(),
            "actor": a.actor,
            "action": a.action.value,
            "target": f"{a.target_kind} {a.target_id}" if a.target_kind else None,
            "reason": a.reason,
            "note": a.note,
            "result": a.result,
        }
        for a in rows
    ]
