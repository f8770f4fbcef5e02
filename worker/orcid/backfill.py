"""Backfill through the bulk endpoint: when a grant arrives, the researcher's works are placed
up to 100 per request (``POST /works``), one chunk per message, each item's outcome handled
exactly like a single call's (placed, adopted after 9021, failed with ORCID's message)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.db import enqueue_after_commit
from worker.errors import TransientError, error_text
from worker.metadata.errors import MetadataError, WorkValidationError
from worker.models import GrantStatus, OrcidGrant, OrcidPlacement
from worker.notify.types import ORCID_BACKFILLED
from worker.orcid import family, repository
from worker.orcid import payload as render
from worker.orcid.attempts import log_retry
from worker.orcid.client import BULK_MAX, BulkItem, MemberClient, OrcidError, RevokedToken
from worker.orcid.grants import access_token, can_write
from worker.orcid.placements import (
    find_ours,
    held_back,
    mark_failed,
    mark_placed,
    placed_news,
    queue_placement,
    retry_later,
)
from worker.orcid.recipients import prefetch_work_clients, tell_works
from worker.orcid.result import Result
from worker.orcid.revocation import handle_revoked, revoked_reason

if TYPE_CHECKING:
    from worker.orcid.deps import OrcidDeps


def backfill(session: Session, deps: OrcidDeps, grant_id: int) -> Result:
    """Place up to 100 of the researcher's pending works with one bulk POST; queue the next
    chunk. Per-item outcomes are handled exactly like single calls."""

    grant = session.get(OrcidGrant, grant_id)
    if grant is None or grant.status != GrantStatus.ACTIVE or not can_write(grant):
        return Result("grant not active: nothing to place")
    orcid = grant.researcher.orcid
    rows = repository.pending_placements(
        session, orcid, grant.client_id, limit=BULK_MAX, claim=True
    )
    if not rows:
        return Result("nothing pending")
    prefetch_work_clients(session, [row.work_id for row in rows])
    fresh: list[tuple[OrcidPlacement, dict[str, Any], str]] = []
    for row in rows:
        row.enqueued_at = utcnow()
        present = row.work.withdrawn_at is None and orcid in render.contributor_orcids(row.work)
        if row.put_code is not None or not present or family.in_family(deps.settings, row):
            queue_placement(
                session, row
            )  # an update or a removal: one call each, by the single path
            continue
        if held_back(deps.settings, row):  # its DOI is not confirmed yet (or failed: skipped)
            continue
        try:
            body = render.orcid_work(row.work)
        except (MetadataError, WorkValidationError) as exc:
            mark_failed(session, deps.settings, row, f"cannot render the ORCID work: {exc}")
            continue
        fresh.append((row, body, render.digest(body)))
    result = Result("nothing to send in bulk")
    if fresh:
        result = _bulk(session, deps, grant, fresh)
    if result.delay is None and grant.status == GrantStatus.ACTIVE:
        besides = [r.id for r in rows]
        if repository.count_unsent_pending(session, orcid, grant.client_id, besides):
            enqueue_after_commit(session, "orcid.backfill", grant.id)
    session.flush()
    return result


Fresh = list[tuple[OrcidPlacement, dict[str, Any], str]]


def _adopt_in_doubt(
    session: Session, client: MemberClient, token: str, grant: OrcidGrant, fresh: Fresh
) -> Fresh:
    """Rows whose earlier bulk answer was lost: adopt those that landed (one read); the rest."""
    if not any(row.in_doubt for row, _b, _d in fresh):
        return fresh
    summaries = client.works(grant.researcher.orcid, token)
    remaining = []
    for row, body, digest in fresh:
        found = find_ours(summaries, grant.client_id, render.payload_self_ids(body))
        row.in_doubt = False
        if found is None:
            remaining.append((row, body, digest))
            continue
        row.put_code = found.put_code  # adopted: PUT the current metadata
        queue_placement(session, row)
    return remaining


def _bulk(session: Session, deps: OrcidDeps, grant: OrcidGrant, fresh: Fresh) -> Result:
    client = deps.member(grant.client_id)
    token = access_token(deps.cipher, grant)
    try:
        with deps.locks.hold(grant.researcher.orcid):
            fresh = _adopt_in_doubt(session, client, token, grant, fresh)
            if not fresh:
                return Result("every work was already on the record: adopted")
            for row, _body, _digest in fresh:
                row.in_doubt = True
                row.attempts += 1
            items = client.add_works(grant.researcher.orcid, token, [b for _r, b, _d in fresh])
    except RevokedToken as exc:
        for row, _body, _digest in fresh:
            row.in_doubt = False
        return handle_revoked(session, deps.settings, grant, revoked_reason(exc))
    except OrcidError as exc:
        # The whole request was refused (not one item): place these one by one instead.
        for row, _body, _digest in fresh:
            row.in_doubt = False
            queue_placement(session, row)
        why = error_text(exc, deps.settings.error_text_chars)
        return Result(f"bulk refused ({why}); placing one by one")
    except TransientError as exc:
        return _transient(session, deps, grant, [row for row, _b, _d in fresh], exc)
    return _apply_items(session, deps, fresh, items)


def _transient(
    session: Session,
    deps: OrcidDeps,
    grant: OrcidGrant,
    rows: list[OrcidPlacement],
    exc: TransientError,
) -> Result:
    """The bulk request failed transiently: each placement records the try (one whose tries
    are spent fails, and is told); the message runs again when the last of the others is due.
    Those sent stay in doubt, so the next try reads the record before posting again."""
    delays = [d for row in rows if (d := retry_later(session, deps.settings, row, exc)) is not None]
    why = error_text(exc, deps.settings.error_text_chars)
    if not delays:
        return Result(f"failed: retries exhausted ({why})", failed=True)
    delay = max(delays)
    attempt = max(row.attempts for row in rows)
    log_retry(
        "orcid.backfill", attempt, delay, why, orcid=grant.researcher.orcid, works=len(delays)
    )
    return Result(f"will retry in {delay:g}s: {why}", delay=delay)


def _apply_items(session: Session, deps: OrcidDeps, fresh: Fresh, items: list[BulkItem]) -> Result:
    """Each bulk item's outcome, handled like the answer to a single call."""
    with session.no_autoflush:
        return _apply_each(session, deps, fresh, items)


