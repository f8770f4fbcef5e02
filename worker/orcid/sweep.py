"""The scheduler's ORCID sweeps. Each only reads Postgres and queues messages; the actors do the
calls. Postgres is the source of truth: a placement left pending (its message lost, its worker
gone) is sent again after a grace period; grants are tried with their token now and then so a
dead one is found before a push; webhooks follow the grants; an effect about a grant whose
retry message was lost is sent again; a placement left waiting for consent although the
researcher has a usable grant, or for a DOI already settled, is queued (healing)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.db import enqueue_after_commit
from worker.logging import get_logger
from worker.models import GrantEffect, OrcidPlacement
from worker.orcid import consent, placements, repository, webhooks
from worker.orcid.deps import OrcidDeps

log = get_logger(__name__)


def resend_stalled_placements(session: Session, settings: Settings) -> int:
    """Queue again every pending placement with no message sent for
    ``settings.orcid.resend_grace_seconds`` (at most ``settings.sweep_batch``): new works of
    one record together (one bulk backfill), the rest one by one."""
    now = utcnow()
    grace = timedelta(seconds=settings.orcid.resend_grace_seconds)
    rows = repository.stalled_placements(session, now - grace, settings.sweep_batch)
    fresh: dict[tuple[str, str], list[OrcidPlacement]] = {}
    for row in rows:
        row.enqueued_at = now
        if row.put_code is None and row.client_id is not None:
            fresh.setdefault((row.orcid, row.client_id), []).append(row)
        else:
            enqueue_after_commit(session, "orcid.place", row.id)
    for (orcid, client_id), group in fresh.items():
        grant = repository.active_grant(session, orcid, client_id)
        if grant is not None and len(group) > 1:
            enqueue_after_commit(session, "orcid.backfill", grant.id)
            continue
        for row in group:
            enqueue_after_commit(session, "orcid.place", row.id)
    session.flush()
    return len(rows)


def heal_waiting_placements(session: Session, settings: Settings) -> int:
    """Queue placements stranded waiting: ``awaiting_consent`` although the researcher has a
    usable grant, ``awaiting_doi`` although the DOI is settled (at most
    ``settings.sweep_batch`` of each). Selects the ids, then handles each in its own
    savepoint: one that fails is logged and the sweep goes on. Returns how many moved."""
    ids = repository.consented_awaiting_ids(session, settings.sweep_batch)
    ids += repository.settled_awaiting_doi_ids(session, settings.sweep_batch)
    moved = 0
    for placement_id in ids:
        try:
            with session.begin_nested():
                moved += placements.resume_waiting(session, settings, placement_id)
        except Exception as exc:  # one bad row must not stall the others
            log.warning("orcid_heal_failed", placement_id=placement_id, error=str(exc))
    return moved


def resend_overdue_grant_effects(session: Session, settings: Settings) -> int:
    """Queue again each effect about a grant (token check or revocation, permission
    notification, webhook, reconciliation) whose next try is overdue by
    ``settings.orcid.resend_grace_seconds``: its postponed message was lost."""
    now = utcnow()
    grace = timedelta(seconds=settings.orcid.resend_grace_seconds)
    rows = repository.overdue_grant_attempts(session, now - grace, settings.sweep_batch)
    for row in rows:
        row.next_attempt_at = now  # not queued again before another grace period
        if row.effect == GrantEffect.RECONCILE:  # of a record, named by its iD
            enqueue_after_commit(session, row.effect.value, row.grant.researcher.orcid)
        else:
            enqueue_after_commit(session, row.effect.value, row.grant_id)
    session.flush()
    return len(rows)


def queue_token_checks(session: Session, settings: Settings) -> int:
    """Queue a token check for active grants not checked for ``orcid_token_check_days`` (at
    most ``settings.sweep_batch``)."""
    now = utcnow()
    checked_before = now - timedelta(days=settings.orcid_token_check_days)
    grants = repository.grants_due_for_check(session, checked_before, settings.sweep_batch)
    for grant in grants:
        grant.last_checked_at = now  # not queued again until the next period
        enqueue_after_commit(session, "orcid.check_grant", grant.id)
    session.flush()
    return len(grants)


def webhook_upkeep(session: Session, deps: OrcidDeps) -> int:
    """Register webhooks for granted records, remove those of ended grants."""
    return webhooks.upkeep(session, deps)


def purge_consent_states(session: Session, settings: Settings) -> int:
    """Delete expired consent requests (:func:`worker.orcid.consent.purge_expired`)."""
    return consent.purge_expired(session, settings)
