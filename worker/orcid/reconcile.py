"""Reconciliation of one ORCID record: read back what ORCID holds and repair drift.

With each active grant's token, the record's works are read (ours include private ones), then:

- a placed work that is gone → ``removed_by_researcher`` (respected, never re-added unless an
  operator asks) and the emitting system is told;
- a work the researcher made private → its visibility recorded and reported as hidden;
- a write whose answer was lost → our work found by its ``self`` external id and adopted;
- a placed work whose metadata changed since ORCID confirmed it → queued for an update;
- works from other sources that were not there at the last look → reported
  (``orcid.record_changed``; the first look reports everything, flagged ``first_look``).

Run by the webhook receiver's queue, by ``pidsync reconcile orcid`` and after a grant arrives;
the weekly token check (:func:`check_grant`) checks one grant's placements the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.errors import TransientError, error_text
from worker.logging import get_logger
from worker.metadata.errors import MetadataError, WorkValidationError
from worker.models import (
    GrantEffect,
    GrantStatus,
    OrcidGrant,
    OrcidPlacement,
    PlacementState,
    Visibility,
)
from worker.orcid import family, repository
from worker.orcid import payload as render
from worker.orcid.attempts import grant_effect, grant_effect_settled, retry_grant_effect
from worker.orcid.client import OrcidError, RevokedToken, WorkSummary
from worker.orcid.grants import access_token
from worker.orcid.placements import find_ours, mark_removed_by_researcher, queue_placement
from worker.orcid.recipients import tell_researcher
from worker.orcid.result import Result, flushed
from worker.orcid.revocation import handle_revoked, revoked_reason
from worker.orcid.sections.reconcile import reconcile_items

if TYPE_CHECKING:
    from worker.orcid.deps import OrcidDeps

log = get_logger(__name__)

HIDDEN = Visibility.PRIVATE
RECONCILE = GrantEffect.RECONCILE


def _work_ref(row: OrcidPlacement) -> dict[str, Any]:
    return {"source": row.work.source, "id": row.work.external_id, "put_code": row.put_code}


def _differs(seen: WorkSummary, body: dict[str, Any]) -> bool:
    """The record's copy of our work is not the one we mean (its title or type): a write of
    ours that ORCID applied after a newer one (a request still in flight when its worker was
    killed, landing late), or any other drift. Only our own client can change our work, so
    this never undoes the researcher: it was our write, out of order."""
    title = ((body.get("title") or {}).get("title") or {}).get("value") or ""
    return seen.title.strip() != str(title).strip() or seen.type != body.get("type")


def _check_placement(
    session: Session,
    deps: OrcidDeps,
    row: OrcidPlacement,
    ours: dict[int, WorkSummary],
    summaries: list[WorkSummary],
    report: dict[str, Any],
) -> None:
    if row.state == PlacementState.AWAITING_CONSENT:
        # Kept waiting for write consent with the put-code of a work it placed: a grant that
        # reads (a read-only one too) shows whether the researcher deleted it meanwhile, which
        # is then respected rather than named as still there (found by the placement model).
        if row.put_code is not None and row.put_code not in ours:
            report["removed_by_researcher"].append(_work_ref(row))
            mark_removed_by_researcher(session, deps.settings, row, "gone from the record")
        return
    if row.state == PlacementState.PLACED and row.put_code is not None:
        seen = ours.get(row.put_code)
        if seen is None:
            report["removed_by_researcher"].append(_work_ref(row))
            mark_removed_by_researcher(session, deps.settings, row, "gone from the record")
            return
        visibility = Visibility.read(seen.visibility)
        if visibility != row.visibility:
            if visibility is HIDDEN:
                report["hidden"].append(_work_ref(row))
            row.visibility = visibility
        try:
            body = family.intended_body(session, deps.settings, row)
        except (MetadataError, WorkValidationError):
            return
        if row.work.withdrawn_at is not None:
            return
        if _differs(seen, body):
            row.confirmed_hash = None  # what we confirmed is not what the record holds: PUT
        if render.digest(body) != row.confirmed_hash:
            row.state = PlacementState.PENDING
            queue_placement(session, row)
            report["requeued"].append(_work_ref(row))
        return
    if row.put_code is None and row.in_doubt:
        try:
            body = family.intended_body(session, deps.settings, row)
        except (MetadataError, WorkValidationError):
            return
        found = find_ours(summaries, row.client_id, render.payload_self_ids(body))
        row.in_doubt = found is None and row.in_doubt
        if found is not None:
            row.put_code = found.put_code
            row.visibility = Visibility.read(found.visibility)
            report["adopted"].append(_work_ref(row))
        row.state = PlacementState.PENDING
        queue_placement(session, row)


def _check_works(
    session: Session,
    deps: OrcidDeps,
    grant: OrcidGrant,
    summaries: list[WorkSummary],
    report: dict[str, Any],
) -> None:
    """The grant's placements against the works its token read on the record."""
    ours = {s.put_code: s for s in summaries if s.source_client_id == grant.client_id}
    orcid = grant.researcher.orcid
    for row in repository.placements_to_reconcile(session, orcid, grant.client_id):
        _check_placement(session, deps, row, ours, summaries, report)


def _new_report(orcid: str) -> dict[str, Any]:
    return {
        "orcid": orcid,
        "removed_by_researcher": [],
        "hidden": [],
        "adopted": [],
        "requeued": [],
        "added_by_others": [],
        "errors": [],
    }


