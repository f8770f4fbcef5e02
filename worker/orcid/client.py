"""ORCID's member and public APIs (v3.0): HTTP only, typed errors, every call recorded.

Tokens are passed per call and travel only in the ``Authorization`` header; they are never part
of a URL, a log line or an error message (ORCID echoes a bad token in its 401 body: the call
record and the error text are redacted by :mod:`worker.http`). Every request first takes a slot
from the shared rate limiter (``limiter``), so no process ever sends past ORCID's burst.

Failures, on top of :mod:`worker.http`'s:

- :class:`RevokedToken`: 401 (``invalid_token``, a token for another record), or a 400 whose
  body says ``invalid_token`` (ORCID has answered revoked tokens with either): the grant is dead,
  the job is not failed.
- :class:`OrcidError`: any other 4xx, with ORCID's ``error-code`` and ``developer-message``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from worker.http import (
    ApiClient,
    MalformedAnswer,
    RequestError,
    TransportError,
    read_json,
    reading,
)

JSON = "application/vnd.orcid+json"
HEADERS = {"Accept": JSON}
WRITE_HEADERS = {"Accept": JSON, "Content-Type": JSON}
BULK_MAX = 100

_PUT_CODE_IN_MESSAGE = re.compile(r"put-code\s+(\d+)", re.IGNORECASE)
_DOI_IN_VALUE = re.compile(r"(10\.[0-9a-zA-Z.]+/\S+)")

Limiter = Callable[[], None]


class RevokedToken(RequestError):
    """The researcher's token no longer works (revoked, expired, or for another record)."""


class OrcidError(RequestError):
    """ORCID refused the request; ``error_code`` and ``developer_message`` say why."""

    @property
    def error_code(self) -> int | None:
        code = self.body.get("error-code") if isinstance(self.body, dict) else None
        try:
            return int(code) if code is not None else None
        except (TypeError, ValueError):
            return None

    @property
    def developer_message(self) -> str:
        if isinstance(self.body, dict):
            message = self.body.get("developer-message") or self.body.get("error_description")
            if message:
                return str(message)
        return self.text or str(self)

    def named_put_code(self) -> int | None:
        """The put-code a 409/9021 names ("please see element with put-code N")."""
        found = _PUT_CODE_IN_MESSAGE.search(self.developer_message)
        return int(found.group(1)) if found else None

    def describe(self) -> str:
        """One line for a person: status, ORCID's code and its developer message."""
        code = f"/{self.error_code}" if self.error_code is not None else ""
        return f"ORCID {self.status}{code}: {self.developer_message}"


def is_invalid_token(status: int | None, body: Any, text: str) -> bool:
    if status == 401:
        return True
    if status != 400:
        return False
    if isinstance(body, dict) and body.get("error") == "invalid_token":
        return True
    return "invalid_token" in (text or "")


def normalise_external_id(id_type: str, value: str) -> tuple[str, str]:
    """(type, value) as ORCID compares them: the bare lower-case DOI, else trimmed lower case."""
    kind = id_type.strip().lower()
    text = value.strip()
    if kind == "doi":
        found = _DOI_IN_VALUE.search(text)
        return kind, (found.group(1) if found else text).lower()
    return kind, text.lower()


def self_ids(external_ids: Iterable[dict[str, Any]]) -> frozenset[tuple[str, str]]:
    """The normalised ``self`` external ids of a work (what ORCID's duplicate check uses)."""
    found = set()
    for ext in external_ids:
        if ext.get("external-id-relationship") not in ("self", None):
            continue
        found.add(
            normalise_external_id(
                str(ext.get("external-id-type") or ""), str(ext.get("external-id-value") or "")
            )
        )
    return frozenset(found)


@dataclass(frozen=True)
class WorkSummary:
    """One work on a record, as ``GET /works`` shows it."""

    put_code: int
    source_client_id: str | None
    source_name: str | None
    title: str
    type: str | None
    visibility: str | None  # ORCID's word (read into a state by models.Visibility.read)
    self_ids: frozenset[tuple[str, str]]
    external_ids: tuple[dict[str, Any], ...]

    @classmethod
    def parse(cls, data: dict[str, Any]) -> WorkSummary:
        source = data.get("source") or {}
        client = source.get("source-client-id") or {}
        title = ((data.get("title") or {}).get("title") or {}).get("value") or ""
        ext = tuple((data.get("external-ids") or {}).get("external-id") or [])
        return cls(
            put_code=int(data["put-code"]),
            source_client_id=client.get("path"),
            source_name=(source.get("source-name") or {}).get("value"),
            title=str(title),
            type=data.get("type"),
            visibility=data.get("visibility"),
            self_ids=self_ids(ext),
            external_ids=ext,
        )

    def as_report(self) -> dict[str, Any]:
        """What the emitting system is told about a work (no tokens, nothing private)."""
        return {
            "put_code": self.put_code,
            "title": self.title,
            "type": self.type,
            "source": self.source_name or self.source_client_id,
            "visibility": self.visibility,
            "external_ids": [
                {
                    "type": e.get("external-id-type"),
                    "value": e.get("external-id-value"),
                    "relationship": e.get("external-id-relationship"),
                }
                for e in self.external_ids
            ],
        }


