"""DataCite REST API (``/dois``): HTTP only.

``PUT /dois/{doi}`` creates or updates (an upsert), so a retry after a lost answer can never
mint a second DOI. Validation errors come back as 422 ``{"errors": [{"source", "title",
"uid"}]}``: :func:`field_errors` turns a :class:`~worker.http.RequestError` into that list.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from urllib.parse import quote

import requests

from worker.config import DataCiteAccount
from worker.http import ApiClient, HttpError, Recorder, TransportError
from worker.logging import register_secret

JSONAPI = "application/vnd.api+json"
#: Characters of a DOI suffix that travel unescaped in the path (DataCite's own set, less '?#').
_PATH_SAFE = "/-._;():*~$="


class DataCiteState(StrEnum):
    """A DOI's state at DataCite (``attributes.state``), in DataCite's words."""

    DRAFT = "draft"
    REGISTERED = "registered"
    FINDABLE = "findable"


class DataCiteEvent(StrEnum):
    """What a ``PUT`` asks DataCite to do with the DOI's state (``attributes.event``)."""

    PUBLISH = "publish"  # to findable
    REGISTER = "register"  # to registered (from draft)
    HIDE = "hide"  # from findable to registered


def state_of(attributes: dict[str, Any]) -> DataCiteState | None:
    """The DOI's state in ``attributes``; None when there is none, or a word DataCite does
    not define."""
    word = attributes.get("state")
    return next((state for state in DataCiteState if state.value == word), None)


class DataCiteClient(ApiClient):
    service = "datacite"

    def __init__(
        self,
        account: DataCiteAccount,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        recorder: Recorder | None = None,
    ) -> None:
        super().__init__(account.url, session=session, timeout=timeout, recorder=recorder)
        password = account.password.get_secret_value()
        register_secret(password)
        self.auth = (account.repository_id, password)
        self.account = account

    def _path(self, doi: str) -> str:
        return "/dois/" + quote(doi, safe=_PATH_SAFE)

    def put_doi(
        self, doi: str, attributes: dict[str, Any], event: DataCiteEvent | None
    ) -> dict[str, Any]:
        """Create or update ``doi`` with ``attributes`` and run ``event``; DataCite's ``data``
        object of the answer."""
        body_attributes = dict(attributes)
        body_attributes["doi"] = doi
        if event is not None:
            body_attributes["event"] = event.value
        response = self.request(
            "PUT",
            self._path(doi),
            json={"data": {"type": "dois", "attributes": body_attributes}},
            headers={"Content-Type": JSONAPI, "Accept": JSONAPI},
            auth=self.auth,
        )
        return _data(response)

    def get_doi(self, doi: str) -> dict[str, Any] | None:
        """The DOI as DataCite holds it (drafts and registered DOIs of this repository
        included), or None when DataCite does not know it."""
        response = self.request(
            "GET", self._path(doi), headers={"Accept": JSONAPI}, auth=self.auth, ok={200, 404}
        )
        if response.status_code == 404:
            return None
        return _data(response)


def _data(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (ValueError, RecursionError):  # no JSON, or nested past the stack
        body = None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
        # Unreadable: as good as a lost answer; the upsert is safe to send again.
        raise TransportError(
            f"datacite answered {response.status_code} without a JSON:API data object",
            service="datacite",
            status=response.status_code,
            text=response.text[:500],
        )
    return data


def field_errors(error: HttpError) -> list[dict[str, str]]:
    """DataCite's error list (``source`` and ``title`` of each), from a refused request."""
    body = error.body
    raw = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(raw, list):
        return []
    errors = []
    for item in raw:
        if isinstance(item, dict):
            entry = {"source": str(item.get("source") or ""), "title": str(item.get("title") or "")}
            if item.get("status"):
                entry["status"] = str(item["status"])
            errors.append(entry)
    return errors


def describe_errors(errors: list[dict[str, str]]) -> str:
    """'url: Can't be blank; creators: ...' for a person to read."""
    return "; ".join(
        f"{e['source']}: {e['title']}" if e.get("source") else e.get("title", "") for e in errors
    )
