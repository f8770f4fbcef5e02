"""What placing affiliations, fundings and peer reviews would do on one record, with nothing
written: the preview's planners for those sections, and the dry run's per-item report.

One planner per kind descriptor (:data:`~worker.orcid.sections.kinds.KINDS`), all over
:func:`plan_item`, which decides one item the way :func:`.placement.place` would (the same
rendering with the owner's organisation, the same digest, the same grant, the same adoption
of a lost answer or of a 409, the same respect for a researcher's deletion) without calling
anything. With the record as read, it sees what is there; without it (a dry run), it plans
from the database alone, as a real run's first attempt would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from worker.metadata.errors import MetadataError
from worker.models import OrcidAssertion, OrcidItem, OrcidItemKind, PlacementState
from worker.orcid import repository as grants
from worker.orcid.grants import can_write
from worker.orcid.plans import ADD, REMOVE, UPDATE, Change, PlanContext, SectionPlan
from worker.orcid.sections import repository
from worker.orcid.sections.client import ItemSummary, parse_summaries
from worker.orcid.sections.kinds import KINDS, Kind, digest, home_organization, source_key
from worker.orcid.sections.service import KEPT

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from worker.config import Settings

#: ``record`` sections as read: ORCID section name -> its items there (None: not read).
OnRecord = dict[str, list[ItemSummary]] | None

CHANGE = "change"
WAITING = "waiting"
UNCHANGED = "unchanged"
LEFT = "kept"  # left as it is: the researcher's choice, another source's, nothing there


@dataclass
class ItemPlan:
    """What placing one item would do: ``kind`` change / waiting / unchanged / kept, the
    changes (two when an affiliation moves section: ORCID has no move), and the group id a
    review would first look up and register (None: known, or nothing written)."""

    kind: str
    changes: list[Change] = field(default_factory=list)
    group_id: str | None = None


def record_items(record: dict[str, Any] | None) -> OnRecord:
    """Every section's items in the one read of the record (``GET /record``)."""
    if record is None:
        return None
    activities = record.get("activities-summary") or {}
    # Keyed by plural (``employments``, ``fundings``, ``peer-reviews``): a section's name is
    # its key without the ``s``, as its summaries are ``<section>-summary``.
    return {
        key.removesuffix("s"): parse_summaries(value, key.removesuffix("s"))
        for key, value in activities.items()
        if key != "works" and isinstance(value, dict)
    }


def item_ref(assertion: OrcidAssertion, section: str) -> dict[str, Any]:
    """What identifies an item for the emitting system, and where on the record it goes."""
    return {"source": assertion.source, "id": assertion.external_id, "section": section}


def _client_id(session: Session, row: OrcidItem) -> str | None:
    """The ORCID client a run would write through, as the placement service (and the healing
    of an item awaiting consent) would settle it; None: no usable grant, it waits."""
    if row.client_id is not None:
        grant = grants.active_grant(session, row.orcid, row.client_id)
        if grant is not None and can_write(grant):
            return row.client_id
        if row.put_code is not None or row.in_doubt:
            return None  # on the record through that client: only its grant may write it
    grant = grants.write_grant_for(session, row.orcid, row.owner)
    return grant.client_id if grant is not None and can_write(grant) else None


def _ours(
    found: list[ItemSummary], client_id: str, wanted: frozenset[tuple[str, str]]
) -> ItemSummary | None:
    for summary in found:
        if summary.source_client_id == client_id and summary.self_ids & wanted:
            return summary
    return None


