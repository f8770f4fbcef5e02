"""Works on researchers' ORCID records: placed once, kept up to date, removed on withdrawal.

Two halves:

- **Hooks** (``on_work_changed``, ``on_work_withdrawn``, ``on_grant_stored``,
  ``on_researcher_revoked``) run inside an event's unit of work. They record what must happen
  (a placement row per (work, ORCID iD, ORCID client), its state) and enqueue the actors that
  do it after commit, and return a one-line note for the event's outcome. No HTTP.
- **The service** (``place``, ``backfill``, ``revoke_at_orcid``, ``handle_revoked``) makes one
  record match, called by the actors with a session and :class:`~worker.orcid.deps.OrcidDeps`.

Exactly once (DESIGN.md §4): a POST whose answer was lost leaves the placement ``in_doubt``; the
next attempt reads the record first and adopts our own work with the same ``self`` external id.
A 409/9021 adopts the put-code ORCID names (or the one found by reading) and PUTs. A 404/9016
on PUT or DELETE means the researcher deleted it: ``removed_by_researcher``, never re-added
unless an operator asks (:func:`readd`). 403/9010: ``not_ours``. Other 4xx: ``failed`` with
ORCID's developer message, no retry. Writes to one record hold its lock; every call takes a
slot from the shared rate limit. A revoked token marks the grant revoked, not the job failed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from worker.db import enqueue_after_commit
from worker.errors import TransientError
from worker.logging import get_logger, redact_text
from worker.metadata.errors import MetadataError, WorkValidationError
from worker.models import (
    GrantStatus,
    OrcidGrant,
    OrcidPlacement,
    PlacementState,
    Researcher,
    Work,
)
from worker.orcid import payload as render
from worker.orcid.client import BulkItem, MemberClient, OrcidError, RevokedToken, WorkSummary
from worker.orcid.grants import (
    access_token,
    active_grant,
    can_write,
    grants_of,
    mark_revoked,
    wipe_tokens,
    write_grant_for,
)
from worker.orcid.oauth import OAuthFailed
from worker.orcid.recipients import prefetch_work_clients, tell_researcher, tell_work

if TYPE_CHECKING:
    from worker.config import Settings
    from worker.orcid.deps import OrcidDeps

log = get_logger(__name__)

#: States a hook may move back to pending when the work changes (the researcher's choices
#: and "not ours" are kept).
KEPT = (PlacementState.REMOVED_BY_RESEARCHER, PlacementState.NOT_OURS)
NO_GRANT = "no active grant with /activities/update for this ORCID client"
ERROR_CHARS = 1000


@dataclass
class Result:
    """What one service call did; ``retry`` is raised by the actor after the commit."""

    note: str
    retry: TransientError | None = None
    report: dict[str, Any] | None = None

    def raise_if_retry(self) -> None:
        if self.retry is not None:
            raise self.retry


P = ParamSpec("P")


def flushed(
    fn: Callable[Concatenate[Session, P], Result],
) -> Callable[Concatenate[Session, P], Result]:
    """A service entry point: whatever branch it returns from, its changes are flushed."""

    @functools.wraps(fn)
    def run(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> Result:
        result = fn(session, *args, **kwargs)
        session.flush()
        return result

    return run


def _now() -> datetime:
    return datetime.now(UTC)


def error_text(exc: BaseException) -> str:
    text = exc.describe() if isinstance(exc, OrcidError) else f"{type(exc).__name__}: {exc}"
    return redact_text(text)[:ERROR_CHARS]


def queue_placement(session: Session, row: OrcidPlacement) -> None:
    from worker.orcid.actors import place_work

    row.enqueued_at = _now()
    row.attempts = 0
    enqueue_after_commit(session, place_work, row.id)


def _placements_of(session: Session, work_id: int) -> list[OrcidPlacement]:
    return list(
        session.execute(
            select(OrcidPlacement)
            .where(OrcidPlacement.work_id == work_id)
            .order_by(OrcidPlacement.id)
        ).scalars()
    )


def _claim(session: Session, row: OrcidPlacement, grant: OrcidGrant) -> bool:
    """Let ``grant``'s client place an awaiting placement. A work already on the record from
    another client stays with that client (a second copy from another source would be a
    duplicate)."""
    if row.client_id == grant.client_id:
        return True
    if row.put_code is not None or row.in_doubt:
        return False
    taken = session.execute(
        select(OrcidPlacement.id).where(
            OrcidPlacement.work_id == row.work_id,
            OrcidPlacement.orcid == row.orcid,
            OrcidPlacement.client_id == grant.client_id,
        )
    ).first()
    if taken is not None:
        return False
    row.client_id = grant.client_id
    return True


def _summary(queued: int, awaiting: int, removing: int) -> str | None:
    parts = []
    if queued:
        parts.append(f"{queued} queued")
    if awaiting:
        parts.append(f"{awaiting} awaiting consent")
    if removing:
        parts.append(f"{removing} to remove")
    return "ORCID placements: " + ", ".join(parts) if parts else None


# --- hooks (inside the event's unit of work) ---------------------------------------------------


def on_work_changed(session: Session, work: Work) -> str | None:
    """Queue placing (or updating) the work on every contributor's record that allows it."""
    wanted = render.contributor_orcids(work)
    rows = _placements_of(session, work.id)
    by_orcid: dict[str, list[OrcidPlacement]] = {}
    for row in rows:
        by_orcid.setdefault(row.orcid, []).append(row)
    queued = awaiting = removing = 0
    for orcid in wanted:
        existing = by_orcid.get(orcid, [])
        if not existing:
            grant = write_grant_for(session, orcid)
            row = OrcidPlacement(
                work_id=work.id,
                orcid=orcid,
                client_id=grant.client_id if grant else "",
                state=PlacementState.PENDING if grant else PlacementState.AWAITING_CONSENT,
                last_error=None if grant else "the researcher has not authorised placing works",
            )
            session.add(row)
            session.flush()
            if grant:
                queue_placement(session, row)
                queued += 1
            else:
                awaiting += 1
            continue
        for row in existing:
            if row.state in KEPT:
                continue
            if row.state == PlacementState.AWAITING_CONSENT:
                grant = write_grant_for(session, orcid)
                if grant is None or not _claim(session, row, grant):
                    awaiting += 1
                    continue
            row.state = PlacementState.PENDING
            queue_placement(session, row)
            queued += 1
    for orcid, existing in by_orcid.items():
        if orcid in wanted:
            continue
        for row in existing:  # no longer a contributor: take the work off that record
            removing += _to_remove(session, row)
    if render.contributors_without_orcid(work) and _setting("orcid_suggest_ids"):
        from worker.orcid.actors import suggest_ids

        enqueue_after_commit(session, suggest_ids, work.id)
    session.flush()
    return _summary(queued, awaiting, removing)


