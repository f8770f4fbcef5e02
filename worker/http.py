"""Outbound HTTP shared by every client class: typed errors, timeouts, and a record of each call.

A client class per external API (DataCite, Crossref, ORCID, doi.org, ...) subclasses
:class:`ApiClient` and does HTTP only. Failures are typed so the actors' retry policy can
decide: :class:`TransportError` (network, timeout) and :class:`ServerError` (5xx, 429) are
transient; :class:`RequestError` (other 4xx) is permanent and carries the parsed body. Every
call is handed to a recorder (service, method, redacted URL, status, latency, excerpt) so an
operator can see why something failed without reading code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import requests
import structlog
import urllib3

from worker.errors import PermanentError, TransientError
from worker.logging import get_logger, redact_text
from worker.metrics.registry import OUTBOUND_CALLS, OUTBOUND_SECONDS

if TYPE_CHECKING:
    from requests.sessions import _Settings  # the settings requests merges, as typed

log = get_logger(__name__)

EXCERPT_CHARS = 2000
USER_AGENT = "pidsync/0.1 (+https://github.com/pidsync/pidsync)"


@dataclass
class CallRecord:
    service: str
    method: str
    url: str  # redacted
    status: int | None
    latency_ms: int
    excerpt: str | None
    error: str | None = None
    correlation_id: str | None = None
    work_id: int | None = None


Recorder = Callable[[CallRecord], None]


class HttpError(Exception):
    """Base of outbound HTTP failures; the message says service, method, URL and status."""

    def __init__(
        self,
        message: str,
        *,
        service: str,
        status: int | None = None,
        body: Any = None,
        text: str = "",
    ) -> None:
        super().__init__(message)
        self.service = service
        self.status = status
        self.body = body  # parsed JSON when the answer was JSON, else None
        self.text = text  # the raw answer (redacted, truncated)


class TransportError(HttpError, TransientError):
    """The network failed: refused, reset, timed out, the answer was lost."""


class ServerError(HttpError, TransientError):
    """5xx, 429 or 408: the service is unwell, asks us to slow down (``retry_after`` seconds)
    or timed out waiting for the request. ``throttled``: the answer is the service's rate
    limit (a 429; ORCID's nginx 503 past the burst): the request was
    refused unseen, so it is the agency asking us to wait, not a failed try (see
    :func:`asks_to_wait`)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        throttled: bool = False,
        **kw: Any,
    ) -> None:
        HttpError.__init__(self, message, **kw)
        self.retry_after = retry_after
        self.throttled = throttled


def asks_to_wait(exc: BaseException) -> bool:
    """The agency's rate limit refused the request: retry it later without counting a try
    (every flow's retry model asks this one question)."""
    return isinstance(exc, ServerError) and exc.throttled


class RequestError(HttpError, PermanentError):
    """Another 4xx: the service refused the request; retrying the same request cannot help."""


class MalformedAnswer(TransportError):
    """The service answered, but not in the shape its API documents (no JSON, JSON nested
    past Python's stack, a field missing or of another type): as good as a lost answer, so the
    caller's retry model asks again and, when the tries are spent, records the failure."""


#: What reading a field of an answer that has another shape raises (OverflowError: int() of
#: an infinite float; RecursionError: json's decoder on ``[[[[...``, which is no ValueError).
SHAPE_ERRORS = (
    KeyError, IndexError, TypeError, AttributeError, ValueError, OverflowError, RecursionError,
)  # fmt: skip


def read_json(response: requests.Response, service: str) -> Any:
    """The answer's JSON, or :class:`MalformedAnswer` naming the service and the status."""
    try:
        return response.json()
    except (ValueError, RecursionError):
        raise MalformedAnswer(
            f"{service} answered {response.status_code} with a body that is not JSON",
            service=service,
            status=response.status_code,
            text=redact_text(response.text[:200]),
        ) from None


