"""Read-only HTTP (doi.org, the Crossref and DataCite REST APIs): one retry model, one limiter.

Retries: a GET or HEAD answered 429, 500, 502, 503 or 504, or whose connection failed, is asked
again by urllib3's :class:`~urllib3.util.retry.Retry` mounted on the client's session
(:func:`read_session`): ``settings.search.retries`` times, after the ``Retry-After`` the
service named or an exponential backoff (``settings.search.retry_backoff_factor``). The last
answer still goes back to the client (``raise_on_status=False``), so a failure keeps the typed
errors of :mod:`worker.http`: :class:`~worker.http.ServerError` with its ``retry_after``,
:class:`~worker.http.RequestError` for a 4xx (never retried). Two exceptions, kept from the
in-request loops this replaces:

- a ``Retry-After`` longer than ``settings.search.retry_after_max_seconds`` is not slept
  through: the answer goes back at once (the CLI reports it, a service retries later);
- a read that timed out is not asked again: the error says "no answer within N s", and the
  server may still be working on the first request.

Pacing: :class:`ReadClient` takes one slot of the shared Redis
:class:`~worker.ratelimit.RateLimiter` (with its service's :class:`~worker.ratelimit.Limit`,
keyed by host) before each read; its retries ride on that slot. Without a limiter (the
stateless CLI commands: one user, no Redis) nothing is paced.

Redirects: a client given a :class:`~worker.pids.redirects.RedirectPolicy` checks each hop
against it before following it (https to allow-listed public hosts only: the SSRF guard of
content negotiation and enrichment); a refused hop is a :class:`~worker.http.TransportError`
whose context is the :class:`~worker.pids.redirects.UnsafeRedirect`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from worker.config import SearchSettings
from worker.http import USER_AGENT, ApiClient, HttpError, Recorder

if TYPE_CHECKING:
    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse

    from worker.pids.redirects import RedirectPolicy
    from worker.ratelimit import Limit, RateLimiter

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
READ_METHODS = frozenset({"GET", "HEAD"})


class ReadRetry(Retry):
    """urllib3's Retry that declines to wait for a ``Retry-After`` beyond
    ``retry_after_patience`` seconds (urllib3's own ``retry_after_max`` would sleep that long
    and ask again)."""

    def __init__(self, *, retry_after_patience: float = math.inf, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_after_patience = retry_after_patience

    def new(self, **kw: Any) -> Self:
        kw.setdefault("retry_after_patience", self.retry_after_patience)
        return super().new(**kw)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        wait = self._retry_after(response)
        if wait is not None and wait > self.retry_after_patience:
            # Exhausted now: urllib3 hands the answer back (raise_on_status=False).
            reason = ResponseError(
                f"Retry-After {wait:g}s is beyond {self.retry_after_patience:g}s"
            )
            raise MaxRetryError(_pool, url or "", reason)  # type: ignore[arg-type]
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def _retry_after(self, response: BaseHTTPResponse | None) -> float | None:
        if response is None or not self.respect_retry_after_header:
            return None
        try:
            return self.get_retry_after(response)
        except InvalidHeader:
            return None


def read_retry(reads: SearchSettings) -> ReadRetry:
    """The retry policy of every read-only client (see the module docstring)."""
    return ReadRetry(
        total=reads.retries,
        read=False,
        backoff_factor=reads.retry_backoff_factor,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=READ_METHODS,
        respect_retry_after_header=True,
        raise_on_status=False,
        retry_after_patience=reads.retry_after_max_seconds,
    )


def read_session(
    reads: SearchSettings, session: requests.Session | None = None
) -> requests.Session:
    """``session`` (or a new one) with :func:`read_retry` mounted for http and https. A session
    that already has it is left as it is, so a keep-alive session shared by a process's
    clients of one API keeps its connections."""
    session = session if session is not None else requests.Session()
    adapters = [session.adapters.get(prefix) for prefix in ("http://", "https://")]
    if not all(isinstance(getattr(a, "max_retries", None), ReadRetry) for a in adapters):
        adapter = HTTPAdapter(max_retries=read_retry(reads))
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


def polite_user_agent(mailto: str | None) -> str:
    """pidsync's User-Agent, with ``mailto:`` for Crossref's polite pool (and DataCite's
    "identified" callers) when configured."""
    if not mailto:
        return USER_AGENT
    return f"{USER_AGENT.removesuffix(')')}; mailto:{mailto})"


class ReadClient(ApiClient):
    """An :class:`ApiClient` for GETs: retried by its session, paced by the shared limiter."""

    def __init__(
        self,
        base_url: str,
        *,
        mailto: str | None = None,
        limiter: RateLimiter | None = None,
        limit: Limit | None = None,
        reads: SearchSettings | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        recorder: Recorder | None = None,
        redirects: RedirectPolicy | None = None,
    ) -> None:
        if limiter is not None and limit is None:
            raise ValueError(f"{type(self).__name__}: a limiter needs the Limit of its service")
        http = read_session(reads if reads is not None else SearchSettings(), session)
        super().__init__(base_url, session=http, timeout=timeout, recorder=recorder)
        self.http.headers["User-Agent"] = polite_user_agent(mailto)
        self.mailto = mailto
        self.limiter = limiter
        self.limit = limit
        # The services count per caller address, so one budget per host.
        self.limit_key = urlsplit(self.base_url).netloc
        self.redirects = redirects

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Iterable[int] = (),
    ) -> requests.Response:
        """GET after taking a slot; ``ok`` lists answers the caller reads itself besides
        2xx/3xx (any other raises the typed errors of :mod:`worker.http`)."""
        if self.limiter is not None and self.limit is not None:
            self.limiter.acquire(self.limit, self.limit_key)
        # Per request, not on the session: a session may be shared with clients of other APIs.
        hooks = {"response": [self.redirects.check]} if self.redirects is not None else {}
        return self.request(
            "GET",
            path,
            ok={*range(200, 400), *ok},
            params=dict(params or {}),
            headers=dict(headers or {}),
            hooks=hooks,
        )


def json_object(response: requests.Response, service: str) -> dict[str, Any]:
    """The answer's JSON object, or :class:`HttpError` naming the service."""
    try:
        body = response.json()
    except (ValueError, RecursionError):  # no JSON, or nested past the stack
        raise HttpError(
            f"{service} answered {response.status_code} with a body that is not JSON",
            service=service,
            status=response.status_code,
            text=response.text[:200],
        ) from None
    if not isinstance(body, dict):
        raise HttpError(f"{service} answered JSON that is not an object", service=service)
    return body
