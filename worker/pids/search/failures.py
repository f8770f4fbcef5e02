"""Why a registry could not answer, in one line, and the error when none could."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from worker.errors import PidsyncError, error_text
from worker.http import RequestError, ServerError

#: The longest reason a warning quotes.
REASON_CHARS = 200


class SearchFailed(PidsyncError):
    """Every registry asked failed; the message names each and why (one line)."""

    def __init__(self, failures: Mapping[str, str], *, bad_request: bool = False) -> None:
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in failures.items()))
        self.failures = dict(failures)
        self.bad_request = bad_request


def describe_failure(exc: Exception) -> str:
    """One line on why a registry call failed."""
    if isinstance(exc, ServerError) and exc.status == 429:
        return f"rate limited (429, retry after {exc.retry_after or 0:g}s)"
    if isinstance(exc, ServerError) and exc.status is not None:
        after = f", retry after {exc.retry_after:g}s" if exc.retry_after else ""
        return f"unavailable (HTTP {exc.status}{after})"
    if isinstance(exc, RequestError):
        detail = _error_detail(exc.body) or (exc.text or "")[:120]
        return f"refused the query (HTTP {exc.status}{': ' + detail if detail else ''})"
    context = exc.__context__
    if isinstance(context, requests.Timeout):
        return "timed out"
    if isinstance(context, requests.ConnectionError):
        return "unreachable (connection failed)"
    lines = error_text(exc, REASON_CHARS).splitlines()
    return lines[0] if lines else type(exc).__name__


def _error_detail(body: Any) -> str | None:
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("title") or "") or None
        message = body.get("message")
        if isinstance(message, list) and message and isinstance(message[0], dict):
            return str(message[0].get("message") or "").strip() or None
    return None
