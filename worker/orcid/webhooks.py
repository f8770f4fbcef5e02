"""ORCID webhooks (premium): ORCID tells us when a granted record changes; we re-read it.

For each active grant of a premium client, when ``PIDSYNC_ORCID_WEBHOOK_BASE_URL`` is set, a
webhook is registered (``PUT {api}/{orcid}/webhook/{callback}`` with a client-credentials
``/webhook`` token) whose callback is ``{base}/webhooks/orcid/{webhook_id}/{secret}``. ORCID
POSTs an empty body there with nothing else to authenticate it (API_FACTS.md §1.8), so the URL
is the credential: a random id that finds the grant (it names no ORCID iD), and a random secret
that proves the caller was given the URL. pidsync keeps the secret's SHA-256 to check calls,
and its ciphertext (the token keys) only to rebuild the URL ORCID needs to remove the webhook;
the access log shows the path with the secret redacted (:mod:`worker.logging`). The receiver
answers at once and queues a reconciliation of that record. The webhook is removed when the
grant ends.
"""

from __future__ import annotations

import hashlib
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


def callback_url(settings: Settings, webhook_id: str, secret: str) -> str:
    base = (settings.orcid_webhook_base_url or "").rstrip("/")
    return f"{base}/webhooks/orcid/{webhook_id}/{secret}"


def secret_hash(secret: str) -> str:
    """What is kept of a webhook secret to check ORCID's calls (256 random bits: a plain
    SHA-256 is enough, there is nothing to guess)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _new_secret(deps: OrcidDeps, grant: OrcidGrant) -> tuple[str, str]:
    webhook_id, secret = secrets.token_urlsafe(12), secrets.token_urlsafe(32)
    grant.webhook_id = webhook_id
    grant.webhook_secret_hash = secret_hash(secret)
    grant.webhook_secret_enc = deps.cipher.encrypt(secret)
    return webhook_id, secret


def _forget_secret(grant: OrcidGrant) -> None:
    grant.webhook_id = None
    grant.webhook_secret_hash = None
    grant.webhook_secret_enc = None


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
    if grant.webhook_id is None or grant.webhook_secret_enc is None:
        webhook_id, secret = _new_secret(deps, grant)
    else:  # a retry registers the same URL
        webhook_id, secret = grant.webhook_id, deps.cipher.decrypt(grant.webhook_secret_enc)
    orcid = grant.researcher.orcid
    oauth = deps.oauth(grant.client_id)
    try:
        created = deps.member(grant.client_id).register_webhook(
            orcid,
            oauth.client_token(WEBHOOK),
            callback_url(deps.settings, webhook_id, secret),
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
    if grant.webhook_registered_at is None or grant.webhook_id is None:
        return Result("no webhook registered")
    if grant.status == GrantStatus.ACTIVE and wanted(deps, grant):
        return Result("grant is active: webhook kept")
    orcid = grant.researcher.orcid
    if grant.webhook_secret_enc is None:
        # Registered before secrets were hashed (the migration kept only the hash): the URL
        # cannot be rebuilt. Calls to it are refused once the grant's hash is forgotten.
        grant.webhook_registered_at = None
        _forget_secret(grant)
        log.warning("orcid_webhook_url_unknown", orcid=orcid, client_id=grant.client_id)
        return Result("webhook registered before secrets were hashed: remove it at ORCID")
    oauth = deps.oauth(grant.client_id)
    url = callback_url(
        deps.settings, grant.webhook_id, deps.cipher.decrypt(grant.webhook_secret_enc)
    )
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
    _forget_secret(grant)
    log.info("orcid_webhook_removed", orcid=orcid, client_id=grant.client_id, known=known)
    return Result("webhook removed")


def receive(session: Session, webhook_id: str, secret: str) -> bool:
    """A call from ORCID: True (and a reconciliation of the record queued) when ``secret`` is
    the one of the webhook ``webhook_id``."""
    offered = secret_hash(secret)
    for grant in repository.grants_by_webhook_id(session, webhook_id):
        if compare_digest(grant.webhook_secret_hash or "", offered):
            enqueue_after_commit(session, "orcid.reconcile", grant.researcher.orcid)
            return True
    return False


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