def _setting(name: str) -> bool:
    """A flag of the process's configuration (False when the process is not booted)."""
    from worker.bootstrap import current_runtime

    try:
        return bool(getattr(current_runtime().settings, name))
    except RuntimeError:
        return False


def _to_remove(session: Session, row: OrcidPlacement) -> int:
    if row.state in (*KEPT, PlacementState.DELETED):
        return 0
    if row.put_code is None and not row.in_doubt:
        row.state = PlacementState.DELETED
        row.last_error = None
        return 0
    row.state = PlacementState.PENDING
    queue_placement(session, row)
    return 1


def on_work_withdrawn(session: Session, work: Work) -> str | None:
    """Queue removing the work from every record it was placed on."""
    removing = sum(_to_remove(session, row) for row in _placements_of(session, work.id))
    session.flush()
    return f"ORCID placements: {removing} to remove" if removing else None


def on_grant_stored(session: Session, grant: OrcidGrant) -> str | None:
    """A researcher authorised us: place their existing works (bulk backfill), register the
    record's webhook when configured."""
    from worker.orcid.actors import backfill_grant, register_webhook

    if not can_write(grant):
        return None
    orcid = grant.researcher.orcid
    claimed = 0
    awaiting = session.execute(
        select(OrcidPlacement).where(
            OrcidPlacement.orcid == orcid,
            OrcidPlacement.state == PlacementState.AWAITING_CONSENT,
        )
    ).scalars()
    for row in awaiting:
        if _claim(session, row, grant):
            row.state = PlacementState.PENDING
            row.last_error = None
            row.enqueued_at = _now()
            claimed += 1
    # Works that name the researcher but have no placement yet (e.g. stored before this grant
    # arrived by another route).
    unplaced = session.execute(
        select(Work).where(
            Work.work_metadata.contains({"contributors": [{"orcid": orcid}]}),
            Work.withdrawn_at.is_(None),
            ~select(OrcidPlacement.id)
            .where(OrcidPlacement.work_id == Work.id, OrcidPlacement.orcid == orcid)
            .exists(),
        )
    ).scalars()
    for work in unplaced:
        session.add(
            OrcidPlacement(
                work_id=work.id,
                orcid=orcid,
                client_id=grant.client_id,
                state=PlacementState.PENDING,
                enqueued_at=_now(),
            )
        )
        claimed += 1
    session.flush()
    enqueue_after_commit(session, backfill_grant, grant.id)
    enqueue_after_commit(session, register_webhook, grant.id)
    if not claimed:
        return None
    return f"{claimed} existing work(s) queued for placement on ORCID (bulk backfill)"


