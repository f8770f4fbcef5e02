"""What every ORCID API endpoint shares: content negotiation, bearer tokens, the rate limit.

:func:`endpoint` wraps a handler ``(request, caller) -> response``. In order, as ORCID's stack
does: nginx's rate limit (24/s, burst 40 per client, a 503 page beyond), the bearer token (401
``invalid_token`` for an unknown, expired or revoked one; 403 ``forbidden`` when the member API
gets none), then content negotiation (406 for an ``Accept`` naming nothing ORCID produces, 415
for a body that is neither JSON nor XML). Errors the handler raises are written in the
negotiated format: ORCID's v3.0 JSON error, or ``error:error`` XML.

Negotiation follows ORCID's ``@Produces`` list: ``application/vnd.orcid+xml`` (the default for a
missing or wildcard ``Accept``), ``application/vnd.orcid+json``, ``application/orcid+xml``,
``application/orcid+json``, ``application/xml`` and ``application/json``; the answer's
``Content-Type`` is the type chosen.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from worker.sandbox.orcid import xml, xmlread
from worker.sandbox.orcid.errors import (
    OAuthError,
    OrcidApiError,
    api_error,
    forbidden,
    invalid_token,
)
from worker.sandbox.service import mark_rate_limited

if TYPE_CHECKING:
    from worker.sandbox.orcid.service import OrcidService
    from worker.sandbox.orcid.store import Client, Token

#: What ORCID produces, in its order of preference for a wildcard ``Accept``.
PRODUCED = (
    "application/vnd.orcid+xml",
    "application/vnd.orcid+json",
    "application/orcid+xml",
    "application/orcid+json",
    "application/xml",
    "application/json",
)
JSON_UTF8 = "application/json;charset=UTF-8"
_NGINX_503 = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>"
    "\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class Format:
    media_type: str

    @property
    def is_xml(self) -> bool:
        return self.media_type.endswith("xml")


DEFAULT_FORMAT = Format("application/json")


@dataclass
class Caller:
    """Who is calling: the token (None when anonymous) and the format they asked for."""

    token: Token | None
    client: Client | None
    fmt: Format

    @property
    def client_name(self) -> str | None:
        return self.client.name if self.client else None

    def has_scope(self, *scopes: str) -> bool:
        return self.token is not None and any(s in self.token.scopes for s in scopes)


def _media_ranges(header: str) -> list[tuple[str, float]]:
    ranges = []
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        quality = 1.0
        for param in pieces[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((pieces[0].lower(), quality))
    return ranges


def _match(media_type: str, ranges: list[tuple[str, float]]) -> tuple[float, int]:
    """q and specificity (2 exact, 1 ``type/*``, 0 ``*/*``) of the most specific range that
    matches ``media_type``; (0, -1) when none does."""
    main = media_type.split("/", maxsplit=1)[0]
    best: tuple[int, float] = (-1, 0.0)
    for pattern, quality in ranges:
        if pattern == media_type:
            specificity = 2
        elif pattern == f"{main}/*":
            specificity = 1
        elif pattern == "*/*":
            specificity = 0
        else:
            continue
        best = max(best, (specificity, quality))
    return best[1], best[0]


def negotiate(accept: str | None, produced: tuple[str, ...] = PRODUCED) -> Format | None:
    """The type to answer in, or None (406). No ``Accept`` counts as ``*/*``.

    As Jersey does: the client's q first, then how specifically the client named the type, then
    the server's preference (the order of ``produced``).
    """
    ranges = _media_ranges(accept or "*/*") or [("*/*", 1.0)]
    scored = [(*_match(t, ranges), -i, t) for i, t in enumerate(produced)]
    quality, _, _, chosen = max(scored)
    return Format(chosen) if quality > 0 else None


def error_response(err: OrcidApiError, fmt: Format = DEFAULT_FORMAT) -> web.Response:
    if fmt.is_xml:
        body = xml.error(err)
    else:
        fmt = fmt if fmt.media_type.endswith("json") else DEFAULT_FORMAT
        body = json.dumps(err.body()).encode()
    return web.Response(status=err.status, body=body, content_type=fmt.media_type, charset="UTF-8")


def oauth_error_response(err: OAuthError) -> web.Response:
    headers = {"Content-Type": JSON_UTF8, "Cache-Control": "no-store", "Pragma": "no-cache"}
    if err.error == "invalid_token":
        headers["WWW-Authenticate"] = (
            f'Bearer error="{err.error}", error_description="{err.description}"'
        )
    return web.Response(status=err.status, text=json.dumps(err.body()), headers=headers)


def unroutable(status: int, detail: str) -> OrcidApiError:
    """ORCID's 9001 answer for what it cannot route or negotiate, with the real status."""
    err = api_error(9001, detail)
    err.status = status
    return err


def payload(
    caller: Caller,
    data: dict[str, Any],
    to_xml: Callable[[dict[str, Any]], bytes] | None,
    status: int = 200,
) -> web.Response:
    """``data`` in the negotiated format; ``to_xml`` None for a JSON-only resource."""
    if caller.fmt.is_xml:
        if to_xml is None:
            raise unroutable(406, "HTTP 406 Not Acceptable")
        body = to_xml(data)
    else:
        body = json.dumps(data).encode()
    return web.Response(
        status=status, body=body, content_type=caller.fmt.media_type, charset="UTF-8"
    )


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def read_document(request: web.Request, *, bulk: bool = False) -> Any:
    """The request body as JSON-shaped data: parsed JSON, or XML read into the same shape."""
    content_type = request.content_type.lower()
    raw = await request.read()
    if content_type.endswith("xml"):
        return xmlread.read_bulk(raw) if bulk else xmlread.read_work(raw)
    if content_type.endswith("json"):
        try:
            return json.loads(raw or b"null")
        except ValueError as exc:
            raise api_error(9047, error=str(exc)) from None
    raise unroutable(415, "HTTP 415 Unsupported Media Type")


Handler = Callable[[web.Request, Caller], Awaitable[web.StreamResponse]]


def _gate(
    service: OrcidService, request: web.Request, *, member: bool
) -> web.Response | Token | None:
    """The rate limit and the bearer token: a refusal, or the caller's token (None: anonymous)."""
    value = bearer(request)
    token = service.store.tokens.get(value) if value else None
    key = token.client_id if token else f"ip:{request.remote}"
    if not service.limiter.take(key).allowed:
        mark_rate_limited(request)
        return web.Response(status=503, text=_NGINX_503, content_type="text/html")
    if value is not None and (token is None or not token.usable):
        return oauth_error_response(invalid_token(value))
    if member and value is None:
        return oauth_error_response(forbidden())
    return token


def endpoint(
    service: OrcidService,
    *,
    member: bool,
    produced: tuple[str, ...] = PRODUCED,
) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """Wrap ``handler`` with rate limiting, authentication, negotiation and error writing."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            token = _gate(service, request, member=member)
            if isinstance(token, web.Response):
                return token
            fmt = negotiate(request.headers.get("Accept"), produced)
            if fmt is None:
                return error_response(unroutable(406, "HTTP 406 Not Acceptable"))
            client = service.store.clients.get(token.client_id) if token else None
            caller = Caller(token=token, client=client, fmt=fmt)
            try:
                return await handler(request, caller)
            except OrcidApiError as err:
                return error_response(err, fmt)

        return run

    return wrap
