"""Read-only routes: health, readiness, metrics, the Work schema, the status API."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from worker import metrics
from worker.metadata.work import work_json_schema
from worker.models import ReceivedEvent
from worker.ops.status import event_summary, work_status
from worker.web import ops_access
from worker.web.deps import problem, runtime, session

router = APIRouter()
SessionDep = Annotated[Session, Depends(session)]
# Receipts are bigint ids: a larger number is a 422, not an overflow in the query.
Receipt = Annotated[int, Path(ge=1, le=2**63 - 1)]


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
    return Response(metrics.render(rt.database), media_type="text/plain; version=0.0.4")


@router.get("/schemas/work.json", tags=["contract"])
def work_schema(request: Request) -> JSONResponse:
    """The Work JSON Schema the intake validates `data` of work events against."""
    schema = work_json_schema(str(request.url))
    return JSONResponse(schema, media_type="application/schema+json")


def _segments(request: Request, prefix: str) -> list[str]:
    """Path segments decoded one by one: a percent-encoded '/' stays inside its segment."""
    raw = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    raw = raw.split("?", 1)[0].removeprefix(prefix)
    return [unquote(part) for part in raw.split("/")]


@router.get("/works/{rest:path}", tags=["status"])
def get_work_status(rest: str, request: Request, s: SessionDep) -> JSONResponse:  # noqa: ARG001
    """`GET /works/{source}/{id}`: DOI state, deposit outcome, each contributor's ORCID
    placement, recent events. `source` (the CloudEvent source) and `id` are each
    percent-encoded as one path segment."""
    segments = _segments(request, "/works/")
    if len(segments) != 2 or not all(segments):
        return JSONResponse(
            problem("expected /works/{source}/{id}, each percent-encoded as one segment"),
            status_code=404,
        )
    source, work_id = segments
    status = work_status(s, source, work_id)
    if status is None:
        return JSONResponse(problem(f"no work {work_id!r} from source {source!r}"), status_code=404)
    return JSONResponse(status)


@router.get("/events/{receipt}", tags=["status"])
def get_event(receipt: Receipt, s: SessionDep) -> JSONResponse:
    """What happened to one event, by the receipt the intake answered."""
    event = s.get(ReceivedEvent, receipt)
    if event is None:
        return JSONResponse(problem(f"no event with receipt {receipt}"), status_code=404)
    return JSONResponse(event_summary(event))