def on_researcher_revoked(session: Session, data: dict[str, Any]) -> str:
    """The emitting system withdrew the researcher's consent: stop placing, revoke at ORCID."""
    orcid = data["orcid"]
    grants = grants_of(session, orcid, data.get("client_id"))
    if not grants:
        return f"no ORCID grant for {orcid}: nothing to revoke"
    revoked = sum(
        _revoke_locally(session, grant, "revoked by the emitting system (researcher.revoked)")
        for grant in grants
    )
    session.flush()
    if not revoked:
        return f"the ORCID grant of {orcid} was already revoked"
    return f"{revoked} ORCID grant(s) of {orcid} revoked; revoking the token at ORCID is queued"


def _revoke_locally(session: Session, grant: OrcidGrant, reason: str) -> int:
    from worker.orcid.actors import revoke_token, unregister_webhook

    if not mark_revoked(grant, reason):
        return 0
    _park(session, grant, reason)
    enqueue_after_commit(session, revoke_token, grant.id)
    if grant.webhook_registered_at is not None:
        enqueue_after_commit(session, unregister_webhook, grant.id)
    return 1


def _park(session: Session, grant: OrcidGrant, reason: str) -> int:
    rows = session.execute(
        select(OrcidPlacement).where(
            OrcidPlacement.orcid == grant.researcher.orcid,
            OrcidPlacement.client_id == grant.client_id,
            OrcidPlacement.state == PlacementState.PENDING,
        )
    ).scalars()
    count = 0
    for row in rows:
        row.state = PlacementState.AWAITING_CONSENT
        row.last_error = f"waiting for the researcher to authorise again: {reason}"
        count += 1
    return count


def revoke_grants(
    session: Session, settings: Settings | None, orcid: str, client_id: str | None, reason: str
) -> list[int]:
    """Revoke the researcher's grants here (an operator's ``pidsync tokens revoke``); the ids
    of the grants whose tokens must now be revoked at ORCID. The emitting systems are told."""
    from worker.orcid.actors import unregister_webhook

    grants = grants_of(session, orcid, client_id)
    for grant in grants:
        if not mark_revoked(grant, reason):
            continue
        parked = _park(session, grant, reason)
        tell_researcher(
            session,
            settings,
            orcid,
            "grant.revoked",
            {"client_id": grant.client_id, "reason": reason, "awaiting_consent": parked},
        )
        if grant.webhook_registered_at is not None:
            enqueue_after_commit(session, unregister_webhook, grant.id)
    session.flush()
    return [g.id for g in grants if g.access_token_enc]


# --- the service (actors) ----------------------------------------------------------------------


