"""One ORCID work per version family (issue 15; the intake client's ``orcid_versions``).

With ``latest`` or ``concept``, the versions of a family (:mod:`worker.works.family`) share
one ORCID work per researcher and ORCID client. The placement rows stay per (work, ORCID iD,
client), so every existing guarantee (lost answers, 409s, researcher deletions, revocation)
holds unchanged; what changes is which row *carries* the family's work:

- the **carrier** is the row of the newest version naming the researcher: it holds the
  put-code and writes the family's work (:func:`body`);
- every other row of the family is **folded**: it holds nothing on the record. When a newer
  version arrives, the put-code moves from the old carrier to the new one (the work on the
  record is updated in place, never added again); a folded row that still holds a put-code
  (switching ``each`` → ``latest``) has that work removed.

Switching back to ``each`` unfolds the rows: the carrier's put-code is kept and rewritten as
its own version, and the others are added. :func:`settle` decides all this and moves
put-codes; :mod:`worker.orcid.placements` queues what it says.

Why the family's work has its own ``self`` ids (DESIGN §7 says a Work's never change): the
family's ORCID work is a new kind of item, not any one version. Its stable ``self`` ids are
the family's ``source-work-id`` (``<source>:family:<key>``) and, when known, the concept DOI;
the newest version's DOI is a ``self`` id too (``latest``) and moves with each version, older
versions are ``version-of``. The stable ones are what a lost answer is recovered by.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from worker.metadata.render.orcid_json import render_orcid_work, source_work_id
from worker.models import OrcidPlacement, PlacementState, Work
from worker.orcid import payload as render
from worker.orcid import repository
from worker.works import family as families

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from worker.config import Settings

EACH = "each"
LATEST = "latest"
CONCEPT = "concept"
#: The researcher's choices and "not ours": a family never overrides them.
KEPT = (PlacementState.REMOVED_BY_RESEARCHER, PlacementState.NOT_OURS)


class Kind(enum.StrEnum):
    SELF = "self"  # the version's own work (``each``, or outside a family)
    CARRIER = "carrier"  # writes the family's work
    FOLDED = "folded"  # holds nothing on the record


@dataclass
class Role:
    kind: Kind
    mode: str = EACH
    members: list[Work] = field(default_factory=list)  # oldest first, naming the researcher


def mode_of(settings: Settings, owner: str | None) -> str:
    return settings.orcid_versions_for(owner)


def in_family(settings: Settings, row: OrcidPlacement) -> bool:
    """Whether the row's work is written as part of a family (not on its own)."""
    return row.work.family is not None and mode_of(settings, row.owner) != EACH


def _named(members: list[Work], orcid: str) -> list[Work]:
    return [w for w in members if orcid in render.contributor_orcids(w)]


def role_of(session: Session, settings: Settings, row: OrcidPlacement) -> Role:
    mode = mode_of(settings, row.owner)
    if mode == EACH or row.work.family is None:
        return Role(Kind.SELF)
    named = _named(families.members(session, row.work), row.orcid)
    if not named:
        return Role(Kind.SELF)  # withdrawn or no longer a contributor: the ordinary removal
    kind = Kind.CARRIER if named[-1].id == row.work.id else Kind.FOLDED
    return Role(kind, mode, named)


def body(row: OrcidPlacement, role: Role) -> dict[str, Any]:
    """The family's ORCID work: the newest version's metadata; its DOI (``latest``) or the
    concept DOI (``concept``); the family's stable ``self`` ids; older versions ``version-of``."""
    carrier = row.work
    work = render.metadata_work(carrier)
    newest = work.doi
    concept = families.family_concept(role.members)
    if role.mode == CONCEPT and concept:
        work = work.model_copy(update={"doi": concept})
    rendered = render_orcid_work(work, source=carrier.source)
    ext = [
        e
        for e in rendered["external-ids"]["external-id"]
        if e.get("external-id-type") != "source-work-id"
    ]
    family_id = source_work_id(carrier.source, f"family:{carrier.family}")
    ext.append(_ext("source-work-id", family_id, "self"))
    if role.mode == LATEST:
        if concept and concept != newest:
            ext.append(_ext("doi", concept, "self", "https://doi.org/" + concept))
        for member in role.members:
            doi = render.work_doi(member) if member.id != carrier.id else None
            if doi and doi not in (newest, concept):
                ext.append(_ext("doi", doi, "version-of", "https://doi.org/" + doi))
    rendered["external-ids"]["external-id"] = ext
    return rendered


