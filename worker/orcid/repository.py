"""The ORCID flow's queries: researchers, grants, placements and who to tell.

Queries only: each takes the session and plain values and returns rows (or writes the one row
it names). What to do with them is decided by the services.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import Select, String, any_, bindparam, delete, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on, insert
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from worker.db import none_names_new_work
from worker.errors import Postpone
from worker.events.types import RESEARCHER_AUTHORIZED
from worker.models import (
    DoiRegistration,
    DoiState,
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

#: The advisory-lock key space of per-researcher locks (first key of the two-key form).
RESEARCHER_LOCKS = 0x0BC1D


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


# The hottest statements (every placement, every event's ORCID hook) are built once with bound
# parameters: building a Select costs about as much CPU as running it (issue 13's profile), and
# a statement built once also keeps its cache key.
_ACTIVE_GRANT = (
    select(OrcidGrant)
    .join(Researcher, OrcidGrant.researcher_id == Researcher.id)
    .where(
        Researcher.orcid == bindparam("orcid"),
        OrcidGrant.client_id == bindparam("client_id"),
        OrcidGrant.status == GrantStatus.ACTIVE,
    )
    .order_by(OrcidGrant.id)
    .limit(1)
)


def active_grant(session: Session, orcid: str, client_id: str) -> OrcidGrant | None:
    """The researcher's oldest active grant of one ORCID client."""
    return session.execute(
        _ACTIVE_GRANT, {"orcid": orcid, "client_id": client_id}
    ).scalar_one_or_none()


def active_write_grants(orcid: Any, *columns: Any) -> Select[Any]:
    """``columns`` (default the grant) of the researcher ``orcid``'s active grants whose scope
    may write to the record; ``orcid`` a value or a column to correlate with (the healing
    sweeps of works and of other items ask the same question)."""
    return (
        select(*(columns or (OrcidGrant,)))
        .join(Researcher, OrcidGrant.researcher_id == Researcher.id)
        .where(
            Researcher.orcid == orcid,
            OrcidGrant.status == GrantStatus.ACTIVE,
            literal(WRITE_SCOPE) == any_(func.regexp_split_to_array(OrcidGrant.scope, r"\s+")),
        )
    )


def write_grant_for(session: Session, orcid: str, owner: str | None = None) -> OrcidGrant | None:
    """The researcher's earliest active grant whose scope lets it place works and that a work
    of ``owner`` may use: the owner's own grants or the researcher's consent (owner None).
    ``owner`` None (a work stored before owners were kept): any grant."""
    return write_grants_for(session, [orcid], owner).get(orcid)


def _write_grants_statement(*, any_owner: bool) -> Select[Any]:
    orcids = bindparam("orcids", type_=ARRAY(String))
    query = active_write_grants(any_(orcids), OrcidGrant, Researcher.orcid)
    if not any_owner:
        owner = bindparam("owner", type_=String)
        query = query.where(or_(OrcidGrant.owner == owner, OrcidGrant.owner.is_(None)))
    # The earliest grant of each researcher (DISTINCT ON keeps the first row of each orcid).
    return query.ext(distinct_on(Researcher.orcid)).order_by(Researcher.orcid, OrcidGrant.id)


_WRITE_GRANTS = {True: _write_grants_statement(any_owner=True)}
_WRITE_GRANTS[False] = _write_grants_statement(any_owner=False)


def write_grants_for(
    session: Session, orcids: list[str], owner: str | None = None
) -> dict[str, OrcidGrant]:
    """:func:`write_grant_for` of several researchers in one query: orcid -> grant (those
    without one are absent)."""
    if not orcids:
        return {}
    params: dict[str, Any] = {"orcids": sorted(set(orcids))}
    if owner is not None:
        params["owner"] = owner
    rows = session.execute(_WRITE_GRANTS[owner is None], params)
    return {orcid: grant for grant, orcid in rows}


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


