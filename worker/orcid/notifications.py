"""ORCID permission notifications: asking a researcher who revoked to authorise again.

Sent only when ``PIDSYNC_ORCID_PREMIUM_NOTIFICATIONS`` is on, for a premium client, and when
there is something to ask for (works waiting for consent). The notification lands in the
researcher's ORCID inbox with an authorisation link: ORCID's consent page for our client, with
a single-use invitation ``state`` (:func:`worker.orcid.consent.create_invite`) that our
``/orcid/callback`` accepts without a browser cookie. A researcher who opted out of
notifications (409/9032) is recorded, not retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.logging import get_logger
from worker.models import GrantEffect, GrantStatus, OrcidGrant
from worker.orcid import repository
from worker.orcid.attempts import stale_client_token, try_grant_effect
from worker.orcid.client import OrcidError, RevokedToken
from worker.orcid.consent import create_invite
from worker.orcid.oauth import PREMIUM_NOTIFICATION
from worker.orcid.payload import metadata_work
from worker.orcid.result import Result, flushed

if TYPE_CHECKING:
    from worker.orcid.deps import OrcidDeps

log = get_logger(__name__)

MAX_ITEMS = 20
TEXT_MAX = 1000


def permission_body(
    institution: str, authorization_url: str, works: list[tuple[str, str]]
) -> dict[str, Any]:
    """The ``notification-permission`` JSON: ``works`` as (title, source-work-id) pairs."""
    intro = (
        f"{institution} can no longer add your works to your ORCID record because the "
        "permission you gave was withdrawn. If you would like these works added, please "
        "authorise again."
    )
    items = [
        {
            "item-type": "work",
            "item-name": title[:TEXT_MAX],
            "external-id": {
                "external-id-type": "source-work-id",
                "external-id-value": source_work_id,
                "external-id-relationship": "self",
            },
        }
        for title, source_work_id in works[:MAX_ITEMS]
    ]
    return {
        "notification-type": "permission",
        "authorization-url": {"uri": authorization_url},
        "notification-subject": f"{institution} asks to update your ORCID record"[:TEXT_MAX],
        "notification-intro": intro[:TEXT_MAX],
        "items": {"item": items},
    }


def _waiting_works(session: Session, grant: OrcidGrant) -> list[tuple[str, str]]:
    rows = repository.works_awaiting_consent(
        session, grant.researcher.orcid, grant.client_id, MAX_ITEMS
    )
    works = []
    for work in rows:
        title = metadata_work(work).title
        works.append((title, f"{work.source}:{work.external_id}"))
    return works


@flushed
def request_permission(session: Session, deps: OrcidDeps, grant_id: int) -> Result:
    grant = session.get(OrcidGrant, grant_id, with_for_update=True)
    if grant is None:
        return Result("grant is not revoked: nothing to ask")
    return try_grant_effect(
        session,
        deps.settings,
        grant,
        GrantEffect.REQUEST_PERMISSION,
        lambda: _request_permission(session, deps, grant),
    )


def _request_permission(session: Session, deps: OrcidDeps, grant: OrcidGrant) -> Result:
    settings = deps.settings
    if grant.status != GrantStatus.REVOKED:
        return Result("grant is not revoked: nothing to ask")
    config = deps.client_config(grant.client_id)
    if not settings.orcid_premium_notifications or not config.premium:
        return Result("permission notifications are not configured for this client")
    if not settings.orcid_callback_url:
        return Result("PIDSYNC_ORCID_CALLBACK_URL is not set: no link to send")
    works = _waiting_works(session, grant)
    if not works:
        return Result("no works wait for consent: nothing to ask")
    orcid = grant.researcher.orcid
    invite = create_invite(
        session,
        settings,
        orcid=orcid,
        client_id=grant.client_id,
        redirect_uri=settings.orcid_callback_url,
    )
    oauth = deps.oauth(grant.client_id)
    url = oauth.authorization_url(settings.orcid_callback_url, invite.state)
    body = permission_body(config.name or "Your institution", url, works)
    try:
        token = oauth.client_token(PREMIUM_NOTIFICATION)
        deps.member(grant.client_id).notify_permission(orcid, token, body)
    except RevokedToken as exc:
        oauth.forget(PREMIUM_NOTIFICATION)
        raise stale_client_token(exc) from None
    except OrcidError as exc:
        if exc.error_code == 9032:
            grant.revoked_reason = f"{grant.revoked_reason or ''} (the researcher does not accept "
            grant.revoked_reason += "ORCID notifications)"
            return Result("the researcher opted out of notifications")
        return Result(f"notification refused: {exc.describe()}")
    grant.reauth_requested_at = utcnow()
    log.info("orcid_permission_requested", orcid=orcid, client_id=grant.client_id, works=len(works))
    return Result(f"permission notification sent ({len(works)} work(s))")