def plan_item(
    session: Session, settings: Settings, row: OrcidItem, on_record: OnRecord
) -> ItemPlan:
    """What :func:`.placement.place` would do with ``row`` (mirrors it; calls nothing)."""
    assertion = row.assertion
    kind = KINDS[assertion.kind]
    if row.state in (*KEPT, PlacementState.FAILED):
        return ItemPlan(LEFT)
    holds = row.put_code is not None or row.in_doubt
    there = on_record.get(row.section) if on_record is not None else None
    codes = {s.put_code for s in there} if there is not None else None
    try:
        item = kind.read(assertion.data)
    except MetadataError as exc:  # stored data that no longer reads: the run fails it
        return ItemPlan(WAITING, [Change(ADD, item_ref(assertion, row.section), note=str(exc))])
    present = assertion.withdrawn_at is None and row.orcid in kind.orcids(item)
    if not present:
        if not holds or (codes is not None and row.put_code not in codes and not row.in_doubt):
            return ItemPlan(LEFT)  # nothing (left) on the record
        return ItemPlan(
            CHANGE, [Change(REMOVE, item_ref(assertion, row.section), None, row.put_code)]
        )
    section = kind.section(item)
    ref = item_ref(assertion, section)
    client_id = _client_id(session, row)
    if client_id is None:
        waits = Change(
            UPDATE if holds else ADD,
            ref,
            None,
            row.put_code,
            "waiting for the researcher's consent",
        )
        return ItemPlan(WAITING, [waits])
    try:
        body = kind.render(item, assertion.source, home_organization(settings, assertion.client_id))
    except MetadataError as exc:
        note = f"would fail: cannot render the ORCID item: {exc}"
        return ItemPlan(WAITING, [Change(UPDATE if holds else ADD, ref, None, row.put_code, note)])
    group = _group_to_register(session, kind, item)
    moved = holds and section != row.section
    if row.put_code is not None and not moved:
        if codes is not None and row.put_code not in codes:
            return ItemPlan(LEFT)  # the researcher deleted it: never added again unless asked
        if row.confirmed_hash == digest(body):
            return ItemPlan(UNCHANGED)
        return ItemPlan(CHANGE, [Change(UPDATE, ref, None, row.put_code)], group)
    changes: list[Change] = []
    if moved:  # the old item goes, a new one is added in its new section
        old = row.put_code
        if old is None and there is not None:  # a lost answer: the run looks for ours first
            found = _ours(there, client_id, source_key(assertion.source, assertion.external_id))
            old = found.put_code if found is not None else None
        if old is not None and (codes is None or old in codes):
            changes.append(Change(REMOVE, item_ref(assertion, row.section), None, old))
        there = on_record.get(section) if on_record is not None else None
    adopted = _adopted(kind, row, client_id, body, there, moved=moved)
    if adopted is not None:
        changes.append(Change(UPDATE, ref, None, adopted.put_code, "adopted"))
    else:
        changes.append(Change(ADD, ref))
    return ItemPlan(CHANGE, changes, group)


def _adopted(
    kind: Kind,
    row: OrcidItem,
    client_id: str,
    body: dict[str, Any],
    there: list[ItemSummary] | None,
    *,
    moved: bool,
) -> ItemSummary | None:
    """Our own item already in the section that a run would adopt instead of adding: after a
    lost answer (same ``source-work-id``), or the one ORCID's 409 names (same ``self`` id)."""
    if there is None:
        return None
    assertion = row.assertion
    # As the run does: a lost answer, or any first POST of a kind ORCID takes twice (an
    # affiliation), looks for our item first (its in-doubt marker may have died uncommitted).
    if (row.in_doubt or not kind.duplicates_refused) and row.put_code is None and not moved:
        found = _ours(there, client_id, source_key(assertion.source, assertion.external_id))
        if found is not None:
            return found
    if kind.duplicates_refused:
        return _ours(there, client_id, kind.self_ids(body))
    return None


def _group_to_register(session: Session, kind: Kind, item: Any) -> str | None:
    """A review's journal group id pidsync has not found or registered yet."""
    if kind.kind != OrcidItemKind.REVIEW:
        return None
    group = str(item.group_id)
    return group if repository.group_id(session, group) is None else None


def add_to(plan: SectionPlan, found: ItemPlan) -> None:
    if found.kind == CHANGE:
        plan.changes.extend(found.changes)
        if found.group_id is not None and found.group_id not in plan.group_ids:
            plan.group_ids.append(found.group_id)
    elif found.kind == WAITING:
        plan.waiting.extend(found.changes)
    elif found.kind == UNCHANGED:
        plan.unchanged += 1


@dataclass(frozen=True)
class ItemsPlanner:
    """The preview of one kind's sections (all seven affiliation sections, fundings, or peer
    reviews): every item of the tenant's (None: every tenant's) on the researcher's record."""

    section: str
    kind: OrcidItemKind

    def plan(self, context: PlanContext) -> SectionPlan:
        query = (
            select(OrcidItem)
            .join(OrcidAssertion, OrcidItem.assertion_id == OrcidAssertion.id)
            .where(OrcidItem.orcid == context.orcid, OrcidAssertion.kind == self.kind)
        )
        if context.tenant is not None:
            query = query.where(OrcidItem.owner == context.tenant)
        on_record = record_items(context.record)
        plan = SectionPlan()
        for row in context.session.execute(query.order_by(OrcidItem.id)).scalars():
            add_to(plan, plan_item(context.session, context.settings, row, on_record))
        return plan


#: The preview's planners for the other sections, in the record's order.
ITEM_PLANNERS = [
    ItemsPlanner("affiliations", OrcidItemKind.AFFILIATION),
    ItemsPlanner("fundings", OrcidItemKind.FUNDING),
    ItemsPlanner("peer_reviews", OrcidItemKind.REVIEW),
]
