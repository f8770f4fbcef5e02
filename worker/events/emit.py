"""Talking to a pidsync web process as an intake client: posting signed events (``pidsync
emit``, the demo, integrators' scripts) and signed reads of the status API (``pidsync status``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import requests

from worker.events.cloudevents import BATCH, SINGLE
from worker.events.signature import sign, sign_read


class EmitError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def emit_raw(
    raw: bytes, *, url: str, client: str, secret: str, timeout: float = 30.0
) -> tuple[int, Any]:
    """Post ``raw`` (one event or a JSON array) signed; return (status, parsed answer)."""
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EmitError(f"the input is not JSON: {exc}", 2) from None
    content_type = BATCH if isinstance(parsed, list) else SINGLE
    headers = {
        "Content-Type": content_type,
        "Pidsync-Client": client,
        "Pidsync-Signature": sign(secret, raw),
    }
    endpoint = url.rstrip("/") + "/events"
    try:
        response = requests.post(endpoint, data=raw, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise EmitError(f"cannot reach {endpoint}: {type(exc).__name__}", 1) from None
    try:
        body = response.json()
    except ValueError:
        body = {"error": response.text[:500]}
    return response.status_code, body


def work_path(source: str, work_id: str, collection: str = "works") -> str:
    """``/works/{source}/{id}``, each percent-encoded as one segment (DESIGN.md §7);
    ``collection`` names another status collection (``affiliations``, ``fundings``,
    ``reviews``)."""
    return f"/{collection}/{quote(source, safe='')}/{quote(work_id, safe='')}"


def read_signed(
    target: str, *, url: str, client: str, secret: str, timeout: float = 30.0
) -> tuple[int, Any]:
    """GET ``target`` (a path and query) signed over ``"<t>.GET <target>"``; return (status,
    parsed answer)."""
    headers = {"Pidsync-Client": client, "Pidsync-Signature": sign_read(secret, "GET", target)}
    endpoint = url.rstrip("/") + target
    try:
        response = requests.get(endpoint, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        raise EmitError(f"cannot reach {url}: {type(exc).__name__}", 1) from None
    try:
        body = response.json()
    except ValueError:
        body = {"error": response.text[:500]}
    return response.status_code, body