def handle_revoked(
    session: Session, settings: Settings | None, grant: OrcidGrant, reason: str
) -> Result:
    """ORCID says the token is dead: grant revoked, pending placements parked, the emitting
    system told (``grant.revoked``), and a permission notification asked for when configured."""
    from worker.orcid.actors import request_permission, unregister_webhook

    if not mark_revoked(grant, reason):
        return Result("grant already revoked")
    parked = _park(session, grant, reason)
    tell_researcher(
        session,
        settings,
        grant.researcher.orcid,
        "grant.revoked",
        {"client_id": grant.client_id, "reason": reason, "awaiting_consent": parked},
    )
    if settings is not None and settings.orcid_premium_notifications:
        enqueue_after_commit(session, request_permission, grant.id)
    if grant.webhook_registered_at is not None:
        enqueue_after_commit(session, unregister_webhook, grant.id)
    session.flush()
    log.warning(
        "orcid_grant_revoked",
        orcid=grant.researcher.orcid,
        client_id=grant.client_id,
        reason=reason,
    )
    return Result(f"grant revoked ({reason}); {parked} placement(s) await consent")


def revoked_reason(exc: RevokedToken) -> str:
    return f"ORCID refused the token (HTTP {exc.status}, invalid_token): revoked or expired"


def find_ours(
    summaries: list[WorkSummary], client_id: str, wanted: frozenset[tuple[str, str]]
) -> WorkSummary | None:
    """Our own work (same source client) sharing a ``self`` external id with ``wanted``."""
    for summary in summaries:
        if summary.source_client_id == client_id and summary.self_ids & wanted:
            return summary
    return None


def _placed(session: Session, settings: Settings | None, row: OrcidPlacement, digest: str) -> None:
    _tell_placed(session, settings, row, _mark_placed(row, digest))


def _mark_placed(row: OrcidPlacement, digest: str) -> str:
    """Record a confirmed placement; "added" or "updated" for the notification."""
    first = row.state != PlacementState.PLACED or row.placed_at is None
    row.state = PlacementState.PLACED
    row.confirmed_hash = digest
    row.last_error = None
    row.in_doubt = False
    row.attempts = 0
    row.placed_at = row.placed_at or _now()
    log.info("orcid_placed", orcid=row.orcid, work_id=row.work_id, put_code=row.put_code)
    return "added" if first else "updated"


def _tell_placed(
    session: Session, settings: Settings | None, row: OrcidPlacement, action: str
) -> None:
    tell_work(
        session,
        settings,
        row.work,
        "orcid.placed",
        {
            "orcid": row.orcid,
            "client_id": row.client_id,
            "put_code": row.put_code,
            "action": action,
        },
    )


def _failed(session: Session, settings: Settings | None, row: OrcidPlacement, why: str) -> None:
    row.state = PlacementState.FAILED
    row.last_error = why[:ERROR_CHARS]
    row.in_doubt = False
    tell_work(
        session,
        settings,
        row.work,
        "orcid.failed",
        {"orcid": row.orcid, "client_id": row.client_id, "put_code": row.put_code, "error": why},
    )
    log.warning("orcid_placement_failed", orcid=row.orcid, work_id=row.work_id, error=why)


def mark_removed_by_researcher(
    session: Session, settings: Settings | None, row: OrcidPlacement, how: str
) -> None:
    row.state = PlacementState.REMOVED_BY_RESEARCHER
    row.last_error = f"the researcher removed this work from their record ({how}); it is not "
    row.last_error += "added again unless an operator asks (pidsync orcid re-add)"
    row.in_doubt = False
    tell_work(
        session,
        settings,
        row.work,
        "orcid.removed_by_researcher",
        {"orcid": row.orcid, "client_id": row.client_id, "put_code": row.put_code},
    )
    log.info("orcid_removed_by_researcher", orcid=row.orcid, work_id=row.work_id)


def _not_ours(row: OrcidPlacement, exc: OrcidError) -> None:
    row.state = PlacementState.NOT_OURS
    row.last_error = error_text(exc)
    row.in_doubt = False


def place(session: Session, deps: OrcidDeps, placement_id: int) -> Result:
    """Make one placement true on the record: add, update, leave alone, or remove."""
    result = _place(session, deps, placement_id)
    session.flush()
    return result