def grant_ids_due_for_check(session: Session, checked_before: datetime, limit: int) -> list[int]:
    """Active grants whose token was not tried since ``checked_before``, least recent first.
    Ids only: the sweep locks and loads each in its own transaction."""
    return list(
        session.execute(
            select(OrcidGrant.id)
            .where(
                OrcidGrant.status == GrantStatus.ACTIVE,
                or_(
                    OrcidGrant.last_checked_at.is_(None),
                    OrcidGrant.last_checked_at < checked_before,
                ),
            )
            .order_by(OrcidGrant.last_checked_at.nulls_first(), OrcidGrant.id)
            .limit(limit)
        ).scalars()
    )


WEBHOOK_EFFECTS = (GrantEffect.REGISTER_WEBHOOK, GrantEffect.UNREGISTER_WEBHOOK)


def grant_ids_with_webhook_to_change(session: Session) -> list[int]:
    """Active grants without a webhook, and ended grants that still have one; not those whose
    webhook change failed for good (a person acts on its recorded failure first)."""
    failed = (
        select(OrcidGrantAttempt.id)
        .where(
            OrcidGrantAttempt.grant_id == OrcidGrant.id,
            OrcidGrantAttempt.effect.in_(WEBHOOK_EFFECTS),
            OrcidGrantAttempt.failed_at.is_not(None),
        )
        .exists()
    )
    return list(
        session.execute(
            select(OrcidGrant.id)
            .where(
                (OrcidGrant.status == GrantStatus.ACTIVE)
                & OrcidGrant.webhook_registered_at.is_(None)
                | (OrcidGrant.status != GrantStatus.ACTIVE)
                & OrcidGrant.webhook_registered_at.is_not(None),
                ~failed,
            )
            .order_by(OrcidGrant.id)
        ).scalars()
    )


def grants_by_webhook_id(session: Session, webhook_id: str) -> list[OrcidGrant]:
    """The grants whose webhook callback carries ``webhook_id`` (one, or for a webhook
    registered before secrets were hashed, each client's grant of that record)."""
    return list(
        session.execute(
            select(OrcidGrant).where(
                OrcidGrant.webhook_id == webhook_id, OrcidGrant.webhook_secret_hash.is_not(None)
            )
        ).scalars()
    )


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


def overdue_grant_attempt_ids(session: Session, due_before: datetime, limit: int) -> list[int]:
    """Grant effects still being tried whose next try was due before ``due_before``. Ids only:
    the sweep locks and loads each in its own transaction."""
    return list(
        session.execute(
            select(OrcidGrantAttempt.id)
            .where(
                OrcidGrantAttempt.failed_at.is_(None),
                OrcidGrantAttempt.next_attempt_at < due_before,
            )
            .order_by(OrcidGrantAttempt.next_attempt_at, OrcidGrantAttempt.id)
            .limit(limit)
        ).scalars()
    )


# --- placements ---------------------------------------------------------------------------


def lock_researchers(session: Session, orcids: list[str]) -> None:
    """Hold each researcher's advisory lock until the transaction ends, in a fixed order (so
    two transactions naming the same researchers never wait for each other in a circle).

    The two-key form keeps these locks apart from single-key ones (the scheduler's leader
    lock): a hash that happened to equal that key must not block a researcher for good."""
    ordered = sorted(set(orcids))
    if len(ordered) == 1:
        session.execute(_LOCK_ONE, {"space": RESEARCHER_LOCKS, "orcid": ordered[0]})
    elif ordered:
        # One round trip: unnest yields the array in its (sorted) order, and each row's lock
        # is taken as that row is produced, so the order holds as with one statement each.
        session.execute(_LOCK_MANY, {"space": RESEARCHER_LOCKS, "orcids": ordered})


def await_researcher(session: Session, orcid: str) -> None:
    """For a worker that holds a placement's (or item's) row and now needs its researcher's
    lock: take it if free, else raise :class:`~worker.errors.Postpone` (the unit of work rolls
    back, its message comes back shortly). Waiting would deadlock with an event's hook, which
    holds the researcher's lock and waits for that row: PostgreSQL would abort one of the two
    after a second, and the retry would spend a broker retry."""
    if not session.execute(_TRY_LOCK_ONE, {"space": RESEARCHER_LOCKS, "orcid": orcid}).scalar():
        raise Postpone(
            0.2 + random.random(),  # noqa: S311 - jitter, not a secret
            f"researcher {orcid}: a grant or an event about them is being stored",
        )


