"""The queries of the other sections' engine."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, selectinload

from worker.models import (
    OrcidAssertion,
    OrcidGrant,
    OrcidGroupId,
    OrcidItem,
    OrcidItemKind,
    PlacementState,
)
from worker.orcid.repository import active_write_grants


def _by_key(kind: OrcidItemKind, source: str, external_id: str) -> Select[OrcidAssertion]:
    """The assertion an emitting system names by kind, source and its own id."""
    return select(OrcidAssertion).where(
        OrcidAssertion.kind == kind,
        OrcidAssertion.source == source,
        OrcidAssertion.external_id == external_id,
    )


def claim_assertion(
    session: Session, kind: OrcidItemKind, source: str, external_id: str, client_id: str
) -> OrcidAssertion:
    """The assertion, locked until the transaction ends; created empty (``data_hash`` "")
    when new. Two events for a new item at once: one inserts, the other waits and reads it."""
    session.execute(
        insert(OrcidAssertion)
        .values(
            kind=kind, source=source, external_id=external_id, data={}, data_hash="",
            client_id=client_id,
        )
        .on_conflict_do_nothing(constraint="uq_orcid_assertions_kind_source_external_id")
    )  # fmt: skip
    return session.execute(
        _by_key(kind, source, external_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def find_assertion(
    session: Session, kind: OrcidItemKind, source: str, external_id: str
) -> OrcidAssertion | None:
    return session.execute(
        _by_key(kind, source, external_id)
        .where(OrcidAssertion.data_hash != "")
        .options(selectinload(OrcidAssertion.items))
    ).scalar_one_or_none()


def items_of(session: Session, assertion_id: int, *, lock: bool = False) -> list[OrcidItem]:
    """The assertion's items; ``lock``: locked and read as committed now, for a hook that
    changes them (unlocked, its update of the columns it changed stood over a worker's commit
    of the same row: see :func:`worker.orcid.repository.placements_of_work`)."""
    query = select(OrcidItem).where(OrcidItem.assertion_id == assertion_id).order_by(OrcidItem.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return list(session.execute(query).scalars())


def item_orcid(session: Session, item_id: int) -> str | None:
    return session.execute(select(OrcidItem.orcid).where(OrcidItem.id == item_id)).scalar()


def item_for_update(
    session: Session, item_id: int, *, skip_locked: bool = False
) -> OrcidItem | None:
    return session.execute(
        select(OrcidItem)
        .where(OrcidItem.id == item_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def awaiting_items(session: Session, orcid: str) -> list[OrcidItem]:
    """The researcher's items waiting for consent, oldest first, locked."""
    return list(
        session.execute(
            select(OrcidItem)
            .where(OrcidItem.orcid == orcid, OrcidItem.state == PlacementState.AWAITING_CONSENT)
            .order_by(OrcidItem.id)
            .with_for_update()
        ).scalars()
    )


def pending_items(session: Session, orcid: str, client_id: str) -> list[OrcidItem]:
    return list(
        session.execute(
            select(OrcidItem)
            .where(
                OrcidItem.orcid == orcid,
                OrcidItem.client_id == client_id,
                OrcidItem.state == PlacementState.PENDING,
            )
            .order_by(OrcidItem.id)
        ).scalars()
    )


def stalled_item_ids(session: Session, before: datetime, limit: int) -> list[int]:
    """Pending items with no message sent since ``before`` and no retry due after it."""
    return list(
        session.execute(
            select(OrcidItem.id)
            .where(
                OrcidItem.state == PlacementState.PENDING,
                or_(OrcidItem.enqueued_at.is_(None), OrcidItem.enqueued_at < before),
                or_(OrcidItem.next_attempt_at.is_(None), OrcidItem.next_attempt_at < before),
            )
            .order_by(OrcidItem.id)
            .limit(limit)
        ).scalars()
    )


def items_to_reconcile(session: Session, orcid: str, client_id: str) -> list[OrcidItem]:
    """The record's items this client placed, or whose POST is in doubt, locked (skipping
    those a worker holds: they are moving already)."""
    return list(
        session.execute(
            select(OrcidItem)
            .where(
                OrcidItem.orcid == orcid,
                OrcidItem.client_id == client_id,
                or_(
                    (OrcidItem.state == PlacementState.PLACED) & OrcidItem.put_code.is_not(None),
                    OrcidItem.in_doubt.is_(True),
                ),
            )
            .order_by(OrcidItem.id)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


def group_id(session: Session, group: str) -> OrcidGroupId | None:
    return session.execute(
        select(OrcidGroupId).where(OrcidGroupId.group_id == group)
    ).scalar_one_or_none()


def remember_group_id(session: Session, group: str, put_code: int, client_id: str) -> None:
    """Record a group id found or registered (another worker may have recorded it first)."""
    session.execute(
        insert(OrcidGroupId)
        .values(group_id=group, put_code=put_code, client_id=client_id)
        .on_conflict_do_nothing(index_elements=["group_id"])
    )


def consented_awaiting_item_ids(session: Session, limit: int) -> list[int]:
    """Items awaiting consent whose researcher has an active grant that may write (a message
    was lost, or a grant arrived by a path that queued nothing): candidates for healing; the
    service decides under the researcher's lock whether that grant may take each."""
    writable = (
        active_write_grants(OrcidItem.orcid, OrcidGrant.id)
        .where(or_(OrcidGrant.owner.is_(None), OrcidGrant.owner == OrcidItem.owner))
        .exists()
    )
    return list(
        session.execute(
            select(OrcidItem.id)
            .where(OrcidItem.state == PlacementState.AWAITING_CONSENT, writable)
            .order_by(OrcidItem.id)
            .limit(limit)
        ).scalars()
    )
