"""Researcher consent through pidsync itself: ``/orcid/connect`` → ORCID → ``/orcid/callback``.

Each consent request gets a fresh, unguessable ``state`` stored with what it was for (person,
ORCID client, allow-listed ``return_to``, the redirect URI), single-use and expiring. The
browser that started the request carries the state in a cookie, and the callback accepts only
that browser's answer, only once, only in time. Invitations sent in ORCID permission
notifications carry a state too, not bound to a browser (the researcher opens it from ORCID's
inbox) and valid longer (``orcid_invite_ttl_days``). Every outcome is recorded on the state row:
granted, denied (the researcher said no) or failed (with the reason; never the authorization
code, which ORCID's error text may repeat). ``return_to`` is normalised before its allow-list
check and the redirect back is signed (:mod:`worker.orcid.return_to`). Expired states are
purged by the scheduler (:func:`purge_expired`); a used one is kept
``orcid_state_retention_days`` as the record of that consent.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from hmac import compare_digest
from typing import TYPE_CHECKING

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.errors import TransientError
from worker.http import HttpError
from worker.logging import get_logger, redact_text
from worker.models import ConsentOutcome, OAuthState
from worker.orcid import return_to as back
from worker.orcid.grants import can_write, store_token_response
from worker.orcid.oauth import OAuthFailed
from worker.orcid.placements import on_grant_stored
from worker.orcid.sections import service as sections
from worker.works.trigger import Trigger

if TYPE_CHECKING:
    from worker.orcid.deps import OrcidDeps

log = get_logger(__name__)

COOKIE = "pidsync_orcid_consent"
# Query parameters are text a person or a CRIS typed: printable, bounded (a NUL cannot even be
# stored in PostgreSQL).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STATE = re.compile(r"[A-Za-z0-9_-]{1,100}")
_ERROR = re.compile(r"[a-z_]{1,64}")
# "Invalid authorization code: WkiYjn", "code=WkiYjn": ORCID's texts repeat the code.
_CODE_TEXT = re.compile(r"(?i)\b(code\b[\s:=\"']{0,3})([A-Za-z0-9_-]{4,})")


class ConsentRejected(Exception):
    """The request or the answer cannot be accepted; nothing was done. ``status`` for HTTP."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ConsentStart:
    url: str
    state: str


@dataclass
class ConsentDone:
    outcome: ConsentOutcome
    message: str
    status: int = 200
    orcid: str | None = None
    person: str | None = None
    return_to: str | None = None
    client_id: str | None = None
    # The ORCID client's secret, which signs the redirect back (never shown or stored).
    signing_key: str | None = field(default=None, repr=False)

    def redirect_url(self, now: float | None = None) -> str | None:
        """``return_to`` with the outcome in its query and signed, when there is one."""
        if not self.return_to or not self.signing_key:
            return None
        params = {"orcid_status": self.outcome.value, "orcid_ts": str(int(now or time.time()))}
        if self.orcid:
            params["orcid"] = self.orcid
        if self.person:
            params["person"] = self.person
        return back.signed_url(self.return_to, self.signing_key, params)


def return_to_allowed(settings: Settings, url: str) -> bool:
    """Whether ``url``, normalised, lies under an allow-listed prefix
    (:func:`worker.orcid.return_to.allowed`)."""
    return back.allowed(settings, url) is not None