def _apply_each(session: Session, deps: OrcidDeps, fresh: Fresh, items: list[BulkItem]) -> Result:
    placed: list[tuple[OrcidPlacement, str]] = []
    adopted = failed = 0
    for (row, _body, digest), item in zip(fresh, items, strict=False):
        row.in_doubt = False
        if item.put_code is not None:
            row.put_code = item.put_code
            placed.append((row, mark_placed(row, digest)))
            continue
        error = item.error
        assert error is not None  # noqa: S101 - narrows a type, holds by construction
        if error.status == 409 and error.error_code == 9021:
            row.put_code = error.named_put_code()
            row.in_doubt = row.put_code is None  # else found by reading on the next attempt
            queue_placement(session, row)  # adopted: PUT the current metadata
            adopted += 1
            continue
        mark_failed(session, deps.settings, row, error_text(error, deps.settings.error_text_chars))
        failed += 1
    for row, _body, _digest in fresh[len(items) :]:  # ORCID answered fewer items than sent
        row.in_doubt = True
        queue_placement(session, row)
    session.flush()  # every state change in one go
    if placed:  # one webhook for the request, not one per work (a row and a delivery each)
        first = placed[0][0]
        tell_works(
            session,
            deps.settings,
            ORCID_BACKFILLED,
            {"orcid": first.orcid, "client_id": first.client_id},
            [(row.work, placed_news(row, action)) for row, action in placed],
        )
    return Result(f"bulk: {len(placed)} placed, {adopted} adopted, {failed} failed")