def _place(session: Session, deps: OrcidDeps, placement_id: int) -> Result:
    row = session.get(OrcidPlacement, placement_id, with_for_update=True)
    if row is None or row.state != PlacementState.PENDING:
        return Result("nothing to do")
    work = row.work
    present = work.withdrawn_at is None and row.orcid in render.contributor_orcids(work)
    grant = active_grant(session, row.orcid, row.client_id) if row.client_id else None
    if grant is None or not can_write(grant):
        if not present and row.put_code is None and not row.in_doubt:
            row.state = PlacementState.DELETED
            return Result("nothing on the record to remove")
        row.state = PlacementState.AWAITING_CONSENT
        row.last_error = NO_GRANT
        return Result("awaiting consent")
    body: dict[str, Any] = {}
    digest = ""
    if present:
        try:
            body = render.orcid_work(work)
        except (MetadataError, WorkValidationError) as exc:
            _failed(session, deps.settings, row, f"cannot render the ORCID work: {exc}")
            return Result("failed: cannot render")
        digest = render.digest(body)
        if row.put_code is not None and row.confirmed_hash == digest and not row.in_doubt:
            row.state = PlacementState.PLACED
            row.last_error = None
            return Result("unchanged: nothing sent")
    row.attempts += 1
    row.enqueued_at = _now()
    client = deps.member(row.client_id)
    token = access_token(deps.cipher, grant)
    try:
        with deps.locks.hold(row.orcid):
            if present:
                return _write(session, deps, client, token, row, body, digest)
            return _remove(client, token, row)
    except RevokedToken as exc:
        return handle_revoked(session, deps.settings, grant, revoked_reason(exc))
    except OrcidError as exc:
        _failed(session, deps.settings, row, error_text(exc))
        return Result("failed")
    except TransientError as exc:
        return _transient(session, deps.settings, row, exc)


def _transient(
    session: Session, settings: Settings, row: OrcidPlacement, exc: TransientError
) -> Result:
    """Record a retryable failure; give up (failed, told) after ``max_retries`` attempts."""
    why = error_text(exc)
    if row.attempts > settings.max_retries:
        _failed(session, settings, row, f"gave up after {row.attempts} attempts: {why}")
        return Result("failed: retries exhausted")
    row.last_error = why
    return Result(f"will retry: {why}", retry=exc)


def _write(
    session: Session,
    deps: OrcidDeps,
    client: MemberClient,
    token: str,
    row: OrcidPlacement,
    body: dict[str, Any],
    digest: str,
) -> Result:
    if row.put_code is None and row.in_doubt:
        # An earlier POST's answer was lost: it may have landed. Look before writing again.
        found = find_ours(
            client.works(row.orcid, token), row.client_id, render.payload_self_ids(body)
        )
        row.in_doubt = False
        if found is not None:
            row.put_code = found.put_code
            row.visibility = found.visibility
            row.confirmed_hash = None
            log.info("orcid_adopted", orcid=row.orcid, work_id=row.work_id, put_code=found.put_code)
    if row.put_code is None:
        row.in_doubt = True  # committed as such if the answer never comes
        try:
            row.put_code = client.add_work(row.orcid, token, body)
        except OrcidError as exc:
            row.in_doubt = False
            if exc.status != 409 or exc.error_code not in (9021, None):
                raise
            adopted = exc.named_put_code()
            if adopted is None:
                summaries = client.works(row.orcid, token)
                found = find_ours(summaries, row.client_id, render.payload_self_ids(body))
                if found is None:
                    raise
                adopted = found.put_code
            row.put_code = adopted
            log.info("orcid_adopted_409", orcid=row.orcid, work_id=row.work_id, put_code=adopted)
            return _update(session, deps, client, token, row, body, digest)
        row.in_doubt = False
        _placed(session, deps.settings, row, digest)
        return Result(f"added (put-code {row.put_code})")
    if row.confirmed_hash == digest:
        _placed(session, deps.settings, row, digest)
        return Result("unchanged: nothing sent")
    return _update(session, deps, client, token, row, body, digest)


