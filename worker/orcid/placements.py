"""Works on researchers' ORCID records: placed once, kept up to date, removed on withdrawal.

Two halves:

- **Hooks** (``on_work_changed``, ``on_work_withdrawn``, ``on_grant_stored``,
  ``on_researcher_revoked``) run inside an event's unit of work. They record what must happen
  (a placement row per (work, ORCID iD, ORCID client), its state) and enqueue the actors that
  do it after commit, and return a one-line note for the event's outcome. No HTTP.
- **The service** (``place``) makes one placement true on the record, called by the
  ``orcid.place`` actor with a session and :class:`~worker.orcid.deps.OrcidDeps`. Bulk
  backfill lives in :mod:`worker.orcid.backfill`, revoked grants in
  :mod:`worker.orcid.revocation`.

Exactly once (DESIGN.md §4): a POST whose answer was lost leaves the placement ``in_doubt``; the
next attempt reads the record first and adopts our own work with the same ``self`` external id.
A 409/9021 adopts the put-code ORCID names (or the one found by reading) and PUTs. A 404/9016
on PUT or DELETE means the researcher deleted it: ``removed_by_researcher``, never re-added
unless an operator asks (:func:`readd`). 403/9010: ``not_ours``. Other 4xx: ``failed`` with
ORCID's developer message, no retry. Writes to one record hold its lock; every call takes a
slot from the shared rate limit. A revoked token marks the grant revoked, not the job failed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.db import enqueue_after_commit
from worker.errors import TransientError, error_text
from worker.logging import get_logger
from worker.metadata.errors import MetadataError, WorkValidationError
from worker.models import OrcidGrant, OrcidPlacement, PlacementState, Work
from worker.orcid import payload as render
from worker.orcid import repository
from worker.orcid.attempts import log_retry, next_try
from worker.orcid.client import MemberClient, OrcidError, RevokedToken, WorkSummary
from worker.orcid.grants import access_token, can_write
from worker.orcid.recipients import tell_work
from worker.orcid.result import Result
from worker.orcid.revocation import handle_revoked, revoke_locally, revoked_reason
from worker.works.trigger import Trigger

if TYPE_CHECKING:
    from worker.config import Settings
    from worker.orcid.deps import OrcidDeps

log = get_logger(__name__)

#: States a hook may move back to pending when the work changes (the researcher's choices
#: and "not ours" are kept).
KEPT = (PlacementState.REMOVED_BY_RESEARCHER, PlacementState.NOT_OURS)
NO_GRANT = "no active grant with /activities/update for this ORCID client"


def _claim(
    session: Session, row: OrcidPlacement, grant: OrcidGrant, taken: set[int] | None = None
) -> bool:
    """Let ``grant``'s client place an awaiting placement. A work already on the record from
    another client stays with that client (a second copy from another source would be a
    duplicate). ``taken``: ids of works this client already has a placement for (when the
    caller looked them up at once)."""
    if row.client_id == grant.client_id:
        return True
    if row.put_code is not None or row.in_doubt:
        return False
    if taken is None:
        taken = repository.works_placed_by(session, row.orcid, grant.client_id, [row.work_id])
    if row.work_id in taken:
        return False
    row.client_id = grant.client_id
    taken.add(row.work_id)
    return True


def queue_placement(session: Session, row: OrcidPlacement) -> None:
    """Send the placement's message after commit, as a fresh series of tries."""
    row.enqueued_at = utcnow()
    row.attempts = 0
    row.next_attempt_at = None
    enqueue_after_commit(session, "orcid.place", row.id)


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