def check_grant(session: Session, deps: OrcidDeps, grant_id: int) -> Result:
    """Token health (weekly, ``orcid_token_check_days``): one read with the token finds a dead
    grant before a push does, and the works it read are checked against the grant's
    placements (removed by the researcher, drifted, a lost write to adopt), so a record is
    read back even when no webhook ever says it changed."""
    return grant_effect(
        session,
        deps.settings,
        grant_id,
        GrantEffect.CHECK_GRANT,
        lambda grant: _check_grant(session, deps, grant),
        missing="grant not active",
    )


def _check_grant(session: Session, deps: OrcidDeps, grant: OrcidGrant) -> Result:
    if grant.status != GrantStatus.ACTIVE:
        return Result("grant not active")
    grant.last_checked_at = utcnow()
    orcid = grant.researcher.orcid
    try:
        summaries = deps.member(grant.client_id).works(orcid, access_token(deps.cipher, grant))
    except RevokedToken as exc:
        return handle_revoked(session, deps.settings, grant, revoked_reason(exc))
    except OrcidError as exc:
        why = error_text(exc, deps.settings.error_text_chars)
        return Result(f"token check inconclusive: {why}")
    report = _new_report(orcid)
    _check_works(session, deps, grant, summaries, report)
    return Result("token works", report=report)


def _reconcile_grant(
    session: Session,
    deps: OrcidDeps,
    grant: OrcidGrant,
    foreign: dict[int, WorkSummary],
    report: dict[str, Any],
) -> None:
    """Read the record with the grant's token and check the grant's placements against it
    (raises TransientError when ORCID did not answer usably)."""
    orcid = grant.researcher.orcid
    try:
        summaries = deps.member(grant.client_id).works(orcid, access_token(deps.cipher, grant))
    except RevokedToken as exc:
        handle_revoked(session, deps.settings, grant, revoked_reason(exc))
        report["errors"].append(f"{grant.client_id}: grant revoked")
        return
    except OrcidError as exc:
        why = error_text(exc, deps.settings.error_text_chars)
        report["errors"].append(f"{grant.client_id}: {why}")
        return
    configured = {c.client_id for c in deps.clients()}
    for summary in summaries:
        if summary.source_client_id not in configured:
            foreign[summary.put_code] = summary
    _check_works(session, deps, grant, summaries, report)
    try:  # the other sections (affiliations, fundings, peer reviews), with the same token
        reconcile_items(
            session,
            deps.member(grant.client_id),
            access_token(deps.cipher, grant),
            orcid,
            grant.client_id,
            report,
        )
    except RevokedToken as exc:
        handle_revoked(session, deps.settings, grant, revoked_reason(exc))
    except OrcidError as exc:
        report["errors"].append(
            f"{grant.client_id}: {error_text(exc, deps.settings.error_text_chars)}"
        )


@flushed
def reconcile_record(session: Session, deps: OrcidDeps, orcid: str) -> Result:
    """Read the record back with each active grant and repair drift. The message names a
    record, not a row: a grant whose read failed transiently records the try on its own
    ``orcid.reconcile`` attempt row, and the whole record is read again when the last of
    those is due (reading is idempotent). The snapshot of other sources' works moves on only
    after every grant was read."""
    report = _new_report(orcid)
    researcher = repository.researcher_of(session, orcid)
    grants = repository.grants_of(session, orcid, active=True) if researcher else []
    if researcher is None or not grants:
        report["errors"].append("no active grant: the record cannot be read with a token")
        return Result("no active grant", report=report)
    foreign: dict[int, WorkSummary] = {}
    delays: list[float] = []
    unread = 0
    for grant in grants:
        try:
            _reconcile_grant(session, deps, grant, foreign, report)
        except TransientError as exc:
            unread += 1
            report["errors"].append(
                f"{grant.client_id}: {error_text(exc, deps.settings.error_text_chars)}"
            )
            delay = retry_grant_effect(session, deps.settings, grant, RECONCILE, exc)
            if delay is not None:
                delays.append(delay)
            continue
        grant_effect_settled(session, grant, RECONCILE)
    if delays:
        return Result(f"will retry in {max(delays):g}s", delay=max(delays), report=report)
    if unread:
        return Result("failed: retries exhausted", report=report, failed=True)
    first_look = researcher.record_snapshot is None
    previous = set((researcher.record_snapshot or {}).get("foreign") or [])
    report["added_by_others"] = [
        foreign[c].as_report() for c in sorted(foreign) if c not in previous
    ]
    researcher.record_snapshot = {"foreign": sorted(foreign)}
    researcher.reconciled_at = utcnow()
    if report["removed_by_researcher"] or report["hidden"] or report["added_by_others"]:
        tell_researcher(
            session,
            deps.settings,
            orcid,
            "orcid.record_changed",
            {
                "removed_by_researcher": report["removed_by_researcher"],
                "hidden": report["hidden"],
                "added_by_others": report["added_by_others"],
                "first_look": first_look,
            },
        )
    session.flush()
    log.info(
        "orcid_reconciled",
        orcid=orcid,
        removed=len(report["removed_by_researcher"]),
        hidden=len(report["hidden"]),
        adopted=len(report["adopted"]),
        requeued=len(report["requeued"]),
        added_by_others=len(report["added_by_others"]),
    )
    return Result("reconciled", report=report)
