"""Revoked grants: detected at ORCID (a dead token), asked for by the emitting system or an
operator, and the token revoked at ORCID. A revoked grant never fails a job: its pending
placements wait for consent, the emitting systems are told (``grant.revoked``), and, when
configured, the researcher gets an ORCID notification asking them to authorise again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from worker.db import enqueue_after_commit
from worker.logging import get_logger
from worker.models import GrantEffect, GrantStatus, OrcidGrant, PlacementState
from worker.orcid import repository
from worker.orcid.attempts import grant_effect
from worker.orcid.client import RevokedToken
from worker.orcid.grants import access_token, mark_revoked, wipe_tokens
from worker.orcid.oauth import OAuthFailed
from worker.orcid.recipients import tell_researcher
from worker.orcid.result import Result
from worker.orcid.sections import service as sections

if TYPE_CHECKING:
    from worker.config import Settings
    from worker.orcid.deps import OrcidDeps

log = get_logger(__name__)


def revoke_locally(session: Session, grant: OrcidGrant, reason: str) -> int:

    if not mark_revoked(grant, reason):
        return 0
    park(session, grant, reason)
    enqueue_after_commit(session, "orcid.revoke_token", grant.id)
    if grant.webhook_registered_at is not None:
        enqueue_after_commit(session, "orcid.unregister_webhook", grant.id)
    return 1


def park(session: Session, grant: OrcidGrant, reason: str) -> int:
    rows = repository.pending_placements(session, grant.researcher.orcid, grant.client_id)
    count = 0
    for row in rows:
        row.state = PlacementState.AWAITING_CONSENT
        row.last_error = f"waiting for the researcher to authorise again: {reason}"
        # Pending without a put-code: a try may have POSTed it and died before its commit.
        # Kept in doubt, so its withdrawal or the next grant looks at the record first.
        row.in_doubt = row.in_doubt or row.put_code is None
        count += 1
    return count + sections.park(session, grant, reason)


def revoke_grants(
    session: Session, settings: Settings, orcid: str, client_id: str | None, reason: str
) -> list[int]:
    """Revoke the researcher's grants here (an operator's ``pidsync tokens revoke``); the ids
    of the grants whose tokens must now be revoked at ORCID. The emitting systems are told."""

    grants = repository.grants_of(session, orcid, client_id)
    for grant in grants:
        if not mark_revoked(grant, reason):
            continue
        parked = park(session, grant, reason)
        tell_researcher(
            session,
            settings,
            orcid,
            "grant.revoked",
            {"client_id": grant.client_id, "reason": reason, "awaiting_consent": parked},
        )
        if grant.webhook_registered_at is not None:
            enqueue_after_commit(session, "orcid.unregister_webhook", grant.id)
    session.flush()
    return [g.id for g in grants if g.access_token_enc]


def handle_revoked(session: Session, settings: Settings, grant: OrcidGrant, reason: str) -> Result:
    """ORCID says the token is dead: grant revoked, pending placements parked, the emitting
    system told (``grant.revoked``), and a permission notification asked for when configured."""

    if not mark_revoked(grant, reason):
        return Result("grant already revoked")
    parked = park(session, grant, reason)
    tell_researcher(
        session,
        settings,
        grant.researcher.orcid,
        "grant.revoked",
        {"client_id": grant.client_id, "reason": reason, "awaiting_consent": parked},
    )
    if settings.orcid_premium_notifications:
        enqueue_after_commit(session, "orcid.request_permission", grant.id)
    if grant.webhook_registered_at is not None:
        enqueue_after_commit(session, "orcid.unregister_webhook", grant.id)
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


def revoke_at_orcid(session: Session, deps: OrcidDeps, grant_id: int) -> Result:
    """Revoke a (locally revoked) grant's token at ORCID, then forget it."""
    return grant_effect(
        session,
        deps.settings,
        grant_id,
        GrantEffect.REVOKE_AT_ORCID,
        lambda grant: _revoke_at_orcid(deps, grant),
        missing="no token to revoke",
    )


def _revoke_at_orcid(deps: OrcidDeps, grant: OrcidGrant) -> Result:
    if not grant.access_token_enc:
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
    wipe_tokens(grant)
    log.info("orcid_token_revoked", orcid=grant.researcher.orcid, client_id=grant.client_id)
    return Result("token revoked at ORCID")
