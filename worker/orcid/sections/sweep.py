"""The scheduler's sweeps of the other sections: Postgres is the source of truth, so an item
left pending (its message lost, its worker gone) is queued again after the grace period
(``settings.orcid.resend_grace_seconds``), and an item left awaiting consent although its
researcher has a usable grant is queued (healing); one transaction per item
(``worker.sweeping``); an item that cannot be handled is parked ``failed`` with the reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.db import Database
from worker.models import OrcidItem, PlacementState
from worker.orcid.sections import repository
from worker.orcid.sections.service import heal, queue_item
from worker.sweeping import RowSweep, run_sweep


def resend_stalled_items(database: Database, settings: Settings) -> int:
    before = utcnow() - timedelta(seconds=settings.orcid.resend_grace_seconds)

    def pick(session: Session) -> list[int]:
        return repository.stalled_item_ids(session, before, settings.sweep_batch)

    def handle(session: Session, item_id: int) -> bool:
        row = repository.item_for_update(session, item_id, skip_locked=True)
        if row is None or row.state != PlacementState.PENDING:
            return False
        if (row.enqueued_at and row.enqueued_at >= before) or (
            row.next_attempt_at and row.next_attempt_at >= before
        ):
            return False
        attempts = row.attempts
        queue_item(session, row)
        row.attempts = attempts  # a lost message is not a new series of tries
        return True

    sweep = RowSweep("orcid_stalled_items", pick, handle, _parker(settings))
    return run_sweep(
        database,
        sweep,
        error_chars=settings.error_text_chars,
        lock_timeout=settings.sweep_lock_timeout_seconds,
    )


def heal_waiting_items(database: Database, settings: Settings) -> int:
    def pick(session: Session) -> list[int]:
        return repository.consented_awaiting_item_ids(session, settings.sweep_batch)

    sweep = RowSweep("orcid_heal_waiting_items", pick, heal, _parker(settings))
    return run_sweep(
        database,
        sweep,
        error_chars=settings.error_text_chars,
        lock_timeout=settings.sweep_lock_timeout_seconds,
    )


def _parker(settings: Settings) -> Callable[[Session, int, str], None]:
    def park(session: Session, item_id: int, reason: str) -> None:
        row = session.get(OrcidItem, item_id)
        if row is not None:
            row.state = PlacementState.FAILED
            row.last_error = reason[: settings.error_text_chars]

    return park
