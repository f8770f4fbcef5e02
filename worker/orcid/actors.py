"""ORCID actors. Thin: ids in, one unit of work, one service call. A service that met a
transient failure recorded the try on the row the effect is about and returns the delay; the
actor postpones its message by that much after the commit (worker.retry), so the next try
sees the recorded state (a POST in doubt is read back before it is sent again)."""

from __future__ import annotations

from worker.bootstrap import runtime
from worker.broker import actor, later
from worker.orcid import (
    backfill,
    notifications,
    placements,
    reconcile,
    revocation,
    settled,
    suggestions,
    webhooks,
)

#: Milliseconds one message may run: a bulk POST of 100 works, or a wait for the record lock.
TIME_LIMIT = 300_000


@actor("orcid.place", time_limit=TIME_LIMIT)
def place_work(placement_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = placements.place(session, rt.orcid, placement_id)
    later(result.delay, result.note)


@actor("orcid.doi_settled", time_limit=TIME_LIMIT)
def doi_settled(work_id: int) -> None:
    """Sent by the registrars when a work's DOI is confirmed, fails for good or is withdrawn:
    settles the work's placements and places them (worker.orcid.settled)."""
    rt = runtime()
    result = settled.settle_and_place(rt.database, rt.orcid, work_id)
    later(result.delay, result.note)


@actor("orcid.backfill", time_limit=TIME_LIMIT)
def backfill_grant(grant_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = backfill.backfill(session, rt.orcid, grant_id)
    later(result.delay, result.note)


@actor("orcid.revoke_token", time_limit=TIME_LIMIT)
def revoke_token(grant_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = revocation.revoke_at_orcid(session, rt.orcid, grant_id)
    later(result.delay, result.note)


@actor("orcid.check_grant", time_limit=TIME_LIMIT)
def check_grant(grant_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = reconcile.check_grant(session, rt.orcid, grant_id)
    later(result.delay, result.note)


@actor("orcid.request_permission", time_limit=TIME_LIMIT)
def request_permission(grant_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = notifications.request_permission(session, rt.orcid, grant_id)
    later(result.delay, result.note)


@actor("orcid.register_webhook", time_limit=TIME_LIMIT)
def register_webhook(grant_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = webhooks.register(session, rt.orcid, grant_id)
    later(result.delay, result.note)


@actor("orcid.unregister_webhook", time_limit=TIME_LIMIT)
def unregister_webhook(grant_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = webhooks.unregister(session, rt.orcid, grant_id)
    later(result.delay, result.note)


@actor("orcid.reconcile", time_limit=TIME_LIMIT)
def reconcile_orcid(orcid: str) -> None:
    rt = runtime()
    with rt.session() as session:
        result = reconcile.reconcile_record(session, rt.orcid, orcid)
    later(result.delay, result.note)


@actor("orcid.suggest", time_limit=TIME_LIMIT)
def suggest_ids(work_id: int, attempt: int = 0) -> None:
    """``attempt``: failed tries so far; the service sends the next try itself (no row)."""
    rt = runtime()
    if not rt.settings.orcid_suggest_ids:
        return
    with rt.session() as session:
        suggestions.suggest_for_work(session, rt.orcid, work_id, attempt)
