"""The ORCID flow's queries: researchers, grants, placements and who to tell.

Queries only: each takes the session and plain values and returns rows (or writes the one row
it names). What to do with them is decided by the services.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import any_, delete, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, joinedload, selectinload

from worker.events.types import RESEARCHER_AUTHORIZED
from worker.models import (
    GrantEffect,
    GrantStatus,
    OrcidGrant,
    OrcidGrantAttempt,
    OrcidPlacement,
    PlacementState,
    ReceivedEvent,
    Researcher,
    Work,
)
from worker.orcid.oauth import WRITE_SCOPE

# --- researchers and grants ---------------------------------------------------------------


def researcher_of(session: Session, orcid: str) -> Researcher | None:
    return session.execute(select(Researcher).where(Researcher.orcid == orcid)).scalar_one_or_none()


def ensure_researcher(session: Session, orcid: str) -> Researcher:
    """The researcher with this iD, created if new (safe against a concurrent insert)."""
    session.execute(
        insert(Researcher)
        .values(orcid=orcid)
        .on_conflict_do_nothing(index_elements=[Researcher.orcid])
    )
    return session.execute(select(Researcher).where(Researcher.orcid == orcid)).scalar_one()


def grant_of(session: Session, orcid: str, client_id: str) -> OrcidGrant | None:
    """The researcher's grant for one ORCID client, in any state."""
    found = grants_of(session, orcid, client_id)
    return found[0] if found else None


def grant_for_update(session: Session, researcher_id: int, client_id: str) -> OrcidGrant | None:
    """The researcher's grant for one ORCID client, locked for the caller's transaction."""
    return session.execute(
        select(OrcidGrant)
        .where(OrcidGrant.researcher_id == researcher_id, OrcidGrant.client_id == client_id)
        .with_for_update()
    ).scalar_one_or_none()


def grants_of(
    session: Session, orcid: str, client_id: str | None = None, *, active: bool = False
) -> list[OrcidGrant]:
    """The researcher's grants, oldest first: of one ORCID client, or active ones only."""
    query = (
        select(OrcidGrant)
        .join(Researcher, OrcidGrant.researcher_id == Researcher.id)
        .where(Researcher.orcid == orcid)
        .order_by(OrcidGrant.id)
    )
    if client_id is not None:
        query = query.where(OrcidGrant.client_id == client_id)
    if active:
        query = query.where(OrcidGrant.status == GrantStatus.ACTIVE)
    return list(session.execute(query).scalars())


def active_grant(session: Session, orcid: str, client_id: str) -> OrcidGrant | None:
    found = grants_of(session, orcid, client_id, active=True)
    return found[0] if found else None


def write_grant_for(session: Session, orcid: str, owner: str | None = None) -> OrcidGrant | None:
    """The researcher's earliest active grant whose scope lets it place works and that a work
    of ``owner`` may use: the owner's own grants or the researcher's consent (owner None).
    ``owner`` None (a work stored before owners were kept): any grant."""
    query = (
        select(OrcidGrant)
        .join(Researcher, OrcidGrant.researcher_id == Researcher.id)
        .where(
            Researcher.orcid == orcid,
            OrcidGrant.status == GrantStatus.ACTIVE,
            literal(WRITE_SCOPE) == any_(func.regexp_split_to_array(OrcidGrant.scope, r"\s+")),
        )
    )
    if owner is not None:
        query = query.where(or_(OrcidGrant.owner == owner, OrcidGrant.owner.is_(None)))
    return session.execute(query.order_by(OrcidGrant.id).limit(1)).scalar_one_or_none()


def granted_records(session: Session) -> list[str]:
    """ORCID iDs of every researcher with an active grant."""
    return list(
        session.execute(
            select(Researcher.orcid)
            .join(OrcidGrant, OrcidGrant.researcher_id == Researcher.id)
            .where(OrcidGrant.status == GrantStatus.ACTIVE)
            .distinct()
            .order_by(Researcher.orcid)
        ).scalars()
    )


