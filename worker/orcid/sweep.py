"""The scheduler's ORCID sweeps. Each only reads Postgres and queues messages; the actors do the
calls. Postgres is the source of truth: a placement left pending (its message lost, its worker
gone) is sent again after a grace period; grants are tried with their token now and then so a
dead one is found before a push; webhooks follow the grants; an effect about a grant whose
retry message was lost is sent again; a placement left waiting for consent although the
researcher has a usable grant, or for a DOI already settled, is queued (healing).

Each row is handled in its own transaction (``worker.sweeping``); a row that cannot be handled
is parked with the reason on it: a placement ``failed`` with ``last_error``, a grant effect
failed (``failed_at``, ``last_error``) where the status API shows it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.db import Database, enqueue_after_commit
from worker.models import (
    GrantEffect,
    GrantStatus,
    OrcidGrant,
    OrcidGrantAttempt,
    OrcidPlacement,
    PlacementState,
)
from worker.orcid import consent, placements, repository, webhooks
from worker.orcid.deps import OrcidDeps
from worker.sweeping import RowSweep, run_sweep

PlacementKey = tuple[int, str, str | None, bool]


def resend_stalled_placements(database: Database, settings: Settings) -> int:
    """Queue again every pending placement with no message sent for
    ``settings.orcid.resend_grace_seconds`` (at most ``settings.sweep_batch``): new works of
    one record together (one bulk backfill), the rest one by one."""
    now = utcnow()
    before = now - timedelta(seconds=settings.orcid.resend_grace_seconds)
    fresh: Counter[tuple[str, str | None]] = Counter()
    backfills: set[int] = set()

    def pick(session: Session) -> list[PlacementKey]:
        keys = repository.stalled_placement_keys(session, before, settings.sweep_batch)
        fresh.update(
            (orcid, client) for _, orcid, client, new in keys if new and client is not None
        )
        return keys

    def handle(session: Session, key: PlacementKey) -> bool:
        placement_id, orcid, client_id, new = key
        row = session.get(OrcidPlacement, placement_id, with_for_update={"skip_locked": True})
        if row is None or not _still_stalled(row, before):
            return False
        row.enqueued_at = now
        if new and client_id is not None and fresh[(orcid, client_id)] > 1:
            grant = repository.active_grant(session, orcid, client_id)
            if grant is not None:  # one bulk backfill for the record's new works
                backfills.add(grant.id)
                session.flush()
                return True
        enqueue_after_commit(session, "orcid.place", row.id)
        session.flush()
        return True

    sweep = RowSweep("orcid_stalled_placements", pick, handle, park_placement)
    count = run_sweep(
        database,
        sweep,
        error_chars=settings.error_text_chars,
        lock_timeout=settings.sweep_lock_timeout_seconds,
    )
    if backfills:
        with database.session() as session:
            for grant_id in sorted(backfills):
                enqueue_after_commit(session, "orcid.backfill", grant_id)
    return count


def heal_waiting_placements(database: Database, settings: Settings) -> int:
    """Queue placements stranded waiting: ``awaiting_consent`` although the researcher has a
    usable grant, ``awaiting_doi`` although the DOI is settled (at most
    ``settings.sweep_batch`` of each), each in its own transaction. Returns how many moved."""
    sweep = RowSweep(
        "orcid_heal_waiting_placements",
        pick=lambda s: [
            *repository.consented_awaiting_ids(s, settings.sweep_batch),
            *repository.settled_awaiting_doi_ids(s, settings.sweep_batch),
        ],
        handle=partial(_resume, settings=settings),
        park=_park_waiting,
    )
    return run_sweep(
        database,
        sweep,
        error_chars=settings.error_text_chars,
        lock_timeout=settings.sweep_lock_timeout_seconds,
    )


def _resume(session: Session, placement_id: int, *, settings: Settings) -> bool:
    return placements.resume_waiting(session, settings, placement_id)


def _park_waiting(session: Session, placement_id: int, reason: str) -> None:
    session.execute(
        update(OrcidPlacement)
        .where(
            OrcidPlacement.id == placement_id,
            OrcidPlacement.state.in_(
                (PlacementState.AWAITING_CONSENT, PlacementState.AWAITING_DOI)
            ),
        )
        .values(state=PlacementState.FAILED, last_error=reason)
    )


def _still_stalled(row: OrcidPlacement, before: datetime) -> bool:
    if row.state != PlacementState.PENDING:
        return False
    due = [t for t in (row.enqueued_at, row.next_attempt_at) if t is not None]
    return not due or max(due) < before


def park_placement(session: Session, key: PlacementKey, reason: str) -> None:
    session.execute(
        update(OrcidPlacement)
        .where(OrcidPlacement.id == key[0], OrcidPlacement.state == PlacementState.PENDING)
        .values(state=PlacementState.FAILED, last_error=reason)
    )


def resend_overdue_grant_effects(database: Database, settings: Settings) -> int:
    """Queue again each effect about a grant (token check or revocation, permission
    notification, webhook, reconciliation) whose next try is overdue by
    ``settings.orcid.resend_grace_seconds``: its postponed message was lost."""
    now = utcnow()
    due_before = now - timedelta(seconds=settings.orcid.resend_grace_seconds)
    sweep = RowSweep(
        "orcid_grant_effects",
        pick=lambda s: repository.overdue_grant_attempt_ids(s, due_before, settings.sweep_batch),
        handle=partial(_resend_effect, due_before=due_before, now=now),
        park=_park_attempt,
    )
    return run_sweep(
        database,
        sweep,
        error_chars=settings.error_text_chars,
        lock_timeout=settings.sweep_lock_timeout_seconds,
    )


def _resend_effect(
    session: Session, attempt_id: int, *, due_before: datetime, now: datetime
) -> bool:
    row = session.get(OrcidGrantAttempt, attempt_id, with_for_update={"skip_locked": True})
    if row is None or row.failed_at is not None or row.next_attempt_at is None:
        return False
    if row.next_attempt_at >= due_before:
        return False
    row.next_attempt_at = now  # not queued again before another grace period
    if row.effect == GrantEffect.RECONCILE:  # of a record, named by its iD
        enqueue_after_commit(session, row.effect.value, row.grant.researcher.orcid)
    else:
        enqueue_after_commit(session, row.effect.value, row.grant_id)
    session.flush()
    return True


def _park_attempt(session: Session, attempt_id: int, reason: str) -> None:
    session.execute(
        update(OrcidGrantAttempt)
        .where(OrcidGrantAttempt.id == attempt_id)
        .values(failed_at=utcnow(), last_error=reason)
    )


def park_grant_effect(session: Session, grant_id: int, effect: GrantEffect, reason: str) -> None:
    """Record ``effect`` of the grant as failed with ``reason`` (a person acts on it)."""
    now = utcnow()
    session.execute(
        insert(OrcidGrantAttempt)
        .values(grant_id=grant_id, effect=effect, attempts=0, last_error=reason, failed_at=now)
        .on_conflict_do_update(
            constraint="uq_orcid_grant_attempts_grant_effect",
            set_={"last_error": reason, "failed_at": now, "next_attempt_at": None},
        )
    )


def queue_token_checks(database: Database, settings: Settings) -> int:
    """Queue a token check for active grants not checked for ``orcid_token_check_days`` (at
    most ``settings.sweep_batch``)."""
    now = utcnow()
    checked_before = now - timedelta(days=settings.orcid_token_check_days)
    sweep = RowSweep(
        "orcid_token_health",
        pick=lambda s: repository.grant_ids_due_for_check(s, checked_before, settings.sweep_batch),
        handle=partial(_queue_check, checked_before=checked_before, now=now),
        park=partial(_park_check, now=now),
    )
    return run_sweep(
        database,
        sweep,
        error_chars=settings.error_text_chars,
        lock_timeout=settings.sweep_lock_timeout_seconds,
    )


def _queue_check(
    session: Session, grant_id: int, *, checked_before: datetime, now: datetime
) -> bool:
    grant = session.get(OrcidGrant, grant_id, with_for_update={"skip_locked": True})
    if grant is None or grant.status != GrantStatus.ACTIVE:
        return False
    if grant.last_checked_at is not None and grant.last_checked_at >= checked_before:
        return False
    grant.last_checked_at = now  # not queued again until the next period
    enqueue_after_commit(session, "orcid.check_grant", grant.id)
    session.flush()
    return True


def _park_check(session: Session, grant_id: int, reason: str, *, now: datetime) -> None:
    session.execute(update(OrcidGrant).where(OrcidGrant.id == grant_id).values(last_checked_at=now))
    park_grant_effect(session, grant_id, GrantEffect.CHECK_GRANT, reason)


def webhook_upkeep(database: Database, deps: OrcidDeps) -> int:
    """Register webhooks for granted records, remove those of ended grants."""
    sweep = RowSweep(
        "orcid_webhook_upkeep",
        pick=repository.grant_ids_with_webhook_to_change,
        handle=lambda session, grant_id: webhooks.upkeep_grant(session, deps, grant_id),
        park=_park_webhook,
    )
    return run_sweep(
        database,
        sweep,
        error_chars=deps.settings.error_text_chars,
        lock_timeout=deps.settings.sweep_lock_timeout_seconds,
    )


def _park_webhook(session: Session, grant_id: int, reason: str) -> None:
    status = session.execute(select(OrcidGrant.status).where(OrcidGrant.id == grant_id)).scalar()
    effect = (
        GrantEffect.REGISTER_WEBHOOK
        if status == GrantStatus.ACTIVE
        else GrantEffect.UNREGISTER_WEBHOOK
    )
    park_grant_effect(session, grant_id, effect, reason)


def purge_consent_states(database: Database, settings: Settings) -> int:
    """Delete expired consent requests (:func:`worker.orcid.consent.purge_expired`): one
    DELETE in one transaction (it reads no row's values, so no row can stall it)."""
    with database.session() as session:
        return consent.purge_expired(session, settings)