_LOCK_ONE = text("SELECT pg_advisory_xact_lock(:space, hashtext(:orcid))")
_TRY_LOCK_ONE = text("SELECT pg_try_advisory_xact_lock(:space, hashtext(:orcid))")
_LOCK_MANY = text(
    "SELECT pg_advisory_xact_lock(:space, hashtext(o)) FROM unnest(CAST(:orcids AS text[])) AS o"
)


def placement_orcid(session: Session, placement_id: int) -> str | None:
    return session.execute(
        select(OrcidPlacement.orcid).where(OrcidPlacement.id == placement_id)
    ).scalar_one_or_none()


def placement_for_update(
    session: Session, placement_id: int, *, skip_locked: bool = False
) -> OrcidPlacement | None:
    """One placement with its work (and the work's DOI registration), locked (``skip_locked``:
    None when a worker holds it).

    Waiting for the lock, the row is locked first and read with its work after, in a statement
    of its own: a statement that waited on a row lock sees the locked row's newest version but
    every joined row as it was when the statement began (PostgreSQL re-reads only the rows it
    locks). An event that changed the work and queued its placements (a withdrawal, a new
    version) would otherwise have its placement written from the work as it was before
    (chaos run, RabbitMQ: a withdrawn work left on the record)."""
    found = _locked_read(session, placement_id, skip_locked, _PLACEMENT_WITH_WORK)
    return None if found is None else found[0]


#: A select of any columns (Select is generic over its row's types).
_AnySelect: TypeAlias = "Select[*tuple[Any, ...]]"


def _locked_read(
    session: Session, placement_id: int, skip_locked: bool, reads: tuple[_AnySelect, _AnySelect]
) -> Any | None:
    """The row the placement's ``reads`` (waiting, skipping: :func:`_reads`) give, with the
    placement locked as :func:`placement_for_update` says: locked first, then read, when
    waiting for the lock; skipping a locked row never waits, so one statement locks it and
    reads it with its work as of one moment (``None`` when another holds it)."""
    waiting, skipping = reads
    if skip_locked:
        return session.execute(skipping, {"id": placement_id}).one_or_none()
    if session.execute(_LOCK_PLACEMENT, {"id": placement_id}).scalar_one_or_none() is None:
        return None
    return session.execute(waiting, {"id": placement_id}).one_or_none()


def _reads(read: _AnySelect) -> tuple[_AnySelect, _AnySelect]:
    """A read of one placement, as run after its lock is taken and as the statement that
    skips a locked row (built once: they run for every placement)."""
    return read, read.with_for_update(of=OrcidPlacement, skip_locked=True)


_LOCK_PLACEMENT = (
    select(OrcidPlacement.id).where(OrcidPlacement.id == bindparam("id")).with_for_update()
)
#: A placement's work and the work's DOI registration, loaded with it.
_WITH_WORK = joinedload(OrcidPlacement.work, innerjoin=True).joinedload(Work.registration)
_PLACEMENT_WITH_WORK = _reads(
    select(OrcidPlacement)
    .where(OrcidPlacement.id == bindparam("id"))
    .options(_WITH_WORK)
    .execution_options(populate_existing=True)
)


def placement_and_grant_for_update(
    session: Session, placement_id: int, *, skip_locked: bool = False
) -> tuple[OrcidPlacement, OrcidGrant | None] | None:
    """:func:`placement_for_update`, with the grant :func:`active_grant` would give for the
    placement's researcher and client read in the same statement (issue 13: a placement's
    write read them one after the other, a statement and a round trip more for each)."""
    found = _locked_read(session, placement_id, skip_locked, _PLACEMENT_AND_GRANT)
    return None if found is None else (found[0], found[1])


