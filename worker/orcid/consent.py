"""Researcher consent through pidsync itself: ``/orcid/connect`` → ORCID → ``/orcid/callback``.

Each consent request gets a fresh, unguessable ``state`` stored with what it was for (person,
ORCID client, allow-listed ``return_to``, the redirect URI), single-use and expiring. The
browser that started the request carries the state in a cookie, and the callback accepts only
that browser's answer, only once, only in time. Invitations sent in ORCID permission
notifications carry a state too, not bound to a browser (the researcher opens it from ORCID's
inbox) and valid longer (``orcid_invite_ttl_days``). Every outcome is recorded on the state row:
granted, denied (the researcher said no) or failed (with the reason).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from hmac import compare_digest
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings, is_loopback
from worker.errors import TransientError
from worker.http import HttpError
from worker.logging import get_logger, redact_text
from worker.models import ConsentOutcome, OAuthState
from worker.orcid.grants import can_write, store_token_response
from worker.orcid.oauth import OAuthFailed
from worker.orcid.placements import on_grant_stored
from worker.works.trigger import Trigger

if TYPE_CHECKING:
    from worker.orcid.deps import OrcidDeps

log = get_logger(__name__)

COOKIE = "pidsync_orcid_consent"
_DEFAULT_PORTS = {"http": 80, "https": 443}


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

    def redirect_url(self) -> str | None:
        """``return_to`` with the outcome in its query, when there is one."""
        if not self.return_to:
            return None
        parts = urlsplit(self.return_to)
        extra = {"orcid_status": self.outcome.value}
        if self.orcid:
            extra["orcid"] = self.orcid
        if self.person:
            extra["person"] = self.person
        query = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else _DEFAULT_PORTS.get(scheme)


def return_to_allowed(settings: Settings, url: str) -> bool:
    """Only URLs under an allow-listed prefix (same scheme, host and port; path below it).
    Anything odd (backslashes, control characters, user info, a scheme-relative or non-http
    URL) is refused: ``return_to`` must never become an open redirect."""
    if not url or any(ch in url for ch in "\\\r\n\t\x00 ") or url.startswith("//"):
        return False
    try:
        parts = urlsplit(url)
        port = _port(parts.scheme, parts.port)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return False
    if parts.scheme == "http" and not is_loopback(url):
        return False
    for allowed in settings.orcid_return_to_allowlist:
        a = urlsplit(allowed)
        same_origin = (parts.scheme, parts.hostname, port) == (
            a.scheme,
            a.hostname,
            _port(a.scheme, a.port),
        )
        prefix = a.path.rstrip("/")
        if same_origin and (
            not prefix or parts.path == prefix or parts.path.startswith(prefix + "/")
        ):
            return True
    return False


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
    if return_to and not return_to_allowed(settings, return_to):
        raise ConsentRejected("return_to: not an allowed address to send you back to")
    if person is not None and len(person) > 500:
        raise ConsentRejected("person: at most 500 characters")
    chosen = choose_client(deps, client_id)
    row = OAuthState(
        state=secrets.token_urlsafe(32),
        person=person or None,
        client_id=chosen,
        return_to=return_to or None,
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
    row = session.execute(
        select(OAuthState).where(OAuthState.state == state).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise ConsentRejected("unknown consent request: please start again")
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
        detail = redact_text(f"{error}: {error_description or ''}").strip(": ")
        return _record(row, done, ConsentOutcome.FAILED, f"ORCID reported an error: {detail}", 400)
    if not code:
        return _record(row, done, ConsentOutcome.FAILED, "ORCID sent no authorization code", 400)
    try:
        token = deps.oauth(row.client_id).exchange_code(code, row.redirect_uri or "")
    except OAuthFailed as exc:
        return _record(
            row, done, ConsentOutcome.FAILED, f"ORCID refused the authorization: {exc}", 400
        )
    except (TransientError, HttpError) as exc:
        why = redact_text(f"{type(exc).__name__}: {exc}")
        return _record(row, done, ConsentOutcome.FAILED, f"ORCID could not be reached: {why}", 502)
    if not token.get("orcid") or not token.get("access_token"):
        return _record(row, done, ConsentOutcome.FAILED, "ORCID's answer named no ORCID iD", 502)
    grant = store_token_response(session, deps.cipher, row.client_id, token)
    row.orcid = done.orcid = str(token["orcid"])
    if not can_write(grant):
        message = "Authorised for reading only: works will not be added to your record."
    else:
        on_grant_stored(session, grant, Trigger(client_id=None, settings=deps.settings))
        message = "Thank you: your works will be added to your ORCID record."
    return _record(row, done, ConsentOutcome.GRANTED, message)


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
