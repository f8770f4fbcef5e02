"""ORCID OAuth with requests-oauthlib: the authorize URL, the code exchange, client-credentials
tokens (cached), and revocation.

Every call to ORCID's token and revoke endpoints goes through :class:`worker.http.ApiClient`, so
it is recorded like any other call and fails with the same typed errors. Token values never
reach a log line: requests-oauthlib and oauthlib log request bodies and tokens at DEBUG, so
their loggers are held at WARNING. Plain ``http://`` is allowed only for a loopback ORCID (the
sandbox): the insecure-transport switch is set for nothing else (DESIGN.md §7).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import requests
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error
from requests_oauthlib import OAuth2Session

from worker.config import OrcidClient, is_loopback
from worker.errors import PermanentError
from worker.http import ApiClient, RequestError, ServerError

#: What pidsync asks researchers for (3-legged).
#: The scope that lets a member client place works on a record.
WRITE_SCOPE = "/activities/update"
CONSENT_SCOPES = (WRITE_SCOPE, "/read-limited")
READ_PUBLIC = "/read-public"
WEBHOOK = "/webhook"
PREMIUM_NOTIFICATION = "/premium-notification"
_ALL_STATUSES = range(100, 600)


class OAuthFailed(PermanentError):
    """ORCID refused an OAuth request (bad code, bad client, invalid scope...)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"ORCID OAuth error {error}: {description}")
        self.error = error
        self.description = description


def allow_loopback_http(url: str) -> None:
    """Let oauthlib use plain http for a loopback ORCID; https stays required elsewhere."""
    if url.startswith("http://") and is_loopback(url):
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def _quiet_oauth_loggers() -> None:
    for name in ("requests_oauthlib", "oauthlib"):
        logging.getLogger(name).setLevel(logging.WARNING)


def token_dict(token: dict[str, Any]) -> dict[str, Any]:
    """ORCID's token JSON as a plain dict: ``scope`` a space-separated string, no
    requests-oauthlib bookkeeping (``expires_at``)."""
    out = {k: v for k, v in dict(token).items() if k != "expires_at"}
    scope = out.get("scope")
    if isinstance(scope, list | tuple):
        out["scope"] = " ".join(scope)
    return out


class OAuthHttp(ApiClient):
    """ORCID's OAuth host, as plain HTTP (recorded, typed errors)."""

    service = "orcid-oauth"


class _RecordedSession(OAuth2Session):  # type: ignore[misc]
    """An OAuth2Session whose requests go through an :class:`OAuthHttp` (recorded)."""

    def __init__(self, http: OAuthHttp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._http = http
        self.register_compliance_hook("access_token_response", self._raise_server_error)

    def request(
        self, method: str, url: str, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> requests.Response:
        for key in ("withhold_token", "client_id", "client_secret", "files"):
            kwargs.pop(key, None)
        return self._http.request(
            method, url, ok=_ALL_STATUSES, data=data, headers=headers, **kwargs
        )

    @staticmethod
    def _raise_server_error(response: requests.Response) -> requests.Response:
        status = response.status_code
        if status == 429 or status >= 500:
            raise ServerError(
                f"orcid-oauth {response.request.method} answered {status}",
                service="orcid-oauth",
                status=status,
            )
        return response


class OrcidOAuth:
    """One ORCID member client's OAuth: consent URLs, code exchange, client tokens, revoke."""

    def __init__(
        self,
        base_url: str,
        client: OrcidClient,
        *,
        http: OAuthHttp | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.http = http or OAuthHttp(self.base_url, timeout=timeout)
        self.timeout = timeout
        self._cache: dict[str, str] = {}
        self._cache_lock = threading.Lock()
        allow_loopback_http(self.base_url)
        _quiet_oauth_loggers()

    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    def _secret(self) -> str:
        return self.client.client_secret.get_secret_value()

    def authorization_url(
        self, redirect_uri: str, state: str, scopes: tuple[str, ...] = CONSENT_SCOPES
    ) -> str:
        session = OAuth2Session(
            self.client_id, redirect_uri=redirect_uri, scope=list(scopes), state=state
        )
        url, _state = session.authorization_url(f"{self.base_url}/oauth/authorize")
        return str(url)

    def _fetch(self, session: OAuth2Session, **kwargs: Any) -> dict[str, Any]:
        try:
            token = session.fetch_token(
                self.token_url,
                client_secret=self._secret(),
                include_client_id=True,
                timeout=self.timeout,
                **kwargs,
            )
        except OAuth2Error as exc:
            raise OAuthFailed(exc.error, exc.description or "") from None
        except Warning as changed:  # oauthlib: "Scope has changed" carries the token
            token = getattr(changed, "token", None)
            if token is None:
                raise OAuthFailed("invalid_scope", str(changed)) from None
        return token_dict(token)

    def exchange_code(self, code: str, redirect_uri: str) -> dict[str, Any]:
        """The authorization code for ORCID's token JSON (``orcid``, ``access_token``, ...)."""
        session = _RecordedSession(self.http, client_id=self.client_id, redirect_uri=redirect_uri)
        return self._fetch(session, code=code)

    def client_credentials(self, scope: str) -> dict[str, Any]:
        """A 2-legged token (``/read-public``, ``/webhook``, ``/premium-notification``)."""
        session = _RecordedSession(
            self.http, client=BackendApplicationClient(client_id=self.client_id, scope=[scope])
        )
        return self._fetch(session, scope=[scope])

    def client_token(self, scope: str) -> str:
        """The cached 2-legged access token for ``scope`` (fetched once per process)."""
        with self._cache_lock:
            cached = self._cache.get(scope)
            if cached is None:
                cached = str(self.client_credentials(scope)["access_token"])
                self._cache[scope] = cached
            return cached

    def forget(self, scope: str) -> None:
        """Drop a cached client token ORCID no longer accepts."""
        with self._cache_lock:
            self._cache.pop(scope, None)

    def revoke(self, token: str) -> None:
        """``POST /oauth/revoke``: the access token and its refresh token stop working."""
        try:
            self.http.request(
                "POST",
                f"{self.base_url}/oauth/revoke",
                data={"client_id": self.client_id, "client_secret": self._secret(), "token": token},
                headers={"Accept": "application/json"},
            )
        except RequestError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            raise OAuthFailed(
                str(body.get("error") or exc.status), str(body.get("error_description") or "")
            ) from None
