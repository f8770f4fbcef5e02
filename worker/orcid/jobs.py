"""The scheduler's ORCID jobs. Each only reads Postgres and queues messages; the actors do the
calls. Postgres is the source of truth: a placement left pending (its message lost, its worker
gone) is sent again after a grace period; grants are tried with their token now and then so a
dead one is found before a push; webhooks follow the grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from worker.config import Settings
from worker.db import enqueue_after_commit
from worker.models import OrcidPlacement
from worker.orcid import repository
from worker.orcid.deps import OrcidDeps

STALLED_AFTER = timedelta(minutes=10)
BATCH = 500


def resend_stalled_placements(
    session: Session, *, grace: timedelta = STALLED_AFTER, limit: int = BATCH
) -> int:
    """Queue again every pending placement with no message sent for ``grace``: new works of
    one record together (one bulk backfill), the rest one by one."""
    now = datetime.now(UTC)
    rows = repository.stalled_placements(session, now - grace, limit)
    fresh: dict[tuple[str, str], list[OrcidPlacement]] = {}
    for row in rows:
        row.enqueued_at = now
        if row.put_code is None and row.client_id:
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


def queue_token_checks(session: Session, settings: Settings, *, limit: int = BATCH) -> int:
    """Queue a token check for active grants not checked for ``orcid_token_check_days``."""
    days = settings.orcid_token_check_days
    now = datetime.now(UTC)
    grants = repository.grants_due_for_check(session, now - timedelta(days=days), limit)
    count = 0
    for grant in grants:
        grant.last_checked_at = now  # not queued again until the next period
        enqueue_after_commit(session, "orcid.check_grant", grant.id)
        count += 1
    session.flush()
    return count


def webhook_upkeep(session: Session, deps: OrcidDeps) -> int:
    """Register webhooks for granted records, remove those of ended grants."""
    from worker.orcid import webhooks

    return webhooks.upkeep(session, deps)
