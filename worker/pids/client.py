"""The registries' read-only REST APIs, HTTP only: Crossref ``/works`` and DataCite ``/dois``.

Crossref's polite pool: ``mailto`` (``PIDSYNC_CROSSREF_MAILTO``) goes in the query and the
User-Agent; DataCite counts callers with an e-mail in the User-Agent as "identified" (1,000
rather than 500 requests per 5 minutes, API_FACTS.md §2.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.http import TransportError
from worker.pids.identifiers import doi_path
from worker.pids.pacing import LocalThrottle, PacedClient, Throttle, json_object, polite_user_agent


class CrossrefRestClient(PacedClient):
    """Crossref's REST API: ``GET /works`` (search) and ``GET /works/{doi}`` (what Crossref
    holds for a DOI: reconciliation, negotiation's Work, the duplicate guard)."""

    service = "crossref_api"

    def __init__(
        self,
        base_url: str,
        *,
        mailto: str | None = None,
        throttle: Throttle | None = None,
        **kwargs: Any,
    ) -> None:
        # Crossref announces its limit in every answer; start under the documented 50/s.
        super().__init__(base_url, throttle=throttle or LocalThrottle("crossref", 10.0), **kwargs)
        self.mailto = mailto
        self.http.headers["User-Agent"] = polite_user_agent(mailto)

    def _params(self, params: Mapping[str, str]) -> dict[str, str]:
        return {**params, "mailto": self.mailto} if self.mailto else dict(params)

    def works(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``GET /works``: the ``message`` of the answer (``items``, ``next-cursor``, ...)."""
        body = json_object(self.paced_get("/works", params=self._params(params)), self.service)
        message = body.get("message")
        return message if isinstance(message, dict) else {}

    def work(self, doi: str) -> dict[str, Any] | None:
        """``GET /works/{doi}``: the work ``message``, or None when Crossref does not know the
        DOI. A 200 without a work message is a :class:`~worker.http.TransportError` (an answer
        that is not Crossref's: worth asking again)."""
        path = f"/works/{doi_path(doi)}"
        response = self.paced_get(path, params=self._params({}), statuses=(404,))
        if response.status_code == 404:
            return None
        try:
            body = response.json()
        except ValueError:
            body = None
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict):
            raise TransportError(
                f"{self.service} answered {response.status_code} without a work message",
                service=self.service,
            )
        return message


class DataCiteSearchClient(PacedClient):
    """DataCite REST ``GET /dois`` (anonymous: findable DOIs)."""

    service = "datacite"

    def __init__(
        self,
        base_url: str,
        *,
        mailto: str | None = None,
        throttle: Throttle | None = None,
        **kwargs: Any,
    ) -> None:
        # 1,000 requests per 5 minutes when identified by an e-mail, 500 when not (§2.1);
        # a burst of 20 lets a short search run at once, the average stays under the rule.
        per_window = 1000 if mailto else 500
        throttle = throttle or LocalThrottle("datacite", per_window * 0.95 / 300, burst=20)
        super().__init__(base_url, throttle=throttle, **kwargs)
        self.http.headers["User-Agent"] = polite_user_agent(mailto)

    def dois(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``GET /dois``: the whole answer (``data``, ``links``, ``meta``)."""
        return json_object(self.paced_get("/dois", params=params), self.service)