def grants_due_for_check(
    session: Session, checked_before: datetime, limit: int
) -> list[OrcidGrant]:
    """Active grants whose token was not tried since ``checked_before``, least recent first,
    locked (skipping those another scheduler holds)."""
    return list(
        session.execute(
            select(OrcidGrant)
            .where(
                OrcidGrant.status == GrantStatus.ACTIVE,
                or_(
                    OrcidGrant.last_checked_at.is_(None),
                    OrcidGrant.last_checked_at < checked_before,
                ),
            )
            .order_by(OrcidGrant.last_checked_at.nulls_first(), OrcidGrant.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


def grants_with_webhook_to_change(session: Session) -> list[OrcidGrant]:
    """Active grants without a webhook, and ended grants that still have one."""
    return list(
        session.execute(
            select(OrcidGrant).where(
                (OrcidGrant.status == GrantStatus.ACTIVE)
                & OrcidGrant.webhook_registered_at.is_(None)
                | (OrcidGrant.status != GrantStatus.ACTIVE)
                & OrcidGrant.webhook_registered_at.is_not(None)
            )
        ).scalars()
    )


def webhook_secrets(session: Session, orcid: str) -> list[str]:
    """The webhook secrets of the record's grants (one per ORCID client with a webhook)."""
    return [
        str(secret)
        for secret in session.execute(
            select(OrcidGrant.webhook_secret)
            .join(Researcher, OrcidGrant.researcher_id == Researcher.id)
            .where(Researcher.orcid == orcid, OrcidGrant.webhook_secret.is_not(None))
        ).scalars()
    ]


def grant_attempt_for_update(
    session: Session, grant_id: int, effect: GrantEffect
) -> OrcidGrantAttempt:
    """The tries of ``effect`` about the grant, created if none are recorded, locked (safe
    against a concurrent first failure)."""
    session.execute(
        insert(OrcidGrantAttempt)
        .values(grant_id=grant_id, effect=effect, attempts=0)
        .on_conflict_do_nothing(
            index_elements=[OrcidGrantAttempt.grant_id, OrcidGrantAttempt.effect]
        )
    )
    return session.execute(
        select(OrcidGrantAttempt)
        .where(OrcidGrantAttempt.grant_id == grant_id, OrcidGrantAttempt.effect == effect)
        .with_for_update()
    ).scalar_one()


def forget_grant_attempts(session: Session, grant_id: int, effect: GrantEffect) -> None:
    session.execute(
        delete(OrcidGrantAttempt).where(
            OrcidGrantAttempt.grant_id == grant_id, OrcidGrantAttempt.effect == effect
        )
    )


def overdue_grant_attempts(
    session: Session, due_before: datetime, limit: int
) -> list[OrcidGrantAttempt]:
    """Grant effects still being tried whose next try was due before ``due_before``, locked
    (skipping rows a worker holds), with their grants."""
    return list(
        session.execute(
            select(OrcidGrantAttempt)
            .where(
                OrcidGrantAttempt.failed_at.is_(None),
                OrcidGrantAttempt.next_attempt_at < due_before,
            )
            .order_by(OrcidGrantAttempt.next_attempt_at, OrcidGrantAttempt.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=OrcidGrantAttempt)
            .options(joinedload(OrcidGrantAttempt.grant).joinedload(OrcidGrant.researcher))
        ).scalars()
    )


# --- placements ---------------------------------------------------------------------------


def placement_for_update(session: Session, placement_id: int) -> OrcidPlacement | None:
    """One placement with its work (and the work's DOI registration), locked."""
    return session.execute(
        select(OrcidPlacement)
        .where(OrcidPlacement.id == placement_id)
        .options(joinedload(OrcidPlacement.work, innerjoin=True).joinedload(Work.registration))
        .with_for_update(of=OrcidPlacement)
    ).scalar_one_or_none()


def placements_of_work(session: Session, work_id: int) -> list[OrcidPlacement]:
    return list(
        session.execute(
            select(OrcidPlacement)
            .where(OrcidPlacement.work_id == work_id)
            .order_by(OrcidPlacement.id)
        ).scalars()
    )


def works_placed_by(
    session: Session, orcid: str, client_id: str, work_ids: list[int] | None = None
) -> set[int]:
    """Ids of the works (among ``work_ids``) this ORCID client has a placement for on the
    record, in any state."""
    query = select(OrcidPlacement.work_id).where(
        OrcidPlacement.orcid == orcid, OrcidPlacement.client_id == client_id
    )
    if work_ids is not None:
        query = query.where(OrcidPlacement.work_id.in_(work_ids))
    return set(session.execute(query).scalars())


def awaiting_placements(session: Session, orcid: str) -> list[OrcidPlacement]:
    """The record's placements waiting for the researcher's consent (any client)."""
    return list(
        session.execute(
            select(OrcidPlacement).where(
                OrcidPlacement.orcid == orcid,
                OrcidPlacement.state == PlacementState.AWAITING_CONSENT,
            )
        ).scalars()
    )


def unplaced_works_naming(session: Session, orcid: str) -> list[Work]:
    """Works in force that name the researcher but have no placement on their record."""
    return list(
        session.execute(
            select(Work).where(
                Work.work_metadata.contains({"contributors": [{"orcid": orcid}]}),
                Work.withdrawn_at.is_(None),
                ~select(OrcidPlacement.id)
                .where(OrcidPlacement.work_id == Work.id, OrcidPlacement.orcid == orcid)
                .exists(),
            )
        ).scalars()
    )


def pending_placements(
    session: Session, orcid: str, client_id: str, *, limit: int | None = None, claim: bool = False
) -> list[OrcidPlacement]:
    """The record's pending placements for one ORCID client, oldest first. ``claim``: lock
    them, skipping rows another worker holds, with their works loaded."""
    query = (
        select(OrcidPlacement)
        .where(
            OrcidPlacement.orcid == orcid,
            OrcidPlacement.client_id == client_id,
            OrcidPlacement.state == PlacementState.PENDING,
        )
        .order_by(OrcidPlacement.id)
    )
    if limit is not None:
        query = query.limit(limit)
    if claim:
        query = query.with_for_update(skip_locked=True, of=OrcidPlacement).options(
            selectinload(OrcidPlacement.work).selectinload(Work.registration)
        )
    return list(session.execute(query).scalars())


def count_unsent_pending(session: Session, orcid: str, client_id: str, besides: list[int]) -> int:
    """Pending placements of the record for one client never sent (no put-code), other than
    ``besides``."""
    return session.execute(
        select(func.count(OrcidPlacement.id)).where(
            OrcidPlacement.orcid == orcid,
            OrcidPlacement.client_id == client_id,
            OrcidPlacement.state == PlacementState.PENDING,
            OrcidPlacement.put_code.is_(None),
            OrcidPlacement.id.not_in(besides),
        )
    ).scalar_one()


def placements_to_reconcile(session: Session, orcid: str, client_id: str) -> list[OrcidPlacement]:
    """The record's placed, pending and failed placements for one client, locked (skipping
    rows a worker holds)."""
    return list(
        session.execute(
            select(OrcidPlacement)
            .where(
                OrcidPlacement.orcid == orcid,
                OrcidPlacement.client_id == client_id,
                OrcidPlacement.state.in_(
                    (PlacementState.PLACED, PlacementState.PENDING, PlacementState.FAILED)
                ),
            )
            .order_by(OrcidPlacement.id)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


def stalled_placements(session: Session, before: datetime, limit: int) -> list[OrcidPlacement]:
    """Pending placements with neither a message sent nor a retry due since ``before``,
    locked (skipping rows a worker holds)."""
    last_due = func.greatest(OrcidPlacement.enqueued_at, OrcidPlacement.next_attempt_at)
    return list(
        session.execute(
            select(OrcidPlacement)
            .where(
                OrcidPlacement.state == PlacementState.PENDING,
                or_(last_due.is_(None), last_due < before),
            )
            .order_by(OrcidPlacement.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


def works_awaiting_consent(session: Session, orcid: str, client_id: str, limit: int) -> list[Work]:
    """Works waiting for the researcher's consent to this client (or to any client)."""
    return list(
        session.execute(
            select(Work)
            .join(OrcidPlacement, OrcidPlacement.work_id == Work.id)
            .where(
                OrcidPlacement.orcid == orcid,
                OrcidPlacement.client_id.in_((client_id, "")),
                OrcidPlacement.state == PlacementState.AWAITING_CONSENT,
            )
            .order_by(Work.id)
            .limit(limit)
        ).scalars()
    )


# --- who to tell --------------------------------------------------------------------------


def work_clients(session: Session, work_ids: list[int]) -> dict[int, str | None]:
    """The intake client of each work (None when no event named one)."""
    rows = session.execute(select(Work.id, Work.client_id).where(Work.id.in_(work_ids))).all()
    found = {row.id: row.client_id for row in rows}
    return {work_id: found.get(work_id) for work_id in work_ids}


def researcher_clients(session: Session, orcid: str) -> list[str]:
    """Intake clients with works on the record or that sent the researcher's authorisation."""
    via_works = select(Work.client_id).where(
        Work.client_id.is_not(None),
        Work.id.in_(select(OrcidPlacement.work_id).where(OrcidPlacement.orcid == orcid)),
    )
    via_grant = select(ReceivedEvent.client_id).where(
        ReceivedEvent.type == RESEARCHER_AUTHORIZED,
        ReceivedEvent.data["orcid"].astext == orcid,
    )
    return sorted({c for c in session.execute(via_works.union(via_grant)).scalars() if c})