def _update(
    session: Session,
    deps: OrcidDeps,
    client: MemberClient,
    token: str,
    row: OrcidPlacement,
    body: dict[str, Any],
    digest: str,
) -> Result:
    assert row.put_code is not None
    try:
        client.update_work(row.orcid, token, row.put_code, body)
    except OrcidError as exc:
        if exc.status == 404:
            mark_removed_by_researcher(session, deps.settings, row, "ORCID: 404 on update")
            return Result("removed by the researcher")
        if exc.status == 403 and exc.error_code in (9010, None):
            _not_ours(row, exc)
            return Result("not ours")
        raise
    _placed(session, deps.settings, row, digest)
    return Result(f"updated (put-code {row.put_code})")


def _remove(client: MemberClient, token: str, row: OrcidPlacement) -> Result:
    if row.put_code is None and row.in_doubt:
        body = render.orcid_work(row.work)
        found = find_ours(
            client.works(row.orcid, token), row.client_id, render.payload_self_ids(body)
        )
        row.in_doubt = False
        row.put_code = found.put_code if found else None
    if row.put_code is not None:
        try:
            client.delete_work(row.orcid, token, row.put_code)
        except OrcidError as exc:
            if exc.status == 403 and exc.error_code in (9010, None):
                _not_ours(row, exc)
                return Result("not ours")
            if exc.status != 404:  # 404: already gone, which is what we wanted
                raise
    row.state = PlacementState.DELETED
    row.put_code = None
    row.confirmed_hash = None
    row.last_error = None
    row.attempts = 0
    log.info("orcid_deleted", orcid=row.orcid, work_id=row.work_id)
    return Result("removed from the record")


# --- bulk backfill -----------------------------------------------------------------------------


def backfill(session: Session, deps: OrcidDeps, grant_id: int) -> Result:
    """Place up to 100 of the researcher's pending works with one bulk POST; queue the next
    chunk. Per-item outcomes are handled exactly like single calls."""
    from worker.orcid.actors import backfill_grant

    grant = session.get(OrcidGrant, grant_id)
    if grant is None or grant.status != GrantStatus.ACTIVE or not can_write(grant):
        return Result("grant not active: nothing to place")
    orcid = grant.researcher.orcid
    rows = list(
        session.execute(
            select(OrcidPlacement)
            .where(
                OrcidPlacement.orcid == orcid,
                OrcidPlacement.client_id == grant.client_id,
                OrcidPlacement.state == PlacementState.PENDING,
            )
            .order_by(OrcidPlacement.id)
            .limit(100)
            .with_for_update(skip_locked=True, of=OrcidPlacement)
            .options(selectinload(OrcidPlacement.work).selectinload(Work.registration))
        ).scalars()
    )
    if not rows:
        return Result("nothing pending")
    prefetch_work_clients(session, [row.work_id for row in rows])
    fresh: list[tuple[OrcidPlacement, dict[str, Any], str]] = []
    for row in rows:
        row.enqueued_at = _now()
        present = row.work.withdrawn_at is None and orcid in render.contributor_orcids(row.work)
        if row.put_code is not None or not present:
            queue_placement(
                session, row
            )  # an update or a removal: one call each, by the single path
            continue
        try:
            body = render.orcid_work(row.work)
        except (MetadataError, WorkValidationError) as exc:
            _failed(session, deps.settings, row, f"cannot render the ORCID work: {exc}")
            continue
        fresh.append((row, body, render.digest(body)))
    result = Result("nothing to send in bulk")
    if fresh:
        result = _bulk(session, deps, grant, fresh)
    if result.retry is None and grant.status == GrantStatus.ACTIVE:
        more = session.execute(
            select(func.count(OrcidPlacement.id)).where(
                OrcidPlacement.orcid == orcid,
                OrcidPlacement.client_id == grant.client_id,
                OrcidPlacement.state == PlacementState.PENDING,
                OrcidPlacement.put_code.is_(None),
                OrcidPlacement.id.not_in([r.id for r in rows]),
            )
        ).scalar_one()
        if more:
            enqueue_after_commit(session, backfill_grant, grant.id)
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
        return Result(f"bulk refused ({error_text(exc)}); placing one by one")
    except TransientError as exc:
        give_up = fresh[0][0].attempts > deps.settings.max_retries
        for row, _body, _digest in fresh:
            if give_up:
                _failed(session, deps.settings, row, f"gave up: {error_text(exc)}")
            else:
                row.last_error = error_text(exc)
        if give_up:
            return Result("failed: retries exhausted")
        return Result(f"will retry: {error_text(exc)}", retry=exc)
    return _apply_items(session, deps, fresh, items)


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
            placed.append((row, _mark_placed(row, digest)))
            continue
        error = item.error
        assert error is not None
        if error.status == 409 and error.error_code == 9021:
            row.put_code = error.named_put_code()
            row.in_doubt = row.put_code is None  # else found by reading on the next attempt
            queue_placement(session, row)  # adopted: PUT the current metadata
            adopted += 1
            continue
        _failed(session, deps.settings, row, error_text(error))
        failed += 1
    for row, _body, _digest in fresh[len(items) :]:  # ORCID answered fewer items than sent
        row.in_doubt = True
        queue_placement(session, row)
    session.flush()  # every state change in one go, then one notification row each
    for row, action in placed:
        _tell_placed(session, deps.settings, row, action)
    return Result(f"bulk: {len(placed)} placed, {adopted} adopted, {failed} failed")


