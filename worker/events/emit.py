"""Posting signed events to a pidsync intake (``pidsync emit``, the demo, integrators' scripts)."""

from __future__ import annotations

import json
from typing import Any

import requests

from worker.events.cloudevents import BATCH, SINGLE
from worker.events.signature import sign


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
