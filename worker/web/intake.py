"""POST /events: authenticate, read within the size limit, check, store, answer.

Only reading the body happens on the event loop; parsing, checking and storing run in the
threadpool, so a large batch never stalls the web process (``/healthz`` keeps answering).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from worker.bootstrap import Runtime
from worker.config import IntakeClient
from worker.events.cloudevents import BATCH, SINGLE, MalformedBody, parse_body
from worker.events.intake import (
    EventIdConflict,
    IntakeForbidden,
    IntakeRejected,
    Tenant,
    check_events,
    store_events,
)
from worker.events.openapi import intake_openapi
from worker.events.signature import SignatureError, verify
from worker.events.tenancy import Installation
from worker.events.types import IntakeContext
from worker.logging import get_logger
from worker.metrics import INTAKE_EVENTS, INTAKE_REQUESTS
from worker.web.deps import problem, runtime

router = APIRouter()
log = get_logger(__name__)


class BodyTooLarge(Exception):
    pass


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise BodyTooLarge
    return bytes(chunks)


def _answer(status: int, body: dict[str, Any]) -> JSONResponse:
    INTAKE_REQUESTS.labels(status=str(status)).inc()
    return JSONResponse(body, status_code=status)


@router.post("/events", status_code=202, tags=["intake"], openapi_extra=intake_openapi())
async def post_events(request: Request) -> JSONResponse:
    """Accept one CloudEvent (`application/cloudevents+json`) or a batch
    (`application/cloudevents-batch+json`, at most `PIDSYNC_MAX_BATCH_EVENTS` events), signed
    with `Pidsync-Client` / `Pidsync-Signature`. 401 unsigned, 403 an event the client may not
    send, 409 an event id reused with another body, 413 too large, 422 invalid events."""
    rt = runtime(request)
    settings = rt.settings
    client_id = request.headers.get("pidsync-client", "")
    client = settings.intake_clients.get(client_id)
    if client is None:
        reason = "missing Pidsync-Client header" if not client_id else "unknown client"
        return _answer(401, problem(reason))
    try:
        raw = await _read_limited(request, settings.max_body_bytes)
    except BodyTooLarge:
        return _answer(413, problem(f"body larger than {settings.max_body_bytes} bytes"))
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    signature = request.headers.get("pidsync-signature")
    status, body = await run_in_threadpool(_handle, rt, client, signature, media, raw)
    return _answer(status, body)


def _handle(
    rt: Runtime, client: IntakeClient, signature: str | None, media: str, raw: bytes
) -> tuple[int, dict[str, Any]]:
    settings = rt.settings
    try:
        verify(
            signature,
            [s.get_secret_value() for s in client.secrets],
            raw,
            tolerance=settings.signature_tolerance_seconds,
        )
    except SignatureError as exc:
        return 401, problem(str(exc))
    if media not in (SINGLE, BATCH, "application/json"):
        return 415, problem(
            f"content type {media or '(none)'} not accepted; use {SINGLE} or {BATCH}"
        )
    try:
        body = parse_body(raw)
    except MalformedBody as exc:
        return 400, problem(str(exc))
    batch = media == BATCH
    if batch and not isinstance(body, list):
        return 400, problem(f"{BATCH} needs a JSON array of events")
    if not batch and isinstance(body, list):
        return 400, problem(f"a JSON array is a batch: send it as {BATCH}")
    if batch and len(body) > settings.max_batch_events:
        return 413, problem(
            f"a batch holds at most {settings.max_batch_events} events "
            f"(PIDSYNC_MAX_BATCH_EVENTS); this one holds {len(body)}",
            limit=settings.max_batch_events,
        )
    ctx = IntakeContext.from_settings(settings)
    tenant = Tenant(client, Installation.of(settings))
    try:
        checked = check_events(body if batch else [body], ctx, batch=batch, tenant=tenant)
    except IntakeForbidden as exc:
        return 403, problem("events this client may not send", [p.as_dict() for p in exc.problems])
    except IntakeRejected as exc:
        return 422, problem("invalid events", [p.as_dict() for p in exc.problems])
    try:
        with rt.database.session() as session:
            receipts = store_events(session, checked, client_id=client.id, cipher=rt.cipher)
    except EventIdConflict as exc:
        return 409, problem(
            str(exc), ids=[{"source": source, "id": event_id} for source, event_id in exc.conflicts]
        )
    fresh = [r for r in receipts if not r.duplicate]
    for r in receipts:
        INTAKE_EVENTS.labels(type=r.type, duplicate=str(r.duplicate).lower()).inc()
    log.info(
        "events_accepted", client=client.id, new=len(fresh), duplicates=len(receipts) - len(fresh)
    )
    answer: dict[str, Any] = {
        "accepted": len(fresh),
        "duplicates": len(receipts) - len(fresh),
        "events": [r.as_dict() for r in receipts],
    }
    if not batch:
        answer.update(receipts[0].as_dict())
    return (202 if fresh else 200), answer
