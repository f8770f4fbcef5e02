"""ORCID actors. Thin: ids in, one unit of work, one service call; a transient failure the
service recorded is raised after the commit, so the retry sees the recorded state (a POST in
doubt is read back before it is sent again)."""

from __future__ import annotations

from typing import Any

from worker.bootstrap import runtime
from worker.broker import actor
from worker.orcid import (
    backfill,
    notifications,
    placements,
    reconcile,
    revocation,
    suggestions,
    webhooks,
)

#: Backoff between retries: at most five minutes (the scheduler's sweep is the safety net).
RETRY: dict[str, Any] = {"min_backoff": 2_000, "max_backoff": 300_000, "time_limit": 300_000}


@actor("orcid.place", **RETRY)
def place_work(placement_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = placements.place(session, rt.orcid, placement_id)
    result.raise_if_retry()


@actor("orcid.backfill", **RETRY)
def backfill_grant(grant_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = backfill.backfill(session, rt.orcid, grant_id)
    result.raise_if_retry()


@actor("orcid.revoke_token", **RETRY)
def revoke_token(grant_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = revocation.revoke_at_orcid(session, rt.orcid, grant_id)
    result.raise_if_retry()


@actor("orcid.check_grant", **RETRY)
def check_grant(grant_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = revocation.check_grant(session, rt.orcid, grant_id)
    result.raise_if_retry()


@actor("orcid.request_permission", **RETRY)
def request_permission(grant_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = notifications.request_permission(session, rt.orcid, grant_id)
    result.raise_if_retry()


@actor("orcid.register_webhook", **RETRY)
def register_webhook(grant_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = webhooks.register(session, rt.orcid, grant_id)
    result.raise_if_retry()


@actor("orcid.unregister_webhook", **RETRY)
def unregister_webhook(grant_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = webhooks.unregister(session, rt.orcid, grant_id)
    result.raise_if_retry()


@actor("orcid.reconcile", **RETRY)
def reconcile_orcid(orcid: str) -> None:
    rt = runtime()
    with rt.session() as session:
        result = reconcile.reconcile_record(session, rt.orcid, orcid)
    result.raise_if_retry()


@actor("orcid.suggest", **RETRY)
def suggest_ids(work_id: int) -> None:
    rt = runtime()
    if not rt.settings.orcid_suggest_ids:
        return
    with rt.session() as session:
        result = suggestions.suggest_for_work(session, rt.orcid, work_id)
    result.raise_if_retry()