# The grant's id as _ACTIVE_GRANT chooses it, for the placement's own researcher and client.
_CANDIDATE = aliased(OrcidGrant)
_GRANT_OF_PLACEMENT = (
    select(_CANDIDATE.id)
    .join(Researcher, _CANDIDATE.researcher_id == Researcher.id)
    .where(
        Researcher.orcid == OrcidPlacement.orcid,
        _CANDIDATE.client_id == OrcidPlacement.client_id,
        _CANDIDATE.status == GrantStatus.ACTIVE,
    )
    .order_by(_CANDIDATE.id)
    .limit(1)
    .correlate(OrcidPlacement)
    .scalar_subquery()
)
_PLACEMENT_AND_GRANT = _reads(
    select(OrcidPlacement, OrcidGrant)
    .outerjoin(OrcidGrant, OrcidGrant.id == _GRANT_OF_PLACEMENT)
    .where(OrcidPlacement.id == bindparam("id"))
    .options(_WITH_WORK)
    .execution_options(populate_existing=True)
)


def placements_of_work(session: Session, work_id: int) -> list[OrcidPlacement]:
    """The work's placements, locked, as committed now (an event's hooks change them from
    what they read). Unlocked, a hook read a placement a worker was writing at that moment
    (pending), decided from that, and its update, waiting for the worker's commit, then wrote
    only the columns it changed: the worker's "placed" stood over the hook's "pending" and the
    newer version (or the withdrawal) was never sent (chaos run, RabbitMQ, seed 19)."""
    if none_names_new_work(session, OrcidPlacement, work_id):  # a work this transaction inserted
        return []
    return list(session.execute(_PLACEMENTS_OF_WORK, {"work_id": work_id}).scalars())