def intended_body(session: Session, settings: Settings, row: OrcidPlacement) -> dict[str, Any]:
    """The ORCID work the row should hold: the family's for a carrier, else the version's."""
    role = role_of(session, settings, row)
    return body(row, role) if role.kind == Kind.CARRIER else render.orcid_work(row.work)


def _ext(kind: str, value: str, relationship: str, url: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"external-id-type": kind, "external-id-value": value}
    if url:
        found["external-id-url"] = {"value": url}
    found["external-id-relationship"] = relationship
    return found


@dataclass
class Settled:
    """What :func:`settle` leaves for the placements service to queue."""

    write: list[OrcidPlacement] = field(default_factory=list)  # carriers / unfolded rows
    remove: list[OrcidPlacement] = field(default_factory=list)  # folded rows holding a work


def settle(session: Session, settings: Settings, work: Work) -> Settled:
    """Bring the placements of ``work``'s family in line with the owner's ``orcid_versions``:
    pick each researcher's carrier, move a put-code to it from the row that holds one (the
    record's work is reused, never duplicated), fold the others. The caller holds the
    researchers' locks (:func:`worker.orcid.repository.lock_researchers`)."""
    settled = Settled()
    if work.family is None:
        return settled
    rows = repository.family_placements_for_update(session, work.family, work.client_id)
    if mode_of(settings, work.client_id) == EACH:
        # Folded versions come back on their own; a carrier is rewritten as its own version
        # (its put-code kept); an unchanged placement then sends nothing.
        back = (PlacementState.FOLDED, PlacementState.PLACED)
        settled.write = [r for r in rows if r.state in back]
        return settled
    members = families.members(session, work)
    by_orcid: dict[str, list[OrcidPlacement]] = {}
    for row in rows:
        by_orcid.setdefault(row.orcid, []).append(row)
    for orcid, group in by_orcid.items():
        named = _named(members, orcid)
        carrier_id = named[-1].id if named else None
        carriers = [r for r in group if r.work_id == carrier_id]
        others = [r for r in group if r.work_id != carrier_id]
        for row in carriers:
            if row.state in KEPT:
                continue
            if row.put_code is None and not row.in_doubt and _inherit(row, others):
                continue
            settled.write.append(row)
        for row in others:
            if row.state in KEPT:
                continue
            if row.put_code is not None or row.in_doubt:
                settled.remove.append(row)
            elif row.work.withdrawn_at is None and carrier_id is not None:
                row.state = PlacementState.FOLDED
                row.next_attempt_at = None
                row.last_error = (
                    f"one ORCID work per version family: carried by work {carrier_id}'s placement"
                )
    session.flush()
    return settled


def _inherit(carrier: OrcidPlacement, others: list[OrcidPlacement]) -> bool:
    """Give the new carrier the family's work already on the record (same ORCID client):
    its put-code, or the researcher's removal of it. True when the researcher removed it (the
    carrier then stays removed, as the family's work was)."""
    for other in others:
        if other.client_id != carrier.client_id or carrier.client_id is None:
            continue
        if other.state == PlacementState.REMOVED_BY_RESEARCHER:
            carrier.state = other.state
            carrier.last_error = other.last_error
            return True
        if other.state in KEPT or (other.put_code is None and not other.in_doubt):
            continue
        carrier.put_code, other.put_code = other.put_code, None
        carrier.in_doubt, other.in_doubt = other.in_doubt, False
        carrier.visibility = other.visibility
        carrier.placed_at = other.placed_at
        carrier.confirmed_hash = None  # its content is the family's now: written again
        other.confirmed_hash = None
        other.state = PlacementState.FOLDED
        other.last_error = f"its ORCID work moved to work {carrier.work_id}'s placement"
        return False
    return False