@contextmanager
def reading(service: str, what: str) -> Iterator[None]:
    """Read the fields of an answer inside this: a field missing or of another type becomes
    :class:`MalformedAnswer` naming ``what``, rather than a KeyError that kills the actor."""
    try:
        yield
    except SHAPE_ERRORS as exc:
        raise MalformedAnswer(
            f"{service} answered {what} of an unexpected shape ({type(exc).__name__})",
            service=service,
        ) from None


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds, from either form (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class AnswerCutOff(TransportError):
    """The answer took longer than the call's deadline to arrive (an agency trickling bytes)
    or was larger than the largest body pidsync reads: cut off, as good as a lost answer."""


@dataclass
class Limits:
    """What one outbound call may take: ``deadline`` seconds in all (the client's ``timeout``
    bounds each read only, so an answer arriving a byte at a time never timed out) and
    ``max_body`` bytes of answer (decoded)."""

    deadline: float = 90.0
    max_body: int = 16 * 1024 * 1024


#: The process's limits, set once at boot from the settings (:func:`set_limits`).
_limits = Limits()


def set_limits(deadline: float, max_body: int) -> None:
    """Every :class:`ApiClient` of this process cuts its calls off at these limits."""
    _limits.deadline = deadline
    _limits.max_body = max_body


def current_limits() -> Limits:
    return Limits(_limits.deadline, _limits.max_body)


#: Bytes asked of the socket at a time; read1 returns what has arrived, up to this.
_READ_CHUNK = 64 * 1024


def read_body(
    response: requests.Response, *, service: str, what: str, started: float, limits: Limits
) -> None:
    """Read the streamed body of ``response`` into it (``.content``/``.json()`` work as
    usual), or raise :class:`AnswerCutOff` once the call has taken ``limits.deadline``
    seconds since ``started`` (``time.perf_counter``) or the body passes ``limits.max_body``.

    read1 returns whatever has arrived, so the deadline is checked between any two pieces
    of the answer however slowly they come (one read still waits at most the read timeout).
    The size counts decoded bytes, so a small compressed answer cannot inflate past it."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_body:
        response.close()
        raise AnswerCutOff(
            f"{what}: answer of {declared} bytes is larger than the {limits.max_body} bytes "
            "pidsync reads",
            service=service,
            status=response.status_code,
        )
    raw = response.raw
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if time.perf_counter() - started > limits.deadline:
                raise AnswerCutOff(
                    f"{what}: answer still arriving after the {limits.deadline:g} s deadline "
                    f"({size} bytes read)",
                    service=service,
                    status=response.status_code,
                )
            chunk = raw.read1(_READ_CHUNK, decode_content=True)
            if not chunk:  # read1 answers b"" only at the end of the body
                break
            size += len(chunk)
            if size > limits.max_body:
                raise AnswerCutOff(
                    f"{what}: answer larger than the {limits.max_body} bytes pidsync reads",
                    service=service,
                    status=response.status_code,
                )
            chunks.append(chunk)
    except AnswerCutOff:
        response.close()  # the connection is dropped, not returned to the pool half-read
        raise
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        # What requests' own reading turns into its exceptions (a read timed out, the
        # connection reset mid-body, a broken gzip stream): a lost answer, as any transport error.
        response.close()
        raise requests.ConnectionError(f"reading the answer: {exc}") from None
    # Where requests keeps a body it has read, so .content/.text/.json() answer from it.
    response._content = b"".join(chunks)  # noqa: SLF001


def _context(key: str) -> Any:
    return structlog.contextvars.get_contextvars().get(key)


class Session(requests.Session):
    """A ``requests.Session`` that reads the environment once per origin, not once per request.

    With ``trust_env`` (requests' default, kept so that ``HTTPS_PROXY``, ``NO_PROXY`` and
    ``REQUESTS_CA_BUNDLE`` work as everywhere else), every request scanned ``os.environ`` for
    proxies and a CA bundle: 2-4 % of the worker's CPU (issue 13). The environment is read the
    first time an origin is called, and kept; a process picks up a changed environment when it
    restarts."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, str], _Settings] = {}

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        parts = urlsplit(str(url))
        origin = (parts.scheme, parts.netloc)
        if origin not in self._environment:
            self._environment[origin] = super().merge_environment_settings(
                url, {}, None, None, None
            )
        found = self._environment[origin]
        return {
            "proxies": {**found["proxies"], **(proxies or {})},
            "stream": self.stream if stream is None else stream,
            "verify": found["verify"] if verify is None else verify,
            "cert": found["cert"] if cert is None else cert,
        }


class ApiClient:
    """HTTP plumbing for one external service. Subclasses add the service's calls."""

    service = "http"

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        recorder: Recorder | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = session or Session()
        self.http.headers.setdefault("User-Agent", USER_AGENT)
        self.timeout = timeout
        self.recorder = recorder

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        ok: Iterable[int] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send, record, and raise a typed error unless the status is acceptable.

        ``ok`` lists the statuses the caller handles itself; by default any 2xx (and 3xx when
        redirects are not followed)."""
        url = self.url(path)
        shown = redact_text(url)  # once: the error, the deadline and the record all show it
        kwargs.setdefault("timeout", self.timeout)
        limits = current_limits()
        started = time.perf_counter()
        try:
            # Streamed, then read under the call's deadline and size limit (read_body).
            response = self.http.request(method, url, stream=True, **kwargs)
            read_body(
                response,
                service=self.service,
                what=f"{self.service} {method} {shown}",
                started=started,
                limits=limits,
            )
        except AnswerCutOff as exc:
            latency = int((time.perf_counter() - started) * 1000)
            self._record(method, shown, exc.status, latency, None, str(exc))
            raise
        except requests.RequestException as exc:
            latency = int((time.perf_counter() - started) * 1000)
            reason = f"{type(exc).__name__}: {exc}"
            self._record(method, shown, None, latency, None, reason)
            raise TransportError(
                f"{self.service} {method} {shown}: {redact_text(reason)}",
                service=self.service,
            ) from None
        latency = int((time.perf_counter() - started) * 1000)
        excerpt = redact_text(response.text[:EXCERPT_CHARS]) if response.content else None
        self._record(method, shown, response.status_code, latency, excerpt, None)
        status = response.status_code
        accepted = set(ok) if ok is not None else None
        if (accepted is not None and status in accepted) or (accepted is None and status < 400):
            return response
        body: Any = None
        try:
            body = response.json()
        except (ValueError, RecursionError):  # no JSON, or nested past the stack
            body = None
        message = f"{self.service} {method} {shown} answered {status}: {excerpt or ''}"
        details = {"service": self.service, "status": status, "body": body, "text": excerpt or ""}
        if status in (408, 429) or status >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            throttled = self.is_rate_limit(response, retry_after)
            raise ServerError(message, retry_after=retry_after, throttled=throttled, **details)
        raise RequestError(message, **details)

    def is_rate_limit(self, response: requests.Response, retry_after: float | None) -> bool:
        """Whether this error answer is the service's rate limit (a 429, by default)."""
        return response.status_code == 429

    def _record(
        self,
        method: str,
        shown_url: str,
        status: int | None,
        latency_ms: int,
        excerpt: str | None,
        error: str | None,
    ) -> None:
        record = CallRecord(
            service=self.service,
            method=method,
            url=shown_url,  # redacted by the caller
            status=status,
            latency_ms=latency_ms,
            excerpt=excerpt,
            error=redact_text(error) if error else None,
            correlation_id=_context("correlation_id"),
            work_id=_context("work_id"),
        )
        OUTBOUND_CALLS.labels(service=self.service, status=str(status or "error")).inc()
        OUTBOUND_SECONDS.labels(service=self.service).observe(latency_ms / 1000)
        log.debug(
            "http_call", service=record.service, method=method, url=record.url,
            status=status, latency_ms=latency_ms,
        )  # fmt: skip
        if self.recorder is not None:
            try:
                self.recorder(record)
            except Exception as exc:  # the audit must never break the call it describes
                log.warning("http_call_record_failed", error=str(exc))


class DatabaseRecorder:
    """Writes each call to ``api_calls`` in its own short transaction, so the record of a
    failed call survives the rollback of the unit of work that made it. One Core INSERT on a
    connection: no Session, ORM object, identity map or flush for a row nothing reads back."""

    def __init__(self, database: Any) -> None:
        self.database = database
        self._insert: Any = None

    def __call__(self, record: CallRecord) -> None:
        if self._insert is None:
            from sqlalchemy import Table, insert

            from worker.models import ApiCall

            # The table, not the class: a Core INSERT, not the ORM's bulk path.
            self._insert = insert(cast("Table", ApiCall.__table__))
        values = {
            "service": record.service,
            "method": record.method,
            "url": record.url,
            "status": record.status,
            "latency_ms": record.latency_ms,
            "excerpt": record.excerpt,
            "error": record.error,
            "correlation_id": record.correlation_id,
            "work_id": record.work_id,
        }
        # Committed at once, on its own (tests run it inside their outer transaction).
        with self.database.autocommit() as connection:
            connection.execute(self._insert, values)
