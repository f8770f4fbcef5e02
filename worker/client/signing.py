"""The three signatures an integrator meets, on the one implementation the server checks with
(``worker.events.signature``): a request to the intake, a signed read of the status API, and
verifying a webhook pidsync sent."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from worker.events.signature import SignatureError, sign, sign_read, verify

__all__ = ["SignatureError", "sign_body", "sign_read", "verify_webhook"]

#: pidsync's own replay window for the intake (PIDSYNC_SIGNATURE_TOLERANCE_SECONDS' default);
#: a receiver should accept webhooks within the same window.
DEFAULT_TOLERANCE_SECONDS = 300
#: The CloudEvent source of every webhook pidsync sends (worker.notify.service.envelope).
WEBHOOK_SOURCE = "pidsync"


def sign_body(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The ``Pidsync-Signature`` of a POST body: ``t=<unix>,v1=<hex HMAC-SHA256>`` over
    ``"<t>.<body>"``."""
    return sign(secret, body, timestamp=timestamp)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # HTTP header names are case-insensitive; frameworks hand them over in any case.
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secret: str | Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """The CloudEvent of a webhook pidsync delivered, once its ``Pidsync-Signature`` proves it
    came from pidsync (signed with this client's intake secret) within ``tolerance`` seconds;
    raises SignatureError otherwise. Pass the body exactly as received, before any parsing: the
    signature covers those bytes. Several secrets are tried in turn while one is rotated."""
    secrets = [secret] if isinstance(secret, str) else list(secret)
    verify(_header(headers, "Pidsync-Signature"), secrets, body, tolerance=tolerance, now=now)
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SignatureError(f"the signed body is not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise SignatureError("the signed body is not a CloudEvent (a JSON object)")
    # The same secret signs both directions in the same format: a request this client sent to
    # pidsync's intake, captured and replayed here, would verify too. pidsync's webhooks all
    # come from the source "pidsync"; an event of another source is such a reflection.
    if event.get("source") != WEBHOOK_SOURCE:
        raise SignatureError(
            f"the signed body is not a webhook from pidsync (source {event.get('source')!r}, "
            f"not {WEBHOOK_SOURCE!r}): a request sent to pidsync, replayed?"
        )
    return event
