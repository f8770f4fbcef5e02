"""What routes get from the running process (set on ``app.state`` by create_app)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from worker.bootstrap import Runtime


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