_PLACEMENTS_OF_WORK = (
    select(OrcidPlacement)
    .where(OrcidPlacement.work_id == bindparam("work_id"))
    .order_by(OrcidPlacement.id)
    .with_for_update()
    .execution_options(populate_existing=True)
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
    """The record's placements waiting for the researcher's consent (any client), with their
    works and DOIs loaded: a grant claims them all at once, and loading each work and DOI on
    first use was two queries per placement (half the grant's time in benchmark backfill)."""
    return list(
        session.execute(
            select(OrcidPlacement)
            .where(
                OrcidPlacement.orcid == orcid,
                OrcidPlacement.state == PlacementState.AWAITING_CONSENT,
            )
            .options(selectinload(OrcidPlacement.work).selectinload(Work.registration))
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
    """The record's placed, pending, failed and waiting (for consent) placements for one
    client, locked (skipping rows a worker holds)."""
    return list(
        session.execute(
            select(OrcidPlacement)
            .where(
                OrcidPlacement.orcid == orcid,
                OrcidPlacement.client_id == client_id,
                OrcidPlacement.state.in_(
                    (
                        PlacementState.PLACED,
                        PlacementState.PENDING,
                        PlacementState.FAILED,
                        PlacementState.AWAITING_CONSENT,
                    )
                ),
            )
            .order_by(OrcidPlacement.id)
            .with_for_update(skip_locked=True)
        ).scalars()
    )


def placement_last_due() -> Any:
    """When a placement was last due to be tried: its last message or its scheduled retry."""
    return func.greatest(OrcidPlacement.enqueued_at, OrcidPlacement.next_attempt_at)


def stalled_placement_keys(
    session: Session, before: datetime, limit: int
) -> list[tuple[int, str, str | None, bool]]:
    """(id, orcid, client_id, never placed) of pending placements with neither a message sent
    nor a retry due since ``before``. Keys only: the sweep locks and loads each in its own
    transaction."""
    last_due = placement_last_due()
    rows = session.execute(
        select(
            OrcidPlacement.id,
            OrcidPlacement.orcid,
            OrcidPlacement.client_id,
            OrcidPlacement.put_code.is_(None),
        )
        .where(
            OrcidPlacement.state == PlacementState.PENDING,
            or_(last_due.is_(None), last_due < before),
        )
        .order_by(OrcidPlacement.id)
        .limit(limit)
    )
    return [(row[0], row[1], row[2], bool(row[3])) for row in rows]


def placements_of_work_for_update(session: Session, work_id: int) -> list[OrcidPlacement]:
    """The work's placements, locked, with the work and its DOI registration."""
    return list(
        session.execute(_PLACEMENTS_OF_WORK_FOR_UPDATE, {"work_id": work_id}).unique().scalars()
    )


_PLACEMENTS_OF_WORK_FOR_UPDATE = (
    select(OrcidPlacement)
    .where(OrcidPlacement.work_id == bindparam("work_id"))
    .order_by(OrcidPlacement.id)
    .options(_WITH_WORK)
    .with_for_update(of=OrcidPlacement)
)


def consented_awaiting_ids(session: Session, limit: int) -> list[int]:
    """Placements awaiting consent whose researcher has an active grant that may place works
    (the grant and the work were processed at the same moment, or a message was lost) and
    that grant's client may take them: the placement is its own, or the work is neither on
    the record from another client nor placed by this one (as ``placements._claim`` rules)."""
    other = aliased(OrcidPlacement)
    placed_by_grantee = (
        select(other.id)
        .where(
            other.work_id == OrcidPlacement.work_id,
            other.orcid == OrcidPlacement.orcid,
            other.client_id == OrcidGrant.client_id,
        )
        .correlate(OrcidPlacement, OrcidGrant)
        .exists()
    )
    claimable = or_(
        OrcidPlacement.client_id == OrcidGrant.client_id,
        OrcidPlacement.put_code.is_(None) & ~OrcidPlacement.in_doubt & ~placed_by_grantee,
    )
    writable = active_write_grants(OrcidPlacement.orcid, OrcidGrant.id).where(claimable).exists()
    return list(
        session.execute(
            select(OrcidPlacement.id)
            .where(OrcidPlacement.state == PlacementState.AWAITING_CONSENT, writable)
            .order_by(OrcidPlacement.id)
            .limit(limit)
        ).scalars()
    )


def settled_awaiting_doi_ids(session: Session, limit: int) -> list[int]:
    """Placements awaiting their work's DOI where the DOI is no longer waiting for its agency
    (its settling message was lost, or raced with the event that made the placement)."""
    waiting = (DoiState.RESERVED, DoiState.ON_HOLD, DoiState.SUBMITTED)
    settled = (
        select(DoiRegistration.id)
        .where(
            DoiRegistration.work_id == OrcidPlacement.work_id,
            or_(
                DoiRegistration.state.not_in(waiting),
                DoiRegistration.registered_at.is_not(None),
            ),
        )
        .exists()
    )
    unregistered = (
        ~select(DoiRegistration.id)
        .where(DoiRegistration.work_id == OrcidPlacement.work_id)
        .exists()
    )
    return list(
        session.execute(
            select(OrcidPlacement.id)
            .where(OrcidPlacement.state == PlacementState.AWAITING_DOI, or_(settled, unregistered))
            .order_by(OrcidPlacement.id)
            .limit(limit)
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
                or_(OrcidPlacement.client_id == client_id, OrcidPlacement.client_id.is_(None)),
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


def family_placements_for_update(
    session: Session, family: str, owner: str | None
) -> list[OrcidPlacement]:
    """Every placement of a version family's works (one owner), locked, oldest first."""
    return list(
        session.execute(
            select(OrcidPlacement)
            .join(Work, Work.id == OrcidPlacement.work_id)
            .where(
                Work.family == family,
                Work.client_id.is_(None) if owner is None else Work.client_id == owner,
            )
            .order_by(OrcidPlacement.id)
            .options(_WITH_WORK)
            .with_for_update(of=OrcidPlacement)
        )
        .unique()
        .scalars()
    )


def family_orcids(session: Session, family: str, owner: str | None) -> list[str]:
    """The ORCID iDs with a placement of a family's works (to lock before touching them)."""
    return sorted(
        session.execute(
            select(OrcidPlacement.orcid)
            .join(Work, Work.id == OrcidPlacement.work_id)
            .where(
                Work.family == family,
                Work.client_id.is_(None) if owner is None else Work.client_id == owner,
            )
            .distinct()
        ).scalars()
    )
