"""An edge check for every route: a path or query parameter holding a NUL character or a lone
surrogate (which no PostgreSQL text column can hold) is a 400 naming the parameter, before any
handler runs. Without it such a value reached a query and came back as a 500."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from worker.events.cloudevents import value_problems

Scope = dict[str, Any]

#: Routes that check their own path segments: webhook receivers answer 404 to any path they do
#: not know, NUL included, so a prober learns nothing about the secret's shape.
_OWN_PATH_CHECKS = ("/webhooks/",)


class UnsafeParameterGuard:
    """ASGI middleware: 400 for a NUL or a lone surrogate in the path or the query."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problems = unsafe_parameters(scope)
        if not problems:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "invalid request", "problems": problems}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def unsafe_parameters(scope: Scope) -> list[dict[str, str]]:
    """Problems (path, message) of the request's path and query parameters."""
    path = scope.get("path", "")
    found = (
        []
        if path.startswith(_OWN_PATH_CHECKS)
        else [p.as_dict() for p in value_problems(path, "path")]
    )
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        found += [p.as_dict() for p in value_problems(name, "query")]
        found += [p.as_dict() for p in value_problems(value, f"query.{name!a}")]
    return found
