"""The registrars' queries: every read of registrations and Crossref deposits the services and
sweeps make, in one place. What to do with the rows is the services' decision; the times and
sizes that bound a query (how overdue, how many) are theirs too, passed in.

Rows that a service will change are locked (``FOR UPDATE``); the sweeps skip rows another
worker holds (``SKIP LOCKED``) rather than wait for them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from worker.db import none_names_new_work
from worker.models import (
    CrossrefDeposit,
    CrossrefDepositRecord,
    DepositStatus,
    DoiRegistration,
    DoiState,
    DuplicateCheck,
    RecordOutcome,
    Registrar,
    Work,
)

#: States that say what the agency confirmed.
CONFIRMED = (DoiState.REGISTERED, DoiState.FINDABLE, DoiState.WITHDRAWN)
#: ``confirmed_hash`` of a DOI withdrawn before anything was sent for it.
NEVER_SENT = "never-sent"
#: Deposits Crossref has not finished processing.
OPEN = (DepositStatus.SUBMITTED, DepositStatus.QUEUED, DepositStatus.IN_PROCESS)
#: Record outcomes by which Crossref accepted a record.
ACCEPTED = (RecordOutcome.SUCCESS, RecordOutcome.WARNING)


# --- registrations -------------------------------------------------------------------------


def lock_registration(session: Session, registration_id: int) -> DoiRegistration | None:
    """The registration, locked, with its work as committed once the lock is held.

    Two statements: one that waited for the row lock sees the locked row's newest version but
    every joined row as it was when the statement began (PostgreSQL re-reads only the rows it
    locks). An event commits a work's new version and the registration's pending change
    together; a sync that waited for that event then read the change with the work before it,
    found the older version equal to what the agency had confirmed, and cleared the change:
    the newer version was never sent (chaos suite, a loaded CI machine)."""
    if session.execute(_LOCK_REGISTRATION, {"id": registration_id}).scalar_one_or_none() is None:
        return None
    return session.execute(_REGISTRATION_WITH_WORK, {"id": registration_id}).scalar_one()


# Built once with bound parameters: these run for every DOI and every work event, and building
# a Select costs about as much CPU as running it (issue 13's profile).
_LOCK_REGISTRATION = (
    select(DoiRegistration.id).where(DoiRegistration.id == bindparam("id")).with_for_update()
)
_REGISTRATION_WITH_WORK = (
    select(DoiRegistration)
    .where(DoiRegistration.id == bindparam("id"))
    .options(joinedload(DoiRegistration.work))
    .execution_options(populate_existing=True)
)


def registration_of(session: Session, work: Work, *, lock: bool = True) -> DoiRegistration | None:
    """The work's registration (locked unless ``lock`` is False), also set as
    ``work.registration``: the ORCID hook reads it there next, which would otherwise load it
    again (issue 13: a query per event)."""
    reg = (
        None  # a work this transaction inserted, nothing written for it yet
        if none_names_new_work(session, DoiRegistration, work.id)
        else session.execute(_REGISTRATION_OF[lock], {"work_id": work.id}).scalar_one_or_none()
    )
    set_committed_value(work, "registration", reg)
    return reg


_REGISTRATION_OF = {
    False: select(DoiRegistration).where(DoiRegistration.work_id == bindparam("work_id")),
}
_REGISTRATION_OF[True] = _REGISTRATION_OF[False].with_for_update()


def registration_with_doi(session: Session, doi: str) -> DoiRegistration | None:
    """The registration holding ``doi`` (whichever work it belongs to)."""
    return session.execute(
        select(DoiRegistration).where(DoiRegistration.doi == doi)
    ).scalar_one_or_none()


def stalled_registration_ids(session: Session, *, overdue: datetime, limit: int) -> list[int]:
    """Registrations with a change to send outside a deposit in flight, whose next attempt (or,
    with none scheduled, whose change) is older than ``overdue``; oldest id first. Ids only:
    the sweep locks and loads each in its own transaction."""
    return list(
        session.execute(
            select(DoiRegistration.id)
            .where(
                DoiRegistration.pending_hash.is_not(None),
                DoiRegistration.state != DoiState.ON_HOLD,
                DoiRegistration.open_deposit_id.is_(None),
                or_(
                    DoiRegistration.next_attempt_at < overdue,
                    DoiRegistration.next_attempt_at.is_(None)
                    & (DoiRegistration.pending_since < overdue),
                ),
            )
            .order_by(DoiRegistration.id)
            .limit(limit)
        ).scalars()
    )


def batch_candidates(
    session: Session, *, account: str, prefix: str, limit: int
) -> list[DoiRegistration]:
    """Crossref registrations of one account and prefix with a change to deposit, not in a
    deposit already, not held, not waiting for the duplicate check; locked, with their works,
    the longest waiting first."""
    return list(
        session.execute(
            select(DoiRegistration)
            .where(
                DoiRegistration.registrar == Registrar.CROSSREF,
                DoiRegistration.account == account,
                DoiRegistration.doi.startswith(prefix + "/", autoescape=True),
                DoiRegistration.pending_hash.is_not(None),
                DoiRegistration.open_deposit_id.is_(None),
                DoiRegistration.state != DoiState.ON_HOLD,
                or_(
                    DoiRegistration.duplicate_check.is_(None),
                    DoiRegistration.duplicate_check != DuplicateCheck.PENDING,
                ),
            )
            .order_by(DoiRegistration.pending_since, DoiRegistration.id)
            .limit(limit)
            .options(selectinload(DoiRegistration.work))
            .with_for_update(skip_locked=True, of=DoiRegistration)
        ).scalars()
    )


def due_reconciliations(
    session: Session,
    *,
    confirmed_before: datetime,
    since: datetime | None = None,
    read_back_before: datetime | None = None,
    limit: int | None = None,
) -> list[int]:
    """Ids of confirmed registrations with nothing pending (and something ever sent):
    confirmed before ``confirmed_before`` and, when given, since ``since``; when
    ``read_back_before`` is given, only those never read back or read back before it. Never
    read back first."""
    query = select(DoiRegistration.id).where(
        DoiRegistration.state.in_(CONFIRMED),
        DoiRegistration.pending_hash.is_(None),
        DoiRegistration.confirmed_hash.is_not(None),
        DoiRegistration.confirmed_hash != NEVER_SENT,
        DoiRegistration.confirmed_at <= confirmed_before,
    )
    if since is not None:
        query = query.where(DoiRegistration.confirmed_at >= since)
    if read_back_before is not None:
        query = query.where(
            or_(
                DoiRegistration.reconciled_at.is_(None),
                DoiRegistration.reconciled_at < read_back_before,
            )
        )
    query = query.order_by(DoiRegistration.reconciled_at.nulls_first(), DoiRegistration.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


# --- Crossref deposits ---------------------------------------------------------------------


def lock_deposit(session: Session, deposit_id: int) -> CrossrefDeposit | None:
    return session.execute(
        select(CrossrefDeposit).where(CrossrefDeposit.id == deposit_id).with_for_update()
    ).scalar_one_or_none()


def deposit_registrations(session: Session, deposit: CrossrefDeposit) -> list[DoiRegistration]:
    """The registrations a deposit carries, locked in id order (the order every worker locks
    them in, so two never wait for each other), read as committed once locked (one loaded
    earlier in the session would otherwise keep what it held then)."""
    ids = sorted({record.registration_id for record in deposit.records})
    return list(
        session.execute(
            select(DoiRegistration)
            .where(DoiRegistration.id.in_(ids))
            .order_by(DoiRegistration.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars()
    )


def unfinished_deposit_ids(session: Session, *, limit: int) -> list[int]:
    """Deposits prepared but not uploaded, or uploaded and not processed yet; oldest first.
    Ids only: the sweep locks and loads each in its own transaction."""
    return list(
        session.execute(
            select(CrossrefDeposit.id)
            .where(CrossrefDeposit.status.in_((DepositStatus.PREPARED, *OPEN)))
            .order_by(CrossrefDeposit.id)
            .limit(limit)
        ).scalars()
    )


def pending_submissions(session: Session, account: str) -> int:
    """How many of the account's submissions Crossref is still processing."""
    return int(
        session.execute(
            select(func.count())
            .select_from(CrossrefDeposit)
            .where(CrossrefDeposit.account == account, CrossrefDeposit.status.in_(OPEN))
        ).scalar_one()
    )


def accepted_same_payload(session: Session, record: CrossrefDepositRecord) -> bool:
    """Whether Crossref accepted another record of the same registration with the same payload
    and a timestamp at least this record's."""
    earlier = session.execute(
        select(CrossrefDepositRecord.id).where(
            CrossrefDepositRecord.registration_id == record.registration_id,
            CrossrefDepositRecord.id != record.id,
            CrossrefDepositRecord.payload_hash == record.payload_hash,
            CrossrefDepositRecord.timestamp >= record.timestamp,
            CrossrefDepositRecord.status.in_(ACCEPTED),
        )
    ).first()
    return earlier is not None
