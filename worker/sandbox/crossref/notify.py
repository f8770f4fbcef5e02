"""Crossref's notification callback service (API_FACTS §3.4), as the sandbox plays it.

A role registers an endpoint: a name (``notify-endpoint``) and the URL Crossref calls
(``notify-url``); at Crossref that is done through support, here through the control API. When
a submission of that role completes, the sandbox requests the URL with every datum in
headers, UTF-8 encoded: ``CROSSREF-NOTIFY-ENDPOINT``, ``CROSSREF-EXTERNAL-ID`` (the
``doi_batch_id``), ``CROSSREF-INTERNAL-ID`` (the submission id), ``CROSSREF-RETRIEVE-URL``
(``submissionDownload`` for this batch, without credentials), ``CROSSREF-SERVICE-DATE`` and
``CROSSREF-RETRIEVE-URL-EXPIRATION-DATE`` (RFC 2616 dates). A deposit may name the endpoint
and URL itself (form fields ``notify_endpoint`` and ``notify_url``; the sandbox's reading of
"a deposit can carry the callback URL", UNVERIFIED against Crossref), which then wins.

A call that fails (no connection, non-2xx) is tried again after ``retry_seconds``, doubling,
up to ``attempts`` calls. Every call is recorded for the state snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

import aiohttp

if TYPE_CHECKING:
    from collections.abc import Callable

_CALL_TIMEOUT = aiohttp.ClientTimeout(total=10)
#: How long Crossref keeps a result at the retrieve URL (UNVERIFIED: the docs give no figure).
_RESULT_KEPT = dt.timedelta(days=30)


@dataclass(frozen=True)
class Endpoint:
    """A registered notification endpoint: its name and the URL Crossref calls."""

    name: str
    url: str


class Completed(Protocol):
    """What a callback tells about a completed submission (deposits.Submission has it)."""

    login_id: str
    submission_id: int
    doi_batch_id: str
    notify: Endpoint | None


class Notifier:
    """Registered endpoints per role, and the calls made when submissions complete."""

    def __init__(
        self,
        base_url: Callable[[], str],
        changed: Callable[[], None],
        *,
        attempts: int = 3,
        retry_seconds: float = 0.5,
    ) -> None:
        self._base_url = base_url
        self._changed = changed
        self.attempts = attempts
        self.retry_seconds = retry_seconds
        self.endpoints: dict[str, Endpoint] = {}  # login id -> endpoint
        self.calls: list[dict[str, Any]] = []
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._generation = 0  # a reset starts a new one: older deliveries record nothing

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=_CALL_TIMEOUT)

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    def reset(self) -> None:
        self._generation += 1
        for task in list(self._tasks):
            task.cancel()
        self.endpoints.clear()
        self.calls.clear()

    def register(self, login_id: str, name: str, url: str) -> Endpoint:
        """Register (or replace) the role's endpoint; ValueError when unusable."""
        if not name.strip():
            raise ValueError("endpoint name is required")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"notify url must be http(s): {url!r}")
        self.endpoints[login_id] = Endpoint(name.strip(), url)
        return self.endpoints[login_id]

    def snapshot(self) -> dict[str, Any]:
        return {
            "notify_endpoints": [
                {"login_id": login, "endpoint": e.name, "url": e.url}
                for login, e in self.endpoints.items()
            ],
            "notifications": list(self.calls),
        }

    def completed(self, submission: Completed) -> None:
        """Call the submission's endpoint (its own, else its role's), if there is one."""
        endpoint = submission.notify or self.endpoints.get(submission.login_id)
        if endpoint is None or self._session is None:
            return
        task = asyncio.get_running_loop().create_task(self._deliver(endpoint, submission))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def headers(self, endpoint: Endpoint, submission: Completed) -> dict[str, str]:
        now = dt.datetime.now(dt.UTC)
        query = urlencode({"doi_batch_id": submission.doi_batch_id, "type": "result"})
        retrieve = f"{self._base_url()}/crossref/servlet/submissionDownload?{query}"
        return {
            "CROSSREF-NOTIFY-ENDPOINT": endpoint.name,
            "CROSSREF-EXTERNAL-ID": submission.doi_batch_id,
            "CROSSREF-INTERNAL-ID": str(submission.submission_id),
            "CROSSREF-RETRIEVE-URL": retrieve,
            "CROSSREF-SERVICE-DATE": format_datetime(now, usegmt=True),
            "CROSSREF-RETRIEVE-URL-EXPIRATION-DATE": format_datetime(
                now + _RESULT_KEPT, usegmt=True
            ),
        }

    async def _deliver(self, endpoint: Endpoint, submission: Completed) -> None:
        delay = self.retry_seconds
        headers = self.headers(endpoint, submission)
        generation = self._generation
        for attempt in range(1, self.attempts + 1):
            status, error = await self._call(endpoint.url, headers)
            if generation != self._generation:
                return
            self.calls.append(
                {
                    "url": endpoint.url,
                    "endpoint": endpoint.name,
                    "doi_batch_id": submission.doi_batch_id,
                    "submission_id": submission.submission_id,
                    "attempt": attempt,
                    "status": status,
                    "error": error,
                    "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                }
            )
            self._changed()
            if status is not None and 200 <= status < 300:
                return
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay *= 2

    async def _call(self, url: str, headers: dict[str, str]) -> tuple[int | None, str | None]:
        assert self._session is not None
        encoded = {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()}
        try:
            async with self._session.post(url, data=b"", headers=encoded) as response:
                await response.read()
                return response.status, None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, f"{type(exc).__name__}: {exc}"
