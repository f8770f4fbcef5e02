"""What pidsync would add, update and remove on one ORCID record, with nothing written
(issue 15: ``pidsync orcid preview`` and ``GET /researchers/{orcid}/preview``).

The preview is computed from the database and ONE read of the record (``GET /record``: every
section's summaries at once), with the researcher's own grant when there is one (it sees
limited and private items), else through the public API. It decides each item the way the
placement service would (:func:`worker.orcid.placements.place`): the same rendering, the same
digests, the same DOI gate and version-family roles; so a real run afterwards does what the
preview said.

**Sections plug in as planners.** Each section of the record (works here; affiliations,
fundings and peer reviews in :mod:`worker.orcid.sections.plan`) is a :class:`SectionPlanner`:
an object with a ``section`` name and ``plan(context) -> SectionPlan``. The context carries
the session, the settings, the researcher's iD, the tenant (None: every tenant's items) and
the record as read (None when it was not read: a dry run plans from the database alone).
Add a planner to :data:`PLANNERS` and its section appears in every preview, CLI and API alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import select

from worker.errors import TransientError, error_text
from worker.metadata.errors import MetadataError, WorkValidationError
from worker.models import (
    OrcidGrant,
    OrcidItem,
    OrcidPlacement,
    PlacementState,
    Researcher,
    Work,
)
from worker.orcid import family, repository
from worker.orcid import payload as render
from worker.orcid.client import OrcidError, WorkSummary, parse_summaries
from worker.orcid.grants import access_token, can_write
from worker.orcid.placements import KEPT, doi_wait, find_ours
from worker.orcid.plans import (
    ADD,
    REMOVE,
    UPDATE,
    Change,
    PlanContext,
    SectionPlan,
    SectionPlanner,
)
from worker.orcid.sections.plan import ITEM_PLANNERS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from worker.config import Settings
    from worker.orcid.deps import OrcidDeps

__all__ = [
    "ADD",
    "PLANNERS",
    "REMOVE",
    "UPDATE",
    "Change",
    "PlanContext",
    "Preview",
    "RecordUnreadable",
    "SectionPlan",
    "SectionPlanner",
    "UnknownResearcher",
    "plan_placement",
    "preview",
]


class UnknownResearcher(LookupError):
    """Nothing of the tenant's names this iD: there is nothing to preview (a 404)."""


class RecordUnreadable(RuntimeError):
    """ORCID could not be read (down, refused the token): no preview without the record."""


@dataclass
class Preview:
    orcid: str
    tenant: str | None
    read_as: str  # "member" (the researcher's grant) or "public"
    sections: dict[str, SectionPlan]

    def as_dict(self) -> dict[str, Any]:
        return {
            "orcid": self.orcid,
            "tenant": self.tenant,
            "record_read_as": self.read_as,
            "written": False,
            "sections": {name: plan.as_dict() for name, plan in self.sections.items()},
        }


# --- works ---------------------------------------------------------------------------------


def work_item(work: Work) -> dict[str, Any]:
    return {"source": work.source, "id": work.external_id}


def record_works(record: dict[str, Any] | None) -> list[WorkSummary] | None:
    if record is None:
        return None
    works = (record.get("activities-summary") or {}).get("works") or {}
    return parse_summaries(works)


def plan_placement(
    session: Session,
    settings: Settings,
    row: OrcidPlacement,
    on_record: list[WorkSummary] | None,
) -> tuple[str, Change | None]:
    """What placing ``row`` would do: ("change", ...), ("waiting", ...), ("unchanged", None)
    or ("kept", None) (the researcher's choices, and nothing to do). Mirrors
    :func:`worker.orcid.placements.place` without calling anything."""
    work = row.work
    item = work_item(work)
    if row.state in KEPT or row.state in (PlacementState.FAILED, PlacementState.SKIPPED):
        return "kept", None
    role = family.role_of(session, settings, row)
    present = (
        work.withdrawn_at is None
        and row.orcid in render.contributor_orcids(work)
        and role.kind != family.Kind.FOLDED
    )
    holds = row.put_code is not None or row.in_doubt
    codes = {s.put_code for s in on_record} if on_record is not None else None
    if not present:
        if not holds or (codes is not None and row.put_code not in codes and not row.in_doubt):
            return "kept", None  # nothing (left) on the record
        return "change", Change(REMOVE, item, work.title, row.put_code)
    client_id = row.client_id
    if client_id is None:
        grant = repository.write_grant_for(session, row.orcid, row.owner)
        client_id = grant.client_id if grant is not None else None
    grant = repository.active_grant(session, row.orcid, client_id) if client_id else None
    if grant is None or not can_write(grant):  # as place() finds no usable grant
        return "waiting", Change(
            ADD if not holds else UPDATE,
            item,
            work.title,
            row.put_code,
            "waiting for the researcher's consent",
        )
    wait = doi_wait(settings, row)
    if wait == PlacementState.AWAITING_DOI:
        return "waiting", Change(ADD, item, work.title, None, "waiting for its DOI")
    if wait == PlacementState.SKIPPED:
        return "kept", None
    try:
        carrier = role.kind == family.Kind.CARRIER
        body = family.body(row, role) if carrier else render.orcid_work(work)
    except (MetadataError, WorkValidationError) as exc:
        return "waiting", Change(ADD, item, work.title, row.put_code, f"cannot render: {exc}")
    digest = render.digest(body)
    if row.put_code is None:
        found = (
            find_ours(on_record, client_id, render.payload_self_ids(body))
            if on_record is not None
            else None
        )
        if found is not None:  # already there (an earlier answer was lost): adopted, updated
            return "change", Change(UPDATE, item, work.title, found.put_code, "adopted")
        return "change", Change(ADD, item, work.title)
    if codes is not None and row.put_code not in codes:
        return "kept", None  # the researcher deleted it: never added again unless asked
    if row.confirmed_hash == digest and not row.in_doubt:
        return "unchanged", None
    return "change", Change(UPDATE, item, work.title, row.put_code)


