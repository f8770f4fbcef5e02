"""The scheduler's DOI jobs. Postgres is the source of truth for unfinished work: a change
whose message was lost (a Redis restart, a send that failed after commit) is sent again once
its next attempt is long past; deposits are uploaded, polled and flagged stale; confirmed DOIs
are read back a batch at a time. Every actor is idempotent, so a second message is harmless.

Each row is handled in its own transaction (``worker.sweeping``); a row that cannot be handled
is parked with the reason on it (a registration ``failed`` with ``last_error``, a deposit
``failed``, a read-back skipped until the next interval with a ``warning``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import update
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.db import Database, enqueue_after_commit
from worker.models import (
    CrossrefDeposit,
    DepositStatus,
    DoiRegistration,
    DoiState,
    DuplicateCheck,
    Registrar,
)
from worker.registrars import reconcile, repository
from worker.registrars.crossref.service import flag_if_stale
from worker.sweeping import RowSweep, run_sweep

UNFINISHED = (DepositStatus.PREPARED, *repository.OPEN)


def resend_stalled(database: Database, *, settings: Settings, now: datetime | None = None) -> int:
    """Re-send registrations with a change to send whose message is overdue (a batch of
    ``sweep_batch`` per run). Crossref changes are sent as one batch message per account and
    prefix, after the rows."""

    now = now or utcnow()
    overdue = now - timedelta(seconds=settings.doi.resend_grace_seconds)
    batches: set[tuple[str, str]] = set()
    sweep = RowSweep(
        "resend_stalled_dois",
        pick=lambda s: repository.stalled_registration_ids(
            s, overdue=overdue, limit=settings.sweep_batch
        ),
        handle=partial(_resend, overdue=overdue, now=now, batches=batches),
        park=park_registration,
    )
    count = run_sweep(
        database,
        sweep,
        error_chars=settings.error_text_chars,
        lock_timeout=settings.sweep_lock_timeout_seconds,
    )
    if batches:
        with database.session() as session:
            for account, prefix in sorted(batches):
                enqueue_after_commit(session, "registrars.crossref.batch", account, prefix)
    return count


def _resend(
    session: Session,
    registration_id: int,
    *,
    overdue: datetime,
    now: datetime,
    batches: set[tuple[str, str]],
) -> bool:
    reg = session.get(DoiRegistration, registration_id, with_for_update={"skip_locked": True})
    if reg is None or not _still_stalled(reg, overdue):
        return False  # a worker holds it, or it moved on since the pick
    reg.next_attempt_at = now
    if reg.duplicate_check == DuplicateCheck.PENDING:
        enqueue_after_commit(session, "registrars.check_duplicates", reg.id)
    elif reg.registrar is Registrar.DATACITE:
        enqueue_after_commit(session, "registrars.datacite.sync", reg.id)
    else:
        batches.add((reg.account, reg.doi.split("/", 1)[0]))
    session.flush()
    return True


def _still_stalled(reg: DoiRegistration, overdue: datetime) -> bool:
    if reg.pending_hash is None or reg.state == DoiState.ON_HOLD or reg.open_deposit_id:
        return False
    if reg.next_attempt_at is not None:
        return reg.next_attempt_at < overdue
    return reg.pending_since is not None and reg.pending_since < overdue


def park_registration(session: Session, registration_id: int, reason: str) -> None:
    """Failed with ``reason``; no next attempt, so the sweep leaves it to a person (a new event
    for the work schedules it again)."""
    session.execute(
        update(DoiRegistration)
        .where(DoiRegistration.id == registration_id)
        .values(state=DoiState.FAILED, last_error=reason, next_attempt_at=None, pending_since=None)
    )


def deposit_upkeep(database: Database, *, settings: Settings, now: datetime | None = None) -> int:
    """Upload prepared deposits and poll submitted ones whose message is overdue; flag stale
    ones (a batch of ``sweep_batch`` per run). Returns how many messages were sent again."""

    now = now or utcnow()
    overdue = now - timedelta(seconds=settings.doi.resend_grace_seconds)
    sweep = RowSweep(
        "crossref_deposit_upkeep",
        pick=lambda s: repository.unfinished_deposit_ids(s, limit=settings.sweep_batch),
        handle=partial(_deposit_step, settings=settings, overdue=overdue, now=now),
        park=park_deposit,
    )
    return run_sweep(
        database,
        sweep,
        error_chars=settings.error_text_chars,
        lock_timeout=settings.sweep_lock_timeout_seconds,
    )


def _deposit_step(
    session: Session, deposit_id: int, *, settings: Settings, overdue: datetime, now: datetime
) -> bool:
    deposit = session.get(CrossrefDeposit, deposit_id, with_for_update={"skip_locked": True})
    if deposit is None or deposit.status not in UNFINISHED:
        return False
    flag_if_stale(session, settings, deposit, now)
    if deposit.next_poll_at is not None and deposit.next_poll_at >= overdue:
        session.flush()
        return False
    deposit.next_poll_at = now
    step = "upload" if deposit.status == DepositStatus.PREPARED else "poll"
    enqueue_after_commit(session, f"registrars.crossref.{step}", deposit.id)
    session.flush()
    return True


def park_deposit(session: Session, deposit_id: int, reason: str) -> None:
    session.execute(
        update(CrossrefDeposit)
        .where(CrossrefDeposit.id == deposit_id, CrossrefDeposit.status.in_(UNFINISHED))
        .values(status=DepositStatus.FAILED, last_error=reason)
    )


def schedule_reconciliation(
    database: Database, *, settings: Settings, now: datetime | None = None
) -> int:
    """Enqueue a read-back of the confirmed DOIs due for one (a batch per run)."""

    now = now or utcnow()
    sweep = RowSweep(
        "reconcile_dois",
        pick=lambda s: reconcile.due_registrations(
            s, settings, now=now, limit=settings.doi.reconcile_batch
        ),
        handle=partial(_queue_read_back, now=now),
        park=partial(_park_read_back, now=now),
    )
    return run_sweep(
        database,
        sweep,
        error_chars=settings.error_text_chars,
        lock_timeout=settings.sweep_lock_timeout_seconds,
    )


def _queue_read_back(session: Session, registration_id: int, *, now: datetime) -> bool:
    reg = session.get(DoiRegistration, registration_id, with_for_update={"skip_locked": True})
    if reg is None:
        return False
    reg.reconciled_at = now  # not picked again while its message is queued
    enqueue_after_commit(session, "registrars.reconcile", registration_id)
    session.flush()
    return True


def _park_read_back(session: Session, registration_id: int, reason: str, *, now: datetime) -> None:
    """Not read back this interval; the reason is the registration's warning."""
    session.execute(
        update(DoiRegistration)
        .where(DoiRegistration.id == registration_id)
        .values(reconciled_at=now, warning=reason)
    )
