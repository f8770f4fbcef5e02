"""What routes get from the running process (set on ``app.state`` by create_app)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from worker.bootstrap import Runtime
from worker.config import IntakeClient
from worker.events.signature import SignatureError, read_payload, verify


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def session(request: Request) -> Iterator[Session]:
    with runtime(request).database.session() as s:
        yield s


def problem(
    error: str, problems: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error}
    if problems is not None:
        body["problems"] = problems
    body.update(extra)
    return body


def request_target(request: Request) -> str:
    """The path and query exactly as the client sent them (what a read's signature covers)."""
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string") or b""
    target = raw_path.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


def signed_reader(request: Request) -> IntakeClient | JSONResponse:
    """The intake client that signed this read (DESIGN.md §7), or the 401 to answer."""
    settings = runtime(request).settings
    client_id = request.headers.get("pidsync-client", "")
    client = settings.intake_clients.get(client_id)
    if client is None:
        reason = "missing Pidsync-Client header" if not client_id else "unknown client"
        return JSONResponse(problem(reason), status_code=401)
    try:
        verify(
            request.headers.get("pidsync-signature"),
            [s.get_secret_value() for s in client.secrets],
            read_payload(request.method, request_target(request)),
            tolerance=settings.signature_tolerance_seconds,
        )
    except SignatureError as exc:
        return JSONResponse(problem(str(exc)), status_code=401)
    return client
