"""ORCID's OAuth host: the consent page, the token endpoint and revocation.

``GET /orcid/oauth/authorize?client_id&response_type=code&scope&redirect_uri&state`` shows a
consent page naming the client and the scopes, with Authorize and Deny buttons in one form
that POSTs back to the same path. The sandbox has no login: the form has an ``orcid`` field
("signed in as"), pre-filled from a sandbox-only ``orcid=`` query parameter, naming the sandbox
researcher who decides. Posting ``user_oauth_approval=true`` redirects to ``redirect_uri`` with
``code`` (6 characters) and ``state``; ``false`` with ``error=access_denied``. A script
consents by POSTing the form fields directly.

``POST /orcid/oauth/token`` (also on the member API host, as ORCID accepts both): grant types
``authorization_code`` (single-use codes; the redirect URI must match), ``client_credentials``
(``/read-public``; ``/webhook`` and ``/premium-notification`` for premium members) and
``refresh_token`` (``revoke_old``, a narrower ``scope``, ``expires_in``). ``POST
/orcid/oauth/revoke`` revokes an access or a refresh token (both go together). Client
credentials come in the form or as HTTP Basic.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiohttp import web
from yarl import URL

from worker.sandbox.orcid import ids
from worker.sandbox.orcid.api import JSON_UTF8, oauth_error_response
from worker.sandbox.orcid.errors import OAuthError
from worker.sandbox.orcid.pages import consent_page, error_page
from worker.sandbox.orcid.store import AuthCode, Client, Token

if TYPE_CHECKING:
    from worker.sandbox.orcid.service import OrcidService

THREE_LEGGED = frozenset(
    {
        "/authenticate",
        "/activities/update",
        "/activities/read-limited",
        "/person/update",
        "/person/read-limited",
        "/read-limited",
        "/read-public",
        "openid",
    }
)
PUBLIC_CLIENT_SCOPES = frozenset({"/authenticate", "/read-public", "openid"})
TWO_LEGGED = frozenset(
    {
        "/read-public",
        "/webhook",
        "/premium-notification",
        "/group-id-record/read",
        "/group-id-record/update",
    }
)
PREMIUM_ONLY = frozenset({"/webhook", "/premium-notification"})
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")

Form = Mapping[str, str]


def _scopes(raw: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys((raw or "").replace(",", " ").split()))


def _bad_client() -> OAuthError:
    return OAuthError(401, "invalid_client", "Bad client credentials")


class OAuthApi:
    def __init__(self, service: OrcidService) -> None:
        self.service = service
        self.store = service.store

    def routes(self) -> list[web.RouteDef]:
        routes = [
            web.get("/orcid/oauth/authorize", self.authorize_page),
            web.post("/orcid/oauth/authorize", self.authorize_decision),
            web.post("/orcid/oauth/revoke", self.revoke),
        ]
        routes += [web.post(host + "/oauth/token", self.token) for host in ("/orcid", "/orcid-api")]
        return routes

    # --- authorize ------------------------------------------------------------------------------

    def redirect_allowed(self, client: Client, redirect_uri: str) -> bool:
        """A registered URI (or one below it); any loopback http(s) URI when none is registered."""
        if client.redirect_uris:
            return any(redirect_uri.startswith(uri) for uri in client.redirect_uris)
        url = URL(redirect_uri)
        return url.scheme in ("http", "https") and (url.host or "") in LOOPBACK

    def _client_and_redirect(self, params: Form) -> tuple[Client, URL]:
        client = self.store.clients.get(params.get("client_id", ""))
        if client is None:
            raise web.HTTPBadRequest(
                text=error_page("invalid_client", "Client not found"), content_type="text/html"
            )
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri or not self.redirect_allowed(client, redirect_uri):
            raise web.HTTPBadRequest(
                text=error_page("invalid_grant", "Redirect URI mismatch."),
                content_type="text/html",
            )
        return client, URL(redirect_uri)

    @staticmethod
    def _redirect(target: URL, **query: str) -> web.HTTPFound:
        return web.HTTPFound(str(target.extend_query({k: v for k, v in query.items() if v})))

    def _request_error(self, client: Client, params: Form) -> tuple[str, str] | None:
        if params.get("response_type", "code") != "code":
            kind = params.get("response_type", "")
            return "unsupported_response_type", f"Unsupported response types: [{kind}]"
        scopes = _scopes(params.get("scope"))
        if not scopes:
            return "invalid_scope", "Empty scope (either the client or the user is not allowed)"
        allowed = THREE_LEGGED if client.member else PUBLIC_CLIENT_SCOPES
        for scope in scopes:
            if scope not in allowed:
                return "invalid_scope", f"Invalid scope: {scope}"
        return None

    async def authorize_page(self, request: web.Request) -> web.StreamResponse:
        params = request.query
        client, target = self._client_and_redirect(params)
        problem = self._request_error(client, params)
        if problem is not None:
            raise self._redirect(
                target,
                error=problem[0],
                error_description=problem[1],
                state=params.get("state", ""),
            )
        return web.Response(text=consent_page(client.name, params), content_type="text/html")

    async def authorize_decision(self, request: web.Request) -> web.StreamResponse:
        params = await _form(request)
        client, target = self._client_and_redirect(params)
        state = params.get("state", "")
        problem = self._request_error(client, params)
        if problem is not None:
            raise self._redirect(
                target, error=problem[0], error_description=problem[1], state=state
            )
        if params.get("user_oauth_approval", "").lower() != "true":
            raise self._redirect(
                target, error="access_denied", error_description="User denied access", state=state
            )
        orcid = params.get("orcid", "").strip()
        if orcid not in self.store.records:
            page = consent_page(client.name, params, problem=f"No sandbox researcher {orcid!r}")
            return web.Response(status=400, text=page, content_type="text/html")
        code = AuthCode(
            code=ids.new_code(),
            client_id=client.client_id,
            orcid=orcid,
            scopes=_scopes(params.get("scope")),
            redirect_uri=params["redirect_uri"],
        )
        self.store.codes[code.code] = code
        raise self._redirect(target, code=code.code, state=state)

    # --- token and revoke -----------------------------------------------------------------------

    def authenticate(self, request: web.Request, form: Form) -> Client:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise _bad_client() from None
            client_id, _, secret = decoded.partition(":")
        client = self.store.clients.get(client_id or "")
        if client is None or client.secret != secret:
            raise _bad_client()
        return client

    async def token(self, request: web.Request) -> web.StreamResponse:
        form = await _form(request)
        try:
            client = self.authenticate(request, form)
            token = self._grant(client, form)
        except OAuthError as err:
            return oauth_error_response(err)
        self.service.ctx.changed()
        return web.Response(
            text=json.dumps(token.response()),
            headers={"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": JSON_UTF8},
        )

    def _grant(self, client: Client, form: Form) -> Token:
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError(400, "invalid_request", "Missing grant type")
        grants = {
            "authorization_code": self._from_code,
            "client_credentials": self._from_client,
            "refresh_token": self._from_refresh,
        }
        if grant not in grants:
            raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
        return grants[grant](client, form)

    def _from_code(self, client: Client, form: Form) -> Token:
        raw = form.get("code", "")
        code = self.store.codes.pop(raw, None)  # consumed by the first attempt, right or wrong
        if code is None or code.used:
            raise OAuthError(400, "invalid_grant", f"Invalid authorization code: {raw}")
        code.used = True
        if code.client_id != client.client_id:
            raise OAuthError(401, "invalid_client", "Client ID mismatch")
        if code.redirect_uri and form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError(400, "invalid_grant", "Redirect URI mismatch.")
        return self.store.issue_token(client.client_id, code.orcid, code.scopes)

    def _from_client(self, client: Client, form: Form) -> Token:
        scopes = _scopes(form.get("scope")) or ("/read-public",)
        for scope in scopes:
            if scope not in TWO_LEGGED or (scope in PREMIUM_ONLY and not client.premium):
                raise OAuthError(400, "invalid_scope", f"Invalid scope: {scope}")
        return self.store.issue_token(client.client_id, None, scopes)

    def _from_refresh(self, client: Client, form: Form) -> Token:
        raw = form.get("refresh_token", "")
        parent = self.store.refresh.get(raw)
        if parent is None or parent.client_id != client.client_id or not parent.usable:
            raise OAuthError(400, "invalid_grant", f"Invalid refresh token: {raw}")
        scopes = _scopes(form.get("scope")) or parent.scopes
        for scope in scopes:
            if scope not in parent.scopes:
                raise OAuthError(400, "invalid_scope", f"Invalid scope: {scope}")
        remaining = int(parent.issued_at + parent.expires_in - time.time())
        expires_in = remaining
        if form.get("expires_in"):
            try:
                expires_in = min(remaining, int(form["expires_in"]))
            except ValueError:
                raise OAuthError(400, "invalid_request", "expires_in must be a number") from None
        token = self.store.issue_token(client.client_id, parent.orcid, scopes, expires_in)
        if form.get("revoke_old", "").lower() == "true":
            self.store.revoke_token(parent)
        return token

    async def revoke(self, request: web.Request) -> web.StreamResponse:
        form = await _form(request)
        try:
            client = self.authenticate(request, form)
        except OAuthError as err:
            return oauth_error_response(err)
        value = form.get("token", "")
        token = self.store.tokens.get(value) or self.store.refresh.get(value)
        if token is not None and token.client_id == client.client_id:
            self.store.revoke_token(token)
            self.service.ctx.changed()
        return web.Response(status=200)


async def _form(request: web.Request) -> dict[str, str]:
    """The form fields (first value of each), text only."""
    form = await request.post()
    fields: dict[str, str] = {}
    for key, value in form.items():
        if isinstance(value, str) and key not in fields:
            fields[key] = value
    return fields
