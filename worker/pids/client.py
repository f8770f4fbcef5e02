"""The registries' read-only REST APIs, HTTP only: Crossref ``/works`` and DataCite ``/dois``.

Both are :class:`~worker.pids.readonly.ReadClient`\\ s: retried by their session, paced by the
shared limiter when one is given (Crossref REST: ``settings.crossref.rest_limit``; DataCite:
the DataCite budget ``settings.datacite.limit``, which the registrar's DataCite client spends
too, keyed by host).

Crossref's polite pool: ``mailto`` (``PIDSYNC_CROSSREF_MAILTO``) goes in the query and the
User-Agent; DataCite counts callers with an e-mail in the User-Agent as "identified" (1,000
rather than 500 requests per 5 minutes, API_FACTS.md §2.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from worker.http import Recorder, TransportError
from worker.pids.identifiers import doi_path
from worker.pids.readonly import ReadClient, json_object

if TYPE_CHECKING:
    import requests

    from worker.config import Settings
    from worker.ratelimit import RateLimiter


class CrossrefRestClient(ReadClient):
    """Crossref's REST API: ``GET /works`` (search) and ``GET /works/{doi}`` (what Crossref
    holds for a DOI: reconciliation, negotiation's Work, the duplicate guard)."""

    service = "crossref_api"

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        limiter: RateLimiter | None = None,
        session: requests.Session | None = None,
        timeout: float | None = None,
        recorder: Recorder | None = None,
    ) -> CrossrefRestClient:
        """The configured ``crossref_api_url`` (``limiter``: the process's shared one; None in
        the stateless CLI)."""
        return cls(
            settings.crossref_api_url,
            mailto=settings.crossref_mailto,
            limiter=limiter,
            limit=settings.crossref.rest_limit,
            reads=settings.search,
            session=session,
            timeout=timeout or settings.http_timeout_seconds,
            recorder=recorder,
        )

    def _params(self, params: Mapping[str, str]) -> dict[str, str]:
        return {**params, "mailto": self.mailto} if self.mailto else dict(params)

    def works(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``GET /works``: the ``message`` of the answer (``items``, ``next-cursor``, ...)."""
        body = json_object(self.get("/works", params=self._params(params)), self.service)
        message = body.get("message")
        return message if isinstance(message, dict) else {}

    def work(self, doi: str) -> dict[str, Any] | None:
        """``GET /works/{doi}``: the work ``message``, or None when Crossref does not know the
        DOI. A 200 without a work message is a :class:`~worker.http.TransportError` (an answer
        that is not Crossref's: worth asking again)."""
        response = self.get(f"/works/{doi_path(doi)}", params=self._params({}), ok=(404,))
        if response.status_code == 404:
            return None
        try:
            body = response.json()
        except (ValueError, RecursionError):  # no JSON, or nested past the stack
            body = None
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict):
            raise TransportError(
                f"{self.service} answered {response.status_code} without a work message",
                service=self.service,
            )
        return message


class DataCiteSearchClient(ReadClient):
    """DataCite REST ``GET /dois`` (anonymous: findable DOIs)."""

    service = "datacite"

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        limiter: RateLimiter | None = None,
        timeout: float | None = None,
        recorder: Recorder | None = None,
    ) -> DataCiteSearchClient:
        """The configured ``datacite_url``, identified by ``crossref_mailto`` when set."""
        return cls(
            settings.datacite_url,
            mailto=settings.crossref_mailto,
            limiter=limiter,
            limit=settings.datacite.limit,
            reads=settings.search,
            timeout=timeout or settings.http_timeout_seconds,
            recorder=recorder,
        )

    def dois(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``GET /dois``: the whole answer (``data``, ``links``, ``meta``)."""
        return json_object(self.get("/dois", params=params), self.service)