def on_work_changed(session: Session, work: Work, trigger: Trigger) -> str | None:
    """Queue placing (or updating) the work on every contributor's record that allows it."""
    wanted = render.contributor_orcids(work)
    rows = repository.placements_of_work(session, work.id)
    by_orcid: dict[str, list[OrcidPlacement]] = {}
    for row in rows:
        by_orcid.setdefault(row.orcid, []).append(row)
    queued = awaiting = removing = 0
    for orcid in wanted:
        existing = by_orcid.get(orcid, [])
        if not existing:
            grant = repository.write_grant_for(session, orcid, work.client_id)
            row = OrcidPlacement(
                work_id=work.id,
                orcid=orcid,
                owner=work.client_id,
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
                grant = repository.write_grant_for(session, orcid, work.client_id)
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
    if render.contributors_without_orcid(work) and trigger.settings.orcid_suggest_ids:
        enqueue_after_commit(session, "orcid.suggest", work.id)
    session.flush()
    return _summary(queued, awaiting, removing)


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


def on_work_withdrawn(session: Session, work: Work, _trigger: Trigger) -> str | None:
    """Queue removing the work from every record it was placed on."""
    rows = repository.placements_of_work(session, work.id)
    removing = sum(_to_remove(session, row) for row in rows)
    session.flush()
    return f"ORCID placements: {removing} to remove" if removing else None


def on_grant_stored(session: Session, grant: OrcidGrant, _trigger: Trigger) -> str | None:
    """A researcher authorised us: place their existing works (bulk backfill), register the
    record's webhook when configured."""

    if not can_write(grant):
        return None
    orcid = grant.researcher.orcid
    claimed = 0
    # A client's grant serves that client's works only; the researcher's consent serves all.
    awaiting = [
        row
        for row in repository.awaiting_placements(session, orcid)
        if grant.owner is None or row.work.client_id in (None, grant.owner)
    ]
    taken = repository.works_placed_by(session, orcid, grant.client_id)
    claimed_at = utcnow()
    with session.no_autoflush:
        for row in awaiting:
            if _claim(session, row, grant, taken):
                row.state = PlacementState.PENDING
                row.last_error = None
                row.enqueued_at = claimed_at
                claimed += 1
    # Works that name the researcher but have no placement yet (e.g. stored before this grant
    # arrived by another route).
    for work in repository.unplaced_works_naming(session, orcid):
        if grant.owner is not None and work.client_id not in (None, grant.owner):
            continue
        session.add(
            OrcidPlacement(
                work_id=work.id,
                orcid=orcid,
                owner=work.client_id,
                client_id=grant.client_id,
                state=PlacementState.PENDING,
                enqueued_at=claimed_at,
            )
        )
        claimed += 1
    session.flush()
    enqueue_after_commit(session, "orcid.backfill", grant.id)
    enqueue_after_commit(session, "orcid.register_webhook", grant.id)
    if not claimed:
        return None
    return f"{claimed} existing work(s) queued for placement on ORCID (bulk backfill)"


def on_researcher_revoked(session: Session, data: dict[str, Any], trigger: Trigger) -> str:
    """The emitting system withdrew the researcher's consent: stop placing, revoke at ORCID.
    Only the sending client's own grants are touched (another client's, and the researcher's
    own consent through /orcid/connect, stay)."""
    orcid = data["orcid"]
    grants = [
        grant
        for grant in repository.grants_of(session, orcid, data.get("client_id"))
        if trigger.client_id is None or grant.owner == trigger.client_id
    ]
    if not grants:
        return f"no ORCID grant of {orcid} held by this client: nothing to revoke"
    revoked = sum(
        revoke_locally(session, grant, "revoked by the emitting system (researcher.revoked)")
        for grant in grants
    )
    session.flush()
    if not revoked:
        return f"the ORCID grant of {orcid} was already revoked"
    return f"{revoked} ORCID grant(s) of {orcid} revoked; revoking the token at ORCID is queued"


# --- the service (actors) ----------------------------------------------------------------------


def find_ours(
    summaries: list[WorkSummary], client_id: str, wanted: frozenset[tuple[str, str]]
) -> WorkSummary | None:
    """Our own work (same source client) sharing a ``self`` external id with ``wanted``."""
    for summary in summaries:
        if summary.source_client_id == client_id and summary.self_ids & wanted:
            return summary
    return None


def placed(session: Session, settings: Settings, row: OrcidPlacement, digest: str) -> None:
    tell_placed(session, settings, row, mark_placed(row, digest))


def mark_placed(row: OrcidPlacement, digest: str) -> str:
    """Record a confirmed placement; "added" or "updated" for the notification."""
    first = row.state != PlacementState.PLACED or row.placed_at is None
    row.state = PlacementState.PLACED
    row.confirmed_hash = digest
    row.last_error = None
    row.in_doubt = False
    row.attempts = 0
    row.next_attempt_at = None
    row.placed_at = row.placed_at or utcnow()
    log.info("orcid_placed", orcid=row.orcid, work_id=row.work_id, put_code=row.put_code)
    return "added" if first else "updated"


def tell_placed(session: Session, settings: Settings, row: OrcidPlacement, action: str) -> None:
    payload: dict[str, Any] = {
        "orcid": row.orcid,
        "client_id": row.client_id,
        "put_code": row.put_code,
        "action": action,
    }
    notes = render.truncations(row.work)
    if notes:  # what ORCID's limits made us cut or leave out, said plainly
        payload["notes"] = notes
    tell_work(session, settings, row.work, "orcid.placed", payload)


def mark_failed(session: Session, settings: Settings, row: OrcidPlacement, why: str) -> None:
    row.state = PlacementState.FAILED
    row.last_error = why[: settings.error_text_chars]
    row.in_doubt = False
    row.next_attempt_at = None
    tell_work(
        session,
        settings,
        row.work,
        "orcid.failed",
        {"orcid": row.orcid, "client_id": row.client_id, "put_code": row.put_code, "error": why},
    )
    log.warning("orcid_placement_failed", orcid=row.orcid, work_id=row.work_id, error=why)


def mark_removed_by_researcher(
    session: Session, settings: Settings, row: OrcidPlacement, how: str
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


def _not_ours(settings: Settings, row: OrcidPlacement, exc: OrcidError) -> None:
    row.state = PlacementState.NOT_OURS
    row.last_error = error_text(exc, settings.error_text_chars)
    row.in_doubt = False


def place(session: Session, deps: OrcidDeps, placement_id: int) -> Result:
    """Make one placement true on the record: add, update, leave alone, or remove."""
    result = _place(session, deps, placement_id)
    session.flush()
    return result


def _place(session: Session, deps: OrcidDeps, placement_id: int) -> Result:
    row = repository.placement_for_update(session, placement_id)
    if row is None or row.state != PlacementState.PENDING:
        return Result("nothing to do")
    work = row.work
    present = work.withdrawn_at is None and row.orcid in render.contributor_orcids(work)
    grant = repository.active_grant(session, row.orcid, row.client_id) if row.client_id else None
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
            mark_failed(session, deps.settings, row, f"cannot render the ORCID work: {exc}")
            return Result("failed: cannot render")
        digest = render.digest(body)
        if row.put_code is not None and row.confirmed_hash == digest and not row.in_doubt:
            row.state = PlacementState.PLACED
            row.last_error = None
            return Result("unchanged: nothing sent")
    row.attempts += 1
    row.enqueued_at = utcnow()
    row.next_attempt_at = None
    client = deps.member(row.client_id)
    token = access_token(deps.cipher, grant)
    try:
        with deps.locks.hold(row.orcid):
            if present:
                return _write(session, deps, client, token, row, body, digest)
            return _remove(deps.settings, client, token, row)
    except RevokedToken as exc:
        return handle_revoked(session, deps.settings, grant, revoked_reason(exc))
    except OrcidError as exc:
        mark_failed(session, deps.settings, row, error_text(exc, deps.settings.error_text_chars))
        return Result("failed")
    except TransientError as exc:
        return _transient(session, deps.settings, row, exc)


def retry_later(
    session: Session, settings: Settings, row: OrcidPlacement, exc: TransientError
) -> float | None:
    """Record a transient failure on the placement (its ``attempts`` already count this try):
    the delay before the next try, or None when the tries are spent (then failed, and the
    emitting system told with ``orcid.failed``)."""
    why = error_text(exc, settings.error_text_chars)
    delay = next_try(settings, row.attempts, exc)
    if delay is None:
        mark_failed(session, settings, row, f"gave up after {row.attempts} attempts: {why}")
        return None
    row.last_error = why
    row.next_attempt_at = utcnow() + timedelta(seconds=delay)
    return delay


def _transient(
    session: Session, settings: Settings, row: OrcidPlacement, exc: TransientError
) -> Result:
    delay = retry_later(session, settings, row, exc)
    if delay is None:
        return Result("failed: retries exhausted")
    why = error_text(exc, settings.error_text_chars)
    log_retry("orcid.place", row.attempts, delay, why, orcid=row.orcid, work_id=row.work_id)
    return Result(f"will retry in {delay:g}s: {why}", delay=delay)


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
        placed(session, deps.settings, row, digest)
        return Result(f"added (put-code {row.put_code})")
    if row.confirmed_hash == digest:
        placed(session, deps.settings, row, digest)
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
            _not_ours(deps.settings, row, exc)
            return Result("not ours")
        raise
    placed(session, deps.settings, row, digest)
    return Result(f"updated (put-code {row.put_code})")


def _remove(settings: Settings, client: MemberClient, token: str, row: OrcidPlacement) -> Result:
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
                _not_ours(settings, row, exc)
                return Result("not ours")
            if exc.status != 404:  # 404: already gone, which is what we wanted
                raise
    row.state = PlacementState.DELETED
    row.put_code = None
    row.confirmed_hash = None
    row.last_error = None
    row.attempts = 0
    row.next_attempt_at = None
    log.info("orcid_deleted", orcid=row.orcid, work_id=row.work_id)
    return Result("removed from the record")


# --- revocation at ORCID, operator actions ----------------------------------------------------


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