class WorksPlanner:
    """The works section: every placement of the tenant's works on the record, and works that
    name the researcher without a placement yet."""

    section: ClassVar[str] = "works"

    def plan(self, context: PlanContext) -> SectionPlan:
        session, orcid = context.session, context.orcid
        query = select(OrcidPlacement).where(OrcidPlacement.orcid == orcid)
        if context.tenant is not None:
            query = query.where(OrcidPlacement.owner == context.tenant)
        rows = list(session.execute(query.order_by(OrcidPlacement.id)).scalars())
        # Works naming the researcher without a placement yet, as the grant path would
        # create one (never added to the session).
        rows.extend(
            OrcidPlacement(work=work, orcid=orcid, owner=work.client_id)
            for work in repository.unplaced_works_naming(session, orcid)
            if context.tenant is None or work.client_id == context.tenant
        )
        on_record = record_works(context.record)
        plan = SectionPlan()
        for row in rows:
            kind, change = plan_placement(session, context.settings, row, on_record)
            if kind == "change" and change is not None:
                plan.changes.append(change)
            elif kind == "waiting" and change is not None:
                plan.waiting.append(change)
            elif kind == "unchanged":
                plan.unchanged += 1
        return plan


#: Every section a preview covers: works, then affiliations, fundings and peer reviews (one
#: planner per kind descriptor, :mod:`worker.orcid.sections.plan`).
PLANNERS: list[SectionPlanner] = [WorksPlanner(), *ITEM_PLANNERS]


# --- the preview ---------------------------------------------------------------------------


def known(session: Session, orcid: str, tenant: str | None) -> bool:
    """Whether anything of the tenant's names this iD: a placement, a work, an affiliation,
    funding or review item, or a grant."""
    placed = select(OrcidPlacement.id).where(OrcidPlacement.orcid == orcid)
    items = select(OrcidItem.id).where(OrcidItem.orcid == orcid)
    naming = select(Work.id).where(
        Work.work_metadata.contains({"contributors": [{"orcid": orcid}]})
    )
    granted = (
        select(OrcidGrant.id)
        .join(Researcher, OrcidGrant.researcher_id == Researcher.id)
        .where(Researcher.orcid == orcid)
    )
    if tenant is not None:
        placed = placed.where(OrcidPlacement.owner == tenant)
        items = items.where(OrcidItem.owner == tenant)
        naming = naming.where(Work.client_id == tenant)
        granted = granted.where(OrcidGrant.owner == tenant)
    return any(
        session.execute(q.limit(1)).first() is not None for q in (placed, items, naming, granted)
    )


def read_record(
    session: Session, deps: OrcidDeps, orcid: str, tenant: str | None
) -> tuple[str, dict[str, Any]]:
    """The one read: with the researcher's grant (the tenant's own, or their consent) when one
    can read, else the public API."""
    grant = repository.write_grant_for(session, orcid, tenant)
    try:
        if grant is not None and can_write(grant):
            token = access_token(deps.cipher, grant)
            return "member", deps.member(grant.client_id).record(orcid, token)
        return "public", deps.public().record(orcid)
    except (OrcidError, TransientError) as exc:
        raise RecordUnreadable(error_text(exc, deps.settings.error_text_chars)) from exc


def preview(session: Session, deps: OrcidDeps, orcid: str, tenant: str | None) -> Preview:
    """What pidsync would write on ``orcid``'s record for ``tenant`` (None: every tenant).
    Raises UnknownResearcher when nothing of the tenant's names the iD (ORCID is not read),
    RecordUnreadable when ORCID cannot be read. Writes nothing (the caller rolls back)."""
    if not known(session, orcid, tenant):
        raise UnknownResearcher(orcid)
    read_as, record = read_record(session, deps, orcid, tenant)
    context = PlanContext(session, deps.settings, orcid, tenant, record)
    with session.no_autoflush:
        sections = {planner.section: planner.plan(context) for planner in PLANNERS}
    return Preview(orcid, tenant, read_as, sections)