@dataclass(frozen=True)
class BulkItem:
    """One item of a bulk POST's answer: the new put-code, or ORCID's error for that item."""

    put_code: int | None
    error: OrcidError | None


def parse_summaries(data: dict[str, Any]) -> list[WorkSummary]:
    """The works of a ``/works`` answer; MalformedAnswer when it has another shape."""
    summaries: list[WorkSummary] = []
    with reading("orcid", "a works list"):
        for group in data.get("group") or []:
            summaries.extend(WorkSummary.parse(item) for item in group.get("work-summary") or [])
    return summaries


def _json_object(response: requests.Response, service: str) -> dict[str, Any]:
    data = read_json(response, service)
    if not isinstance(data, dict):
        raise MalformedAnswer(f"{service} answered JSON that is not an object", service=service)
    return data


class OrcidApi(ApiClient):
    """Shared plumbing of both hosts: the limiter before each call, ORCID's typed errors."""

    service = "orcid"

    def __init__(self, base_url: str, *, limiter: Limiter | None = None, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self.limiter = limiter

    def is_rate_limit(self, response: requests.Response, retry_after: float | None) -> bool:
        """Past the burst ORCID answers 503, not 429 (API_FACTS 1.7), from its nginx (the
        ``limit_req`` page, no Retry-After). A 503 of ORCID's application, or one that says how
        long to wait, is ORCID unwell: a failed try like any 5xx."""
        if response.status_code != 503:
            return super().is_rate_limit(response, retry_after)
        page = response.text[:1000]
        return (
            retry_after is None
            and "503 Service Temporarily Unavailable" in page
            and ("nginx" in page)
        )

    def request(
        self, method: str, path: str, *, ok: Iterable[int] | None = None, **kwargs: Any
    ) -> requests.Response:
        if self.limiter is not None:
            self.limiter()
        try:
            return super().request(method, path, ok=ok, **kwargs)
        except RequestError as exc:
            details = {"service": exc.service, "status": exc.status, "body": exc.body}
            if is_invalid_token(exc.status, exc.body, exc.text):
                raise RevokedToken(str(exc), text=exc.text, **details) from None
            raise OrcidError(str(exc), text=exc.text, **details) from None

    @staticmethod
    def bearer(token: str, headers: dict[str, str] | None = None) -> dict[str, str]:
        return {**(headers or HEADERS), "Authorization": f"Bearer {token}"}


class MemberClient(OrcidApi):
    """``api.orcid.org``: works (single and bulk), record reads, webhooks, notifications."""

    def add_work(self, orcid: str, token: str, work: dict[str, Any]) -> int:
        """POST a work; its new put-code (from ``Location``)."""
        response = self.request(
            "POST",
            f"/v3.0/{orcid}/work",
            data=json.dumps(work),
            headers=self.bearer(token, WRITE_HEADERS),
        )
        location = response.headers.get("Location", "")
        tail = location.rstrip("/").rsplit("/", 1)[-1]
        if not tail.isdigit():
            # The work may exist; the caller treats this like a lost answer and reads first.
            raise TransportError(
                f"orcid POST /v3.0/{orcid}/work answered {response.status_code} without a "
                "put-code in Location",
                service=self.service,
            )
        return int(tail)

    def update_work(self, orcid: str, token: str, put_code: int, work: dict[str, Any]) -> None:
        body = {**work, "put-code": put_code}
        self.request(
            "PUT",
            f"/v3.0/{orcid}/work/{put_code}",
            data=json.dumps(body),
            headers=self.bearer(token, WRITE_HEADERS),
        )

    def delete_work(self, orcid: str, token: str, put_code: int) -> None:
        self.request("DELETE", f"/v3.0/{orcid}/work/{put_code}", headers=self.bearer(token))

    def read_work(self, orcid: str, token: str, put_code: int) -> dict[str, Any]:
        response = self.request("GET", f"/v3.0/{orcid}/work/{put_code}", headers=self.bearer(token))
        return _json_object(response, self.service)

    def works(self, orcid: str, token: str) -> list[WorkSummary]:
        """Every work on the record this token may see (ours include private ones)."""
        response = self.request("GET", f"/v3.0/{orcid}/works", headers=self.bearer(token))
        return parse_summaries(_json_object(response, self.service))

    def add_works(self, orcid: str, token: str, works: list[dict[str, Any]]) -> list[BulkItem]:
        """Bulk POST (at most 100): one result per work, in order."""
        if len(works) > BULK_MAX:
            raise ValueError(f"ORCID takes at most {BULK_MAX} works per bulk request")
        response = self.request(
            "POST",
            f"/v3.0/{orcid}/works",
            data=json.dumps({"bulk": [{"work": w} for w in works]}),
            headers=self.bearer(token, WRITE_HEADERS),
        )
        with reading(self.service, "a bulk result"):
            entries = _json_object(response, self.service).get("bulk") or []
            return [self._bulk_item(entry) for entry in entries]

    def _bulk_item(self, entry: dict[str, Any]) -> BulkItem:
        if "work" in entry and entry["work"] is not None:
            return BulkItem(put_code=int(entry["work"]["put-code"]), error=None)
        body = entry.get("error") or {}
        status = int(body.get("response-code") or 400)
        error = OrcidError(
            f"orcid bulk item answered {status}: {body.get('developer-message', '')}",
            service=self.service,
            status=status,
            body=body,
            text=str(body.get("developer-message", "")),
        )
        return BulkItem(put_code=None, error=error)

    def record(self, orcid: str, token: str) -> dict[str, Any]:
        response = self.request("GET", f"/v3.0/{orcid}/record", headers=self.bearer(token))
        return _json_object(response, self.service)

    def _webhook_path(self, orcid: str, callback: str) -> str:
        return f"/{orcid}/webhook/{quote(callback, safe='')}"

    def register_webhook(self, orcid: str, token: str, callback: str) -> bool:
        """PUT the webhook (no version prefix); True when it was new (201), False (204)."""
        response = self.request(
            "PUT", self._webhook_path(orcid, callback), headers=self.bearer(token)
        )
        return response.status_code == 201

    def unregister_webhook(self, orcid: str, token: str, callback: str) -> bool:
        """DELETE the webhook; False when ORCID did not know it (404/9028)."""
        try:
            self.request("DELETE", self._webhook_path(orcid, callback), headers=self.bearer(token))
        except OrcidError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def notify_permission(self, orcid: str, token: str, body: dict[str, Any]) -> int | None:
        """POST a permission notification; its put-code when ORCID says it."""
        response = self.request(
            "POST",
            f"/v3.0/{orcid}/notification-permission",
            data=json.dumps(body),
            headers=self.bearer(token, WRITE_HEADERS),
        )
        tail = response.headers.get("Location", "").rstrip("/").rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() else None


class PublicClient(OrcidApi):
    """``pub.orcid.org``: public reads and search, anonymously or with a ``/read-public``
    client-credentials token (``token`` returns it, cached; ``forget`` drops a stale one)."""

    service = "orcid-public"

    def __init__(
        self,
        base_url: str,
        *,
        token: Callable[[], str] | None = None,
        forget: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, **kwargs)
        self._token = token
        self._forget = forget

    def _get(self, path: str, **params: Any) -> Any:
        for attempt in (1, 2):
            headers = dict(HEADERS)
            if self._token is not None:
                headers["Authorization"] = f"Bearer {self._token()}"
            try:
                answer = self.request("GET", path, params=params or None, headers=headers)
                return _json_object(answer, self.service)
            except RevokedToken:
                # A cached client token that ORCID no longer accepts: fetch a new one, once.
                if attempt == 2 or self._forget is None:
                    raise
                self._forget()
        raise AssertionError("unreachable")

    def record(self, orcid: str) -> dict[str, Any]:
        data: dict[str, Any] = self._get(f"/v3.0/{orcid}/record")
        return data

    def works(self, orcid: str) -> list[WorkSummary]:
        return parse_summaries(self._get(f"/v3.0/{orcid}/works"))

    def search(self, q: str, *, start: int = 0, rows: int = 100) -> dict[str, Any]:
        data: dict[str, Any] = self._get("/v3.0/search/", q=q, start=start, rows=rows)
        return data

    def expanded_search(self, q: str, *, start: int = 0, rows: int = 100) -> dict[str, Any]:
        data: dict[str, Any] = self._get("/v3.0/expanded-search/", q=q, start=start, rows=rows)
        return data
