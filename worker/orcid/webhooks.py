"""ORCID webhooks (premium): ORCID tells us when a granted record changes; we re-read it.

For each active grant of a premium client, when ``PIDSYNC_ORCID_WEBHOOK_BASE_URL`` is set, a
webhook is registered (``PUT {api}/{orcid}/webhook/{callback}`` with a client-credentials
``/webhook`` token) whose callback carries an unguessable per-record secret:
``{base}/webhooks/orcid/{orcid}/{secret}``. ORCID POSTs an empty body there; the receiver answers
at once and queues a reconciliation of that record. The webhook is removed when the grant ends.
"""

from __future__ import annotations

import secrets
from hmac import compare_digest
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.db import enqueue_after_commit
from worker.logging import get_logger
from worker.models import GrantEffect, GrantStatus, OrcidGrant
from worker.orcid import repository
from worker.orcid.attempts import stale_client_token, try_grant_effect
from worker.orcid.client import OrcidError, RevokedToken
from worker.orcid.oauth import WEBHOOK
from worker.orcid.result import Result, flushed

if TYPE_CHECKING:
    from worker.orcid.deps import OrcidDeps

log = get_logger(__name__)


def callback_url(settings: Settings, orcid: str, secret: str) -> str:
    base = (settings.orcid_webhook_base_url or "").rstrip("/")
    return f"{base}/webhooks/orcid/{orcid}/{secret}"


def wanted(deps: OrcidDeps, grant: OrcidGrant) -> bool:
    """Whether this grant's record should have a webhook."""
    if not deps.settings.orcid_webhook_base_url or grant.status != GrantStatus.ACTIVE:
        return False
    return any(c.client_id == grant.client_id and c.premium for c in deps.clients())


@flushed
def register(session: Session, deps: OrcidDeps, grant_id: int) -> Result:
    grant = session.get(OrcidGrant, grant_id, with_for_update=True)
    if grant is None:
        return Result("no webhook wanted")
    return try_grant_effect(
        session,
        deps.settings,
        grant,
        GrantEffect.REGISTER_WEBHOOK,
        lambda: _register(deps, grant),
    )


def _register(deps: OrcidDeps, grant: OrcidGrant) -> Result:
    if not wanted(deps, grant):
        return Result("no webhook wanted")
    if grant.webhook_secret is None:
        grant.webhook_secret = secrets.token_urlsafe(32)
    orcid = grant.researcher.orcid
    oauth = deps.oauth(grant.client_id)
    try:
        created = deps.member(grant.client_id).register_webhook(
            orcid,
            oauth.client_token(WEBHOOK),
            callback_url(deps.settings, orcid, grant.webhook_secret),
        )
    except RevokedToken as exc:
        oauth.forget(WEBHOOK)
        raise stale_client_token(exc) from None
    except OrcidError as exc:
        return Result(f"webhook refused: {exc.describe()}")
    grant.webhook_registered_at = utcnow()
    log.info("orcid_webhook_registered", orcid=orcid, client_id=grant.client_id, created=created)
    return Result("webhook registered" if created else "webhook already registered")


@flushed
def unregister(session: Session, deps: OrcidDeps, grant_id: int) -> Result:
    grant = session.get(OrcidGrant, grant_id, with_for_update=True)
    if grant is None:
        return Result("no webhook registered")
    return try_grant_effect(
        session,
        deps.settings,
        grant,
        GrantEffect.UNREGISTER_WEBHOOK,
        lambda: _unregister(deps, grant),
    )


def _unregister(deps: OrcidDeps, grant: OrcidGrant) -> Result:
    if grant.webhook_registered_at is None or grant.webhook_secret is None:
        return Result("no webhook registered")
    if grant.status == GrantStatus.ACTIVE and wanted(deps, grant):
        return Result("grant is active: webhook kept")
    orcid = grant.researcher.orcid
    oauth = deps.oauth(grant.client_id)
    url = callback_url(deps.settings, orcid, grant.webhook_secret)
    try:
        known = deps.member(grant.client_id).unregister_webhook(
            orcid, oauth.client_token(WEBHOOK), url
        )
    except RevokedToken as exc:
        oauth.forget(WEBHOOK)
        raise stale_client_token(exc) from None
    except OrcidError as exc:
        return Result(f"webhook removal refused: {exc.describe()}")
    grant.webhook_registered_at = None
    grant.webhook_secret = None
    log.info("orcid_webhook_removed", orcid=orcid, client_id=grant.client_id, known=known)
    return Result("webhook removed")


def receive(session: Session, orcid: str, secret: str) -> bool:
    """A call from ORCID: True (and a reconciliation queued) when the secret is this record's."""

    known = repository.webhook_secrets(session, orcid)
    if not any(compare_digest(one, secret) for one in known):
        return False
    enqueue_after_commit(session, "orcid.reconcile", orcid)
    return True


def upkeep_grant(session: Session, deps: OrcidDeps, grant_id: int) -> bool:
    """Queue registration for a granted record without a webhook, or removal for an ended
    grant's; whether a message was queued."""
    grant = session.get(OrcidGrant, grant_id, with_for_update={"skip_locked": True})
    if grant is None:
        return False
    if grant.status == GrantStatus.ACTIVE:
        if grant.webhook_registered_at is None and wanted(deps, grant):
            enqueue_after_commit(session, "orcid.register_webhook", grant.id)
            return True
        return False
    if grant.webhook_registered_at is not None:
        enqueue_after_commit(session, "orcid.unregister_webhook", grant.id)
        return True
    return False
