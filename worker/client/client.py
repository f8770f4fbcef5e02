"""``PidsyncClient``: one intake client's view of a pidsync web process over HTTP."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from worker.events.signature import sign, sign_read

#: The intake's two media types (worker.events.cloudevents; repeated here so that the client
#: imports nothing of the server but its signature functions).
SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"


class PidsyncError(Exception):
    """Talking to pidsync failed; subclasses say how."""


class PidsyncUnreachable(PidsyncError):
    """No answer: connection refused, DNS, timeout. Safe to retry: the intake is idempotent
    on (source, id), so sending the same event again is answered as a duplicate."""


class PidsyncRejected(PidsyncError):
    """pidsync answered 4xx or 5xx; ``status`` and the parsed ``body`` (``error``, and
    ``problems`` by JSON path) say why."""

    def __init__(self, status: int, body: Any) -> None:
        reason = body.get("error", "") if isinstance(body, dict) else ""
        super().__init__(f"HTTP {status}: {reason}".rstrip(": "))
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Answer:
    """pidsync's answer: the HTTP status and the parsed JSON body (``{"error": text}`` when the
    body was not JSON)."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return self.status < 400

    def raise_for_status(self) -> Answer:
        if not self.ok:
            raise PidsyncRejected(self.status, self.body)
        return self


def work_path(source: str, work_id: str, collection: str = "works") -> str:
    """``/works/{source}/{id}`` (or another status ``collection``: ``affiliations``,
    ``fundings``, ``reviews``), each percent-encoded as one segment (a source is a URL: its
    slashes must not split it)."""
    return f"/{collection}/{quote(source, safe='')}/{quote(work_id, safe='')}"


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _parse(response: requests.Response) -> Answer:
    try:
        body = response.json()
    except ValueError:
        body = {"error": response.text[:500]}
    return Answer(response.status_code, body)


class PidsyncClient:
    """Sign and send events as intake client ``client_id`` and read back its own works.

    Answers are returned, not raised, so a caller can show a 422's problems; call
    ``raise_for_status()`` on them to turn a rejection into PidsyncRejected. Only transport
    failures raise (PidsyncUnreachable)."""

    def __init__(
        self,
        url: str,
        client_id: str,
        secret: str,
        *,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.client_id = client_id
        self._secret = secret
        self.timeout = timeout
        self._http = session or requests.Session()

    def __repr__(self) -> str:  # never the secret
        return f"PidsyncClient({self.url!r}, {self.client_id!r})"

    def send(self, events: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Answer:
        """Send one CloudEvent (a mapping) or a batch (a sequence, all-or-nothing)."""
        if isinstance(events, Mapping):
            return self._post(_compact(dict(events)), SINGLE)
        return self._post(_compact([dict(e) for e in events]), BATCH)

    def send_raw(self, raw: bytes) -> Answer:
        """Send bytes that are already JSON exactly as they are (one event, or an array for a
        batch): what ``pidsync emit FILE`` does. Raises ValueError when they are not JSON."""
        try:
            parsed = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"the input is not JSON: {exc}") from None
        return self._post(raw, BATCH if isinstance(parsed, list) else SINGLE)

    def work_status(self, source: str, work_id: str, collection: str = "works") -> Answer:
        """``GET /works/{source}/{id}``: the DOI, ORCID placements and events of one work (or
        of an affiliation, funding or review, with ``collection``)."""
        return self.get(work_path(source, work_id, collection))

    def event(self, receipt: str) -> Answer:
        """``GET /events/{receipt}``: what became of one event, by the intake's receipt."""
        return self.get(f"/events/{quote(receipt, safe='')}")

    def get(self, target: str) -> Answer:
        """A signed read of ``target`` (path and query, exactly as sent: the signature covers
        ``"<t>.GET <target>"``)."""
        headers = {
            "Pidsync-Client": self.client_id,
            "Pidsync-Signature": sign_read(self._secret, "GET", target),
        }
        return self._call("GET", target, headers=headers)

    def _post(self, raw: bytes, content_type: str) -> Answer:
        headers = {
            "Content-Type": content_type,
            "Pidsync-Client": self.client_id,
            "Pidsync-Signature": sign(self._secret, raw),
        }
        return self._call("POST", "/events", headers=headers, data=raw)

    def _call(
        self, method: str, target: str, *, headers: dict[str, str], data: bytes | None = None
    ) -> Answer:
        endpoint = self.url + target
        try:
            response = self._http.request(
                method,
                endpoint,
                data=data,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,  # a redirect would carry the signature elsewhere
            )
        except requests.RequestException as exc:
            raise PidsyncUnreachable(f"cannot reach {self.url}: {type(exc).__name__}") from None
        return _parse(response)
