"""Dry runs (issue 15): an event carrying the CloudEvent extension ``"dryrun": "true"`` is
processed to the end (the Work applied, its DOI reserved, its placements decided) inside a
savepoint; what would happen is read off that state, then the savepoint is rolled back and
the messages it queued are forgotten. So no call that changes anything is ever made at an
agency or at ORCID, and nothing the dry run computed (a reserved DOI, a stored version, a
placement row) remains to block or alter a real run: the report lives on its own
(:class:`~worker.models.DryRunReport`) and only the status API reads it. The inbox keeps the
dry run under its own id (``dryrun:<id>``), so the real event may reuse the id.

An affiliation, funding or peer review event is reported the same way: the item as stored,
and for each researcher's ORCID item what its placement would do (add, update, remove, wait),
with the journal group ids a review would first register. Group ids are registered by the
placement (an actor), never by the event's handler, so a dry run registers none.

What a real run then does is what the report says, with one exception said in it: a DOI that
pidsync mints (the Work carries none) is drawn again by the real run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import select

from worker.db import discard_messages, pending_messages
from worker.models import (
    DoiRegistration,
    DryRunReport,
    EventStatus,
    OrcidAssertion,
    OrcidPlacement,
    Work,
)
from worker.orcid import repository as orcid_repository
from worker.orcid.plans import Change
from worker.orcid.preview import plan_placement
from worker.orcid.sections import plan as item_plan
from worker.orcid.sections import repository as items

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from worker.config import Settings


class Outcome(Protocol):
    status: EventStatus
    message: str
    work_id: int | None
    assertion_id: int | None


T = TypeVar("T", bound=Outcome)


def rehearse(
    session: Session, settings: Settings, run: Callable[[], T]
) -> tuple[T, dict[str, Any]]:
    """Run ``run`` (the event's handler) in a savepoint, report what it would do, undo it."""
    keep = len(pending_messages(session))
    savepoint = session.begin_nested()
    try:
        outcome = run()
        report = predict(session, settings, outcome)
    finally:
        savepoint.rollback()
        discard_messages(session, keep)
    return outcome, report


def keep_report(session: Session, event_id: int, report: dict[str, Any]) -> None:
    """Store the report; a dry run processed again (an operator's retry) replaces its own."""
    row = session.execute(
        select(DryRunReport).where(DryRunReport.event_id == event_id)
    ).scalar_one_or_none()
    if row is None:
        session.add(DryRunReport(event_id=event_id, report=report))
    else:
        row.report = report


def predict(session: Session, settings: Settings, outcome: Outcome) -> dict[str, Any]:
    report: dict[str, Any] = {
        "dryrun": True,
        "written": False,
        "status": outcome.status.value,
        "outcome": outcome.message,
    }
    if outcome.assertion_id is not None:
        session.flush()
        report.update(_item_report(session, settings, outcome.assertion_id))
        return report
    work = session.get(Work, outcome.work_id) if outcome.work_id else None
    if work is None:
        return report
    session.flush()
    report["work"] = {"source": work.source, "id": work.external_id}
    if work.registration is not None:
        report["doi"] = _doi(work.registration)
    report["orcid"] = [
        _placement(session, settings, row, work) for row in _placements(session, work)
    ]
    return report


def _doi(reg: DoiRegistration) -> dict[str, Any]:
    if reg.pending_hash is None:
        action = "unchanged"
    elif reg.confirmed_hash is None and reg.registered_at is None:
        action = "register"
    else:
        action = "update"
    found: dict[str, Any] = {
        "doi": reg.doi,
        "registrar": reg.registrar.value,
        "account": reg.account,
        "action": action,
        "state": reg.target_state.value,
    }
    if reg.minted:
        found["note"] = "minted for this dry run: the real run draws its own DOI"
    if reg.duplicate_check is not None:
        found["duplicate_check"] = reg.duplicate_check.value
    return found


def _placements(session: Session, work: Work) -> list[OrcidPlacement]:
    """The work's placements, and its version family's (whose carrier may change)."""
    if work.family is not None:
        return orcid_repository.family_placements_for_update(session, work.family, work.client_id)
    return list(
        session.execute(
            select(OrcidPlacement)
            .where(OrcidPlacement.work_id == work.id)
            .order_by(OrcidPlacement.id)
        ).scalars()
    )


def _placement(
    session: Session, settings: Settings, row: OrcidPlacement, work: Work
) -> dict[str, Any]:
    kind, change = plan_placement(session, settings, row, None)
    found: dict[str, Any] = {"orcid": row.orcid}
    if row.work_id != work.id:
        found["work"] = {"source": row.work.source, "id": row.work.external_id}
    if kind == "change" and change is not None:
        found["action"] = change.action
    elif kind == "waiting" and change is not None:
        found["action"] = "waiting"
    else:
        found["action"] = kind  # "unchanged", or "kept" (left as it is)
    if change is not None and change.put_code is not None:
        found["put_code"] = change.put_code
    if change is not None and change.note:
        found["note"] = change.note
    if kind == "kept":
        found["state"] = row.state.value
    return found


def _item_report(session: Session, settings: Settings, assertion_id: int) -> dict[str, Any]:
    """An affiliation, funding or peer review: each researcher's item as its first placement
    would go (from the database alone: the dry run reads nothing at ORCID), and the journal
    group ids a review would have registered first (the dry run registers none)."""
    assertion = session.get(OrcidAssertion, assertion_id)
    if assertion is None:
        return {}
    found: dict[str, Any] = {
        "item": {
            "kind": assertion.kind.value,
            "source": assertion.source,
            "id": assertion.external_id,
        }
    }
    rows: list[dict[str, Any]] = []
    groups: list[str] = []
    for row in items.items_of(session, assertion_id):
        planned = item_plan.plan_item(session, settings, row, None)
        rows.extend(_item_change(row.orcid, planned, change) for change in planned.changes)
        if planned.kind == item_plan.UNCHANGED:
            rows.append({"orcid": row.orcid, "section": row.section, "action": planned.kind})
        elif planned.kind == item_plan.LEFT:  # the researcher's choice, or nothing there
            rows.append({"orcid": row.orcid, "section": row.section, "action": planned.kind,
                         "state": row.state.value})  # fmt: skip
        if planned.kind == item_plan.CHANGE and planned.group_id and planned.group_id not in groups:
            groups.append(planned.group_id)
    found["orcid"] = rows
    if groups:
        found["register_group_ids"] = groups
    return found


def _item_change(orcid: str, planned: item_plan.ItemPlan, change: Change) -> dict[str, Any]:
    found: dict[str, Any] = {
        "orcid": orcid,
        "section": change.item["section"],
        "action": "waiting" if planned.kind == item_plan.WAITING else change.action,
    }
    if change.put_code is not None:
        found["put_code"] = change.put_code
    if change.note:
        found["note"] = change.note
    return found
