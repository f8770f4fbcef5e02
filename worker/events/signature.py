"""Request signatures for the intake and for pidsync's own outbound webhooks.

``Pidsync-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``; several
``v1=`` values may be present while a sender rotates its secret. Comparison is constant-time
and the timestamp must be within the replay window. Reads (the status API, event receipts) are
signed the same way over ``"<t>.<METHOD> <path and query>"`` (no body; DESIGN.md §7): the path
exactly as sent, percent-encoding included.
"""

from __future__ import annotations

import hashlib
import hmac
import time


class SignatureError(Exception):
    """The request is not signed as it must be; the message is the one-line reason."""


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def read_payload(method: str, target: str) -> bytes:
    """What a read's signature covers: ``"<METHOD> <path and query>"``."""
    return f"{method.upper()} {target}".encode("utf-8", "surrogateescape")


def sign_read(secret: str, method: str, target: str, *, timestamp: int | None = None) -> str:
    """The Pidsync-Signature of a read of ``target`` (the path and query as sent)."""
    return sign(secret, read_payload(method, target), timestamp=timestamp)


def verify(
    header: str | None,
    secrets: list[str],
    body: bytes,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless ``header`` signs ``body`` with one of ``secrets``."""
    if not header:
        raise SignatureError("missing Pidsync-Signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("Pidsync-Signature: t= is not a unix timestamp") from None
        elif key == "v1":
            candidates.append(value.strip().lower())
    if timestamp is None or not candidates:
        raise SignatureError("Pidsync-Signature must carry t=<unix seconds> and v1=<hex hmac>")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(
            f"Pidsync-Signature timestamp is outside the {tolerance} s window "
            "(clock skew or replay)"
        )
    payload = f"{timestamp}.".encode() + body
    for secret in secrets:
        expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return
    raise SignatureError("Pidsync-Signature does not match the request for this client's secret")
