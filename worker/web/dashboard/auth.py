"""Who is using the dashboard, and whether a form really came from its own page.

A person is logged in by one of:
- a password (``PIDSYNC_DASHBOARD_USERS``: names with argon2 hashes), giving a session cookie
  signed with ``PIDSYNC_DASHBOARD_SESSION_SECRET`` (itsdangerous), HttpOnly, SameSite=Strict,
  scoped to /ops and Secure over https or in production; a logout is remembered in Redis
  until the cookie would expire, so a copy of the cookie taken before it opens nothing;
- a trusted reverse proxy's header (``PIDSYNC_DASHBOARD_PROXY_HEADER``), believed only when the
  request comes from one of ``PIDSYNC_DASHBOARD_TRUSTED_PROXIES`` — from anyone else the
  header is ignored;
- the operators' credential ``PIDSYNC_OPS_CREDENTIAL`` (worker.web.ops_access) in the
  Authorization header, as /docs and /metrics take it.
With none configured nobody gets in: the dashboard is never open by default.

Every POST carries a CSRF token: the session's random token, in a hidden field, compared in
constant time. The browser keeps the session cookie even before logging in (it holds only
that token), so the login form is protected too.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass, field
from hmac import compare_digest
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from worker.config import Settings
from worker.web.ops_access import credential_matches

COOKIE = "pidsync_ops"
_HASHER = PasswordHasher()
#: Verified when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@dataclass
class Session:
    """What the cookie holds: the person's name once logged in, the CSRF token, a notice."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    user: str | None = None
    flash: str | None = None
    changed: bool = True


class Gate:
    """The dashboard's authentication, built once per app from the settings."""

    def __init__(self, settings: Settings, redis: Any = None) -> None:
        self.settings = settings
        # Where logged-out sessions are remembered until their cookie would expire anyway: the
        # cookie is self-contained, so without this a copy taken before logout stays valid.
        self.redis = redis
        config = settings.dashboard
        secret = (
            config.session_secret.get_secret_value()
            if config.session_secret is not None
            else secrets.token_urlsafe(32)  # per process: logins last until it restarts
        )
        self.signer = URLSafeTimedSerializer(secret, salt="pidsync-ops-session")
        self.max_age = int(config.session_hours * 3600)
        self.users = {u.name: u.password_hash.get_secret_value() for u in config.users}

    @property
    def configured(self) -> bool:
        config = self.settings.dashboard
        return bool(self.users or config.proxy_header or self.settings.ops_credential)

    # --- the session cookie ------------------------------------------------------------

    def session(self, request: Request) -> Session:
        cached: Session | None = getattr(request.state, "ops_session", None)
        if cached is not None:
            return cached
        loaded = Session()
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                data: dict[str, Any] = self.signer.loads(raw, max_age=self.max_age)
                loaded = Session(
                    csrf=str(data["csrf"]),
                    user=data.get("user"),
                    flash=data.get("flash"),
                    changed=False,
                )
            except (BadSignature, KeyError, TypeError):
                loaded = Session()  # forged, expired or from another key: start afresh
            if loaded.user is not None and self._ended(loaded.csrf):
                loaded = Session()  # logged out: a copy of the cookie opens nothing
        request.state.ops_session = loaded
        return loaded

    def save(self, request: Request, response: Response) -> None:
        """Write the cookie when the session changed (a new token, a login, a notice)."""
        current = self.session(request)
        if not current.changed:
            return
        value = self.signer.dumps(
            {"csrf": current.csrf, "user": current.user, "flash": current.flash}
        )
        response.set_cookie(
            COOKIE,
            value,
            max_age=self.max_age,
            path="/ops",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https" or self.settings.env == "production",
        )

    # --- who is it ------------------------------------------------------------------

    def user(self, request: Request) -> str | None:
        """The logged-in person's name, or None."""
        proxied = self._proxied(request)
        if proxied is not None:
            return proxied
        if credential_matches(self.settings, request.headers.get("authorization")):
            return "ops-credential"
        return self.session(request).user

    def _proxied(self, request: Request) -> str | None:
        config = self.settings.dashboard
        if not config.proxy_header or request.client is None:
            return None
        try:
            peer = ipaddress.ip_address(request.client.host)
        except ValueError:
            return None
        if not any(peer in network for network in config.trusted_proxies):
            return None  # anyone can send the header: only the proxy's own is believed
        name = request.headers.get(config.proxy_header, "").strip()
        return name[:200] or None

    def login(self, request: Request, name: str, password: str) -> bool:
        stored = self.users.get(name)
        try:
            ok = _HASHER.verify(stored or _DUMMY, password) and stored is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if ok:
            session = self.session(request)
            # A fresh token at login: one learnt before it is worth nothing after.
            session.csrf = secrets.token_urlsafe(32)
            session.user = name
            session.changed = True
        return ok

    def _ended_key(self, csrf: str) -> str:
        # The token names the login (it is new at each login); only its hash is stored.
        return "pidsync:ops:ended:" + hashlib.sha256(csrf.encode()).hexdigest()

    def _ended(self, csrf: str) -> bool:
        return self.redis is not None and bool(self.redis.exists(self._ended_key(csrf)))

    def logout(self, request: Request) -> None:
        session = self.session(request)
        if self.redis is not None and session.user is not None:
            self.redis.set(self._ended_key(session.csrf), b"1", ex=max(self.max_age, 1))
        session.user = None
        session.csrf = secrets.token_urlsafe(32)
        session.changed = True

    def csrf_ok(self, request: Request, token: str | None) -> bool:
        expected = self.session(request).csrf
        return bool(token) and compare_digest(str(token).encode(), expected.encode())

    def notify(self, request: Request, message: str) -> None:
        session = self.session(request)
        session.flash = message
        session.changed = True

    def take_flash(self, request: Request) -> str | None:
        session = self.session(request)
        message, session.flash = session.flash, None
        if message is not None:
            session.changed = True
        return message
