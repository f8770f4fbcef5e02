"""Read-only routes: health, readiness, metrics, the Work schema, the status API."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from worker.events.repository import event_by_receipt
from worker.metadata.work import work_json_schema
from worker.metrics.exposition import render as render_metrics
from worker.ops.status import event_summary, work_status
from worker.web import ops_access
from worker.web.deps import problem, runtime, session, signed_reader

router = APIRouter()
SessionDep = Annotated[Session, Depends(session)]
# Receipts are bigint ids: a larger number is a 422, not an overflow in the query.


@router.get("/healthz", tags=["ops"])
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"])
def readyz(request: Request) -> JSONResponse:
    """The database and the broker are reachable."""
    rt = runtime(request)
    checks: dict[str, str] = {}
    try:
        rt.database.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        client: Any = getattr(rt.broker, "client", None)
        if client is not None:
            client.ping()
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"unreachable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


@router.get("/metrics", tags=["ops"])
def get_metrics(request: Request) -> Response:
    """Prometheus metrics (in production: behind the ops credential, or off; worker.web.ops)."""
    rt = runtime(request)
    refused = ops_access.refusal(rt.settings, request)
    if refused is not None:
        return refused
    return Response(render_metrics(rt.database, rt.broker), media_type="text/plain; version=0.0.4")


@router.get("/schemas/work.json", tags=["contract"])
def work_schema(request: Request) -> JSONResponse:
    """The Work JSON Schema the intake validates `data` of work events against."""
    schema = work_json_schema(str(request.url))
    return JSONResponse(schema, media_type="application/schema+json")


#: The longest source or work id the database stores (works.source, works.external_id).
MAX_SEGMENT_CHARS = 1000


def _segments(request: Request, prefix: str) -> list[str]:
    """Path segments decoded one by one: a percent-encoded '/' stays inside its segment."""
    raw = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    raw = raw.split("?", 1)[0].removeprefix(prefix)
    return [unquote(part) for part in raw.split("/")]


def _segment_problem(name: str, value: str) -> str | None:
    if not value:
        return f"{name} is empty"
    if len(value) > MAX_SEGMENT_CHARS:
        return f"{name} is longer than {MAX_SEGMENT_CHARS} characters"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return f"{name} holds a control character"
    if "\ufffd" in value:
        return f"{name} is not valid percent-encoded UTF-8"
    return None


@router.get("/works/{rest:path}", tags=["status"])
def get_work_status(rest: str, request: Request, s: SessionDep) -> JSONResponse:  # noqa: ARG001
    """`GET /works/{source}/{id}`: DOI state, deposit outcome, each contributor's ORCID
    placement, the client's recent events. `source` (the CloudEvent source) and `id` are each
    percent-encoded as one path segment. Signed like the intake over `"<t>.GET <path>"`;
    another client's work answers 404."""
    reader = signed_reader(request)
    if isinstance(reader, JSONResponse):
        return reader
    segments = _segments(request, "/works/")
    if len(segments) != 2:
        return JSONResponse(
            problem("expected /works/{source}/{id}, each percent-encoded as one segment"),
            status_code=404,
        )
    source, work_id = segments
    for name, value in (("source", source), ("id", work_id)):
        why = _segment_problem(name, value)
        if why is not None:
            return JSONResponse(problem(why), status_code=400)
    status = work_status(s, source, work_id, owner=reader.id)
    if status is None:
        return JSONResponse(problem(f"no work {work_id!r} from source {source!r}"), status_code=404)
    return JSONResponse(status)


@router.get("/events/{receipt}", tags=["status"])
def get_event(receipt: str, request: Request, s: SessionDep) -> JSONResponse:
    """What happened to one event, by the receipt the intake answered (signed like
    `/works`; another client's receipt answers 404)."""
    reader = signed_reader(request)
    if isinstance(reader, JSONResponse):
        return reader
    try:
        key = uuid.UUID(receipt)
    except ValueError:
        return JSONResponse(problem("no such receipt (receipts are UUIDs)"), status_code=404)
    event = event_by_receipt(s, key, reader.id)
    if event is None:
        return JSONResponse(problem(f"no event with receipt {receipt}"), status_code=404)
    return JSONResponse(event_summary(event))