def _text_param(name: str, value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    if len(value) > limit:
        raise ConsentRejected(f"{name}: at most {limit} characters")
    if _CONTROL.search(value) or any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ConsentRejected(f"{name}: control characters are not allowed")
    return value or None


def _scrub(text: str, code: str | None) -> str:
    """ORCID's error text without the authorization code (``Invalid authorization code:
    WkiYjn``) and without other secrets, cut to a line."""
    if code:
        text = text.replace(code, "[code]")
    text = _CODE_TEXT.sub(lambda m: f"{m.group(1)}[code]", _CONTROL.sub(" ", text))
    return redact_text(text)[:300]


def choose_client(deps: OrcidDeps, client_id: str | None) -> str:
    clients = [c.client_id for c in deps.clients()]
    if client_id:
        if client_id not in clients:
            raise ConsentRejected(f"client: not a configured ORCID client: {client_id}")
        return client_id
    if len(clients) == 1:
        return clients[0]
    if not clients:
        raise ConsentRejected("no ORCID client is configured", status=503)
    raise ConsentRejected("client: required, several ORCID clients are configured")


def start(
    session: Session,
    deps: OrcidDeps,
    *,
    person: str | None,
    return_to: str | None,
    client_id: str | None,
    redirect_uri: str,
) -> ConsentStart:
    """Record a consent request and return ORCID's authorize URL for it."""
    settings = deps.settings
    person = _text_param("person", person, 500)
    client_id = _text_param("client", client_id, 100)
    normal = None
    if return_to:
        normal = back.allowed(settings, return_to)
        if normal is None:
            raise ConsentRejected("return_to: not an allowed address to send you back to")
    chosen = choose_client(deps, client_id)
    row = OAuthState(
        state=secrets.token_urlsafe(32),
        person=person,
        client_id=chosen,
        return_to=normal,
        redirect_uri=redirect_uri,
        expires_at=utcnow() + timedelta(seconds=settings.orcid_state_ttl_seconds),
    )
    session.add(row)
    session.flush()
    url = deps.oauth(chosen).authorization_url(redirect_uri, row.state)
    log.info("orcid_consent_started", client_id=chosen, person=row.person)
    return ConsentStart(url=url, state=row.state)


def create_invite(
    session: Session, settings: Settings, *, orcid: str, client_id: str, redirect_uri: str
) -> OAuthState:
    """A state for a re-authorisation link sent in an ORCID notification."""
    row = OAuthState(
        state=secrets.token_urlsafe(32),
        person=orcid,
        client_id=client_id,
        redirect_uri=redirect_uri,
        invite=True,
        expires_at=utcnow() + timedelta(days=settings.orcid_invite_ttl_days),
    )
    session.add(row)
    session.flush()
    return row


def finish(
    session: Session,
    deps: OrcidDeps,
    *,
    state: str | None,
    browser_state: str | None,
    code: str | None,
    error: str | None,
    error_description: str | None,
) -> ConsentDone:
    """Check ORCID's answer against its request, exchange the code, store the grant."""
    if not state:
        raise ConsentRejected("the answer from ORCID carries no state: please start again")
    if not _STATE.fullmatch(state):
        raise ConsentRejected("unknown consent request: please start again")
    if code is not None and not _STATE.fullmatch(code):
        code = None  # not a code ORCID makes: treated as none sent
    row = session.execute(
        select(OAuthState).where(OAuthState.state == state).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise ConsentRejected("unknown consent request: please start again")
    if browser_state is not None and not _STATE.fullmatch(browser_state):
        browser_state = None  # compare_digest takes ASCII only; such a cookie is not ours
    if not row.invite and not compare_digest(browser_state or "", state):
        raise ConsentRejected(
            "this answer does not belong to a consent request started in this browser"
        )
    if row.used_at is not None:
        raise ConsentRejected("this consent request was already used: please start again")
    now = utcnow()
    row.used_at = now
    done = ConsentDone(
        outcome=ConsentOutcome.FAILED,
        message="",
        person=row.person,
        return_to=row.return_to,
        client_id=row.client_id,
        signing_key=_signing_key(deps, row.client_id),
    )
    if row.expires_at < now:
        return _record(
            row,
            done,
            ConsentOutcome.FAILED,
            "this consent request expired: please start again",
            400,
        )
    if error:
        if error == "access_denied":
            return _record(
                row,
                done,
                ConsentOutcome.DENIED,
                "You did not authorise access to your ORCID record.",
            )
        name = error if _ERROR.fullmatch(error) else "unknown_error"
        detail = _scrub(f"{name}: {error_description or ''}", code).strip(": ")
        return _record(row, done, ConsentOutcome.FAILED, f"ORCID reported an error: {detail}", 400)
    if not code:
        return _record(row, done, ConsentOutcome.FAILED, "ORCID sent no authorization code", 400)
    try:
        token = deps.oauth(row.client_id).exchange_code(code, row.redirect_uri or "")
    except OAuthFailed as exc:
        why = _scrub(str(exc), code)
        return _record(
            row, done, ConsentOutcome.FAILED, f"ORCID refused the authorization: {why}", 400
        )
    except (TransientError, HttpError) as exc:
        why = _scrub(f"{type(exc).__name__}: {exc}", code)
        return _record(row, done, ConsentOutcome.FAILED, f"ORCID could not be reached: {why}", 502)
    if not token.get("orcid") or not token.get("access_token"):
        return _record(row, done, ConsentOutcome.FAILED, "ORCID's answer named no ORCID iD", 502)
    grant = store_token_response(session, deps.cipher, row.client_id, token)
    row.orcid = done.orcid = str(token["orcid"])
    # A read-only grant too: it reads the record to resolve placements in doubt.
    on_grant_stored(session, grant, Trigger(client_id=None, settings=deps.settings))
    if not can_write(grant):
        message = "Authorised for reading only: works will not be added to your record."
    else:
        sections.on_grant_stored(session, grant)  # affiliations, fundings, reviews waiting
        message = "Thank you: your works will be added to your ORCID record."
    return _record(row, done, ConsentOutcome.GRANTED, message)


def _signing_key(deps: OrcidDeps, client_id: str) -> str | None:
    for client in deps.clients():
        if client.client_id == client_id:
            return client.client_secret.get_secret_value()
    return None  # the client was removed from the configuration: no redirect back


def purge_expired(session: Session, settings: Settings) -> int:
    """Delete expired consent requests: unused ones at once (nothing can use them any more),
    used ones ``orcid_state_retention_days`` after they expired (their outcome is the record
    of that consent until then). At most ``settings.sweep_batch`` rows per run."""
    now = utcnow()
    kept_until = now - timedelta(days=settings.orcid_state_retention_days)
    ids = (
        select(OAuthState.id)
        .where(
            or_(
                OAuthState.used_at.is_(None) & (OAuthState.expires_at < now),
                OAuthState.expires_at < kept_until,
            )
        )
        .order_by(OAuthState.expires_at)
        .limit(settings.sweep_batch)
        .with_for_update(skip_locked=True)
    )
    result = session.execute(delete(OAuthState).where(OAuthState.id.in_(ids)))
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def _record(
    row: OAuthState, done: ConsentDone, outcome: ConsentOutcome, message: str, status: int = 200
) -> ConsentDone:
    row.outcome = outcome
    row.outcome_reason = None if outcome is ConsentOutcome.GRANTED else message
    done.outcome = outcome
    done.message = message
    done.status = status
    log.info(
        "orcid_consent_finished", outcome=outcome.value, client_id=row.client_id, orcid=row.orcid
    )
    return done
