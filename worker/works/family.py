"""Version families: the versions of one work (Zenodo, InvenioRDM: a DOI per version plus a
concept DOI), recognised from a Work's metadata (issue 15).

A work links identifiers as versions through its related identifiers (``IsVersionOf`` names
the concept, ``HasVersion`` makes the work itself the concept, ``IsNewVersionOf`` /
``IsPreviousVersionOf`` chain versions) or an explicit ``concept_id``. Works sharing any linked
identifier (their own DOI included) are one family, per owning client.

The family key is the smallest identifier linked by any member. Every merge keeps that rule,
so the key does not depend on the order versions arrived in: a third version that joins two
families already stored re-keys the members of the other one. Assignments of one owner are
serialised by a transaction-scoped advisory lock (for clients with ``orcid_versions`` other
than ``each``), so two versions arriving at once cannot split a family.

Which member is the newest: explicit ``IsNewVersionOf``/``IsPreviousVersionOf`` between members
first, then the publication date, then the free-text ``resource_version`` (numbers compared as
numbers), then arrival.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from worker.models import Work
from worker.pids import identifiers as ids

CONCEPT = "IsVersionOf"
IS_CONCEPT = "HasVersion"
NEWER_THAN = "IsNewVersionOf"  # this work is newer than the target
OLDER_THAN = "IsPreviousVersionOf"  # this work is older than the target
RELATIONS = (CONCEPT, IS_CONCEPT, NEWER_THAN, OLDER_THAN)


def node(kind: str, value: str) -> str:
    """A linked identifier as stored: ``doi:10.5281/zenodo.1`` (DOIs normalised)."""
    if kind.upper() == "DOI":
        try:
            return "doi:" + ids.normalize_doi(value)
        except ValueError:
            return "doi:" + value.strip().lower()
    return f"{kind.lower()}:{value.strip()}"


def _concept_node(value: str) -> str:
    try:
        return "doi:" + ids.normalize_doi(value)
    except ValueError:
        return "id:" + value.strip()


def own_node(data: dict[str, Any]) -> str | None:
    doi = data.get("doi")
    return node("DOI", doi) if isinstance(doi, str) and doi else None


def _relations(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (rel["relation_type"], node(rel["identifier_type"], rel["identifier"]))
        for rel in data.get("related_identifiers") or []
        if isinstance(rel, dict) and rel.get("relation_type") in RELATIONS
    ]


def links(data: dict[str, Any]) -> list[str]:
    """The identifiers a Work's metadata links as versions, its own DOI first; empty when it
    names no version relation and no ``concept_id``."""
    linked = [target for _, target in _relations(data)]
    if data.get("concept_id"):
        linked.append(_concept_node(str(data["concept_id"])))
    if not linked:
        return []
    own = own_node(data)
    return sorted({*linked, *([own] if own else [])})


def concept(data: dict[str, Any]) -> str | None:
    """The concept identifier this member names (``doi:...`` or ``id:...``), if any."""
    if data.get("concept_id"):
        return _concept_node(str(data["concept_id"]))
    rels = _relations(data)
    for relation, target in rels:
        if relation == CONCEPT:
            return target
    if any(relation == IS_CONCEPT for relation, _ in rels):
        return own_node(data)
    return None


def family_concept(members: list[Work]) -> str | None:
    """The concept DOI (bare) a family's members name, if any names one."""
    for member in members:
        found = concept(member.work_metadata)
        if found and found.startswith("doi:"):
            return found.removeprefix("doi:")
    return None


def assign(session: Session, work: Work, *, exact: bool = True) -> None:
    """Set ``work.family`` from its metadata, merging the families it links (see module doc).

    ``exact``: hold the owner's family lock until the transaction ends, so two versions
    applied at once cannot split a family. It serialises the owner's work events, so it is
    asked only for clients placing one work per family; for the others a rare split is
    harmless (nothing reads families with ``each``) and ``pidsync orcid versions converge``
    recomputes every family when the setting changes."""
    if exact and work.client_id is not None:
        session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext("family:" + work.client_id)))
        )
    linked = links(work.work_metadata)
    own = own_node(work.work_metadata)
    probe = linked or ([own] if own else [])
    related: list[Work] = []
    if probe:
        doi_values = [n.removeprefix("doi:") for n in probe if n.startswith("doi:")]
        related = list(
            session.execute(
                select(Work).where(
                    Work.id != work.id,
                    owned_by(work.client_id),
                    Work.family_links.has_any(array(probe))
                    | (Work.doi.in_(doi_values) if doi_values else false())
                    | Work.family.in_(probe),
                )
            ).scalars()
        )
    if not linked and not any(r.family for r in related if own in (r.family_links or [])):
        # No version relation of its own, and no family links to its DOI.
        work.family = None
        work.family_links = None
        return
    if not linked and own:
        linked = [own]
    keys = {r.family for r in related if r.family}
    new_key = min([*linked, *keys])
    work.family = new_key
    work.family_links = linked
    for other in related:
        if other.family is None and own_node(other.work_metadata) in linked:
            # A version that named no relation itself (v1, before v2 said IsNewVersionOf it).
            other.family = new_key
            other.family_links = [own_node(other.work_metadata)]
    stale = keys - {new_key}
    if stale:
        for other in session.execute(
            select(Work).where(
                Work.family.in_(stale),
                owned_by(work.client_id),
            )
        ).scalars():
            other.family = new_key
    session.flush()


def owned_by(owner: str | None) -> ColumnElement[bool]:
    """Works of one owning client (a family never spans tenants)."""
    return Work.client_id.is_(None) if owner is None else Work.client_id == owner


def members(session: Session, work: Work) -> list[Work]:
    """The family's works still standing (not withdrawn), oldest first; [work] outside one."""
    if work.family is None:
        return [work] if work.withdrawn_at is None else []
    rows = session.execute(
        select(Work).where(
            Work.family == work.family,
            Work.withdrawn_at.is_(None),
            owned_by(work.client_id),
        )
    ).scalars()
    return oldest_first(list(rows))


def _natural(text: str | None) -> tuple[Any, ...]:
    if not text:
        return ()
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text) if p)


def _order_key(work: Work) -> tuple[Any, ...]:
    data = work.work_metadata
    return (
        str(data.get("publication_date") or ""),
        _natural(data.get("resource_version")),
        work.id,
    )


def oldest_first(works: list[Work]) -> list[Work]:
    """Members in version order: explicit newer/older links win, then dates and versions."""
    base = sorted(works, key=_order_key)
    by_node = {own_node(w.work_metadata): w.id for w in base}
    before: dict[int, set[int]] = {w.id: set() for w in base}  # id -> ids that must come first
    for w in base:
        for relation, target in _relations(w.work_metadata):
            other = by_node.get(target)
            if other is None or other == w.id:
                continue
            if relation == NEWER_THAN:
                before[w.id].add(other)
            elif relation == OLDER_THAN:
                before[other].add(w.id)
    ordered: list[Work] = []
    done: set[int] = set()
    remaining = list(base)
    while remaining:
        # The first (by date) whose predecessors are all placed; a cycle falls back to dates.
        pick = next((w for w in remaining if before[w.id] <= done), remaining[0])
        ordered.append(pick)
        done.add(pick.id)
        remaining.remove(pick)
    return ordered