# --- revocation at ORCID, operator actions ----------------------------------------------------


def revoke_at_orcid(session: Session, deps: OrcidDeps, grant_id: int) -> Result:
    """Revoke a (locally revoked) grant's token at ORCID, then forget it."""
    result = _revoke_at_orcid(session, deps, grant_id)
    session.flush()
    return result


def _revoke_at_orcid(session: Session, deps: OrcidDeps, grant_id: int) -> Result:
    grant = session.get(OrcidGrant, grant_id, with_for_update=True)
    if grant is None or not grant.access_token_enc:
        return Result("no token to revoke")
    if grant.status == GrantStatus.ACTIVE:
        return Result("grant is active again: token kept")
    token = access_token(deps.cipher, grant)
    try:
        deps.oauth(grant.client_id).revoke(token)
    except OAuthFailed as exc:
        note = f"ORCID refused the revocation ({exc.error}): the token no longer works anyway"
        wipe_tokens(grant)
        return Result(note)
    except TransientError as exc:
        return Result(f"will retry: {error_text(exc)}", retry=exc)
    wipe_tokens(grant)
    log.info("orcid_token_revoked", orcid=grant.researcher.orcid, client_id=grant.client_id)
    return Result("token revoked at ORCID")


def readd(session: Session, placement: OrcidPlacement) -> bool:
    """An operator asks to put back a work the researcher removed (or that failed)."""
    if placement.state not in (PlacementState.REMOVED_BY_RESEARCHER, PlacementState.FAILED):
        return False
    placement.state = PlacementState.PENDING
    placement.put_code = None
    placement.confirmed_hash = None
    placement.last_error = None
    placement.in_doubt = False
    queue_placement(session, placement)
    session.flush()
    return True


def check_grant(session: Session, deps: OrcidDeps, grant_id: int) -> Result:
    """Token health: one cheap read with the token finds a dead grant before a push does."""
    result = _check_grant(session, deps, grant_id)
    session.flush()
    return result


def _check_grant(session: Session, deps: OrcidDeps, grant_id: int) -> Result:
    grant = session.get(OrcidGrant, grant_id, with_for_update=True)
    if grant is None or grant.status != GrantStatus.ACTIVE:
        return Result("grant not active")
    grant.last_checked_at = _now()
    try:
        deps.member(grant.client_id).works(grant.researcher.orcid, access_token(deps.cipher, grant))
    except RevokedToken as exc:
        return handle_revoked(session, deps.settings, grant, revoked_reason(exc))
    except OrcidError as exc:
        return Result(f"token check inconclusive: {error_text(exc)}")
    except TransientError as exc:
        return Result(f"will retry: {error_text(exc)}", retry=exc)
    return Result("token works")


def researcher_of(session: Session, orcid: str) -> Researcher | None:
    return session.execute(select(Researcher).where(Researcher.orcid == orcid)).scalar_one_or_none()
