"""What every Crossref REST list route shares: paging limits and the 400 validation-failure
answer (CrossRef/rest-api-doc)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

MAX_ROWS = 1000
MAX_OFFSET = 10_000
DEFAULT_ROWS = 20


def failure(kind: str, value: Any, message: str) -> web.Response:
    body = {
        "status": "failed",
        "message-type": "validation-failure",
        "message": [{"type": kind, "value": value, "message": message}],
    }
    return web.json_response(body, status=400)


def page_params(params: Any) -> tuple[int, int] | web.Response:
    """``rows`` and ``offset`` of a list request, or Crossref's 400 for a bad one."""
    rows_text = params.get("rows", str(DEFAULT_ROWS))
    if not rows_text.isdigit() or int(rows_text) > MAX_ROWS:
        return failure(
            "integer-not-valid",
            rows_text,
            f"Integer specified as {rows_text} but must be a positive integer less than or "
            f"equal to {MAX_ROWS}. ",
        )
    offset_text = params.get("offset", "0")
    if not offset_text.isdigit():
        return failure(
            "integer-not-valid",
            offset_text,
            f"Integer specified as {offset_text} but must be a positive integer. ",
        )
    offset = int(offset_text)
    if offset > MAX_OFFSET:
        return failure("integer-not-valid", offset, f"Offset specified as {offset} is too large")
    return int(rows_text), offset
