"""The scheduler's DOI jobs. Postgres is the source of truth for unfinished work: a change
whose message was lost (a Redis restart, a send that failed after commit) is sent again once
its next attempt is long past; deposits are uploaded, polled and flagged stale; confirmed DOIs
are read back a batch at a time. Every actor is idempotent, so a second message is harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.db import enqueue_after_commit
from worker.models import DepositStatus, DoiRegistration, DuplicateCheck, Registrar
from worker.registrars import reconcile, repository
from worker.registrars.crossref.service import flag_if_stale


def resend_stalled(session: Session, *, settings: Settings, now: datetime | None = None) -> int:
    """Re-send registrations with a change to send whose message is overdue (a batch of
    ``sweep_batch`` per run)."""

    now = now or utcnow()
    overdue = now - timedelta(seconds=settings.doi.resend_grace_seconds)
    stalled = repository.stalled_registrations(session, overdue=overdue, limit=settings.sweep_batch)
    batches: set[tuple[str, str]] = set()
    count = 0
    for reg in stalled:
        reg.next_attempt_at = now
        if reg.duplicate_check == DuplicateCheck.PENDING:
            enqueue_after_commit(session, "registrars.check_duplicates", reg.id)
        elif reg.registrar is Registrar.DATACITE:
            enqueue_after_commit(session, "registrars.datacite.sync", reg.id)
        else:
            batches.add((reg.account, reg.doi.split("/", 1)[0]))
        count += 1
    for account, prefix in sorted(batches):
        enqueue_after_commit(session, "registrars.crossref.batch", account, prefix)
    session.flush()
    return count


def deposit_upkeep(session: Session, *, settings: Settings, now: datetime | None = None) -> int:
    """Upload prepared deposits and poll submitted ones whose message is overdue; flag stale
    ones (a batch of ``sweep_batch`` per run). Returns how many messages were sent again."""

    now = now or utcnow()
    overdue = now - timedelta(seconds=settings.doi.resend_grace_seconds)
    deposits = repository.unfinished_deposits(session, limit=settings.sweep_batch)
    count = 0
    for deposit in deposits:
        flag_if_stale(session, settings, deposit, now)
        if deposit.next_poll_at is not None and deposit.next_poll_at >= overdue:
            continue
        deposit.next_poll_at = now
        step = "upload" if deposit.status == DepositStatus.PREPARED else "poll"
        enqueue_after_commit(session, f"registrars.crossref.{step}", deposit.id)
        count += 1
    session.flush()
    return count


def schedule_reconciliation(
    session: Session, *, settings: Settings, now: datetime | None = None
) -> int:
    """Enqueue a read-back of the confirmed DOIs due for one (a batch per run)."""

    now = now or utcnow()
    due = reconcile.due_registrations(
        session, settings, now=now, limit=settings.doi.reconcile_batch
    )
    for registration_id in due:
        reg = session.get(DoiRegistration, registration_id)
        if reg is not None:
            reg.reconciled_at = now  # not picked again while its message is queued
        enqueue_after_commit(session, "registrars.reconcile", registration_id)
    session.flush()
    return len(due)
