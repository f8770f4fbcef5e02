"""POST /events: authenticate, read within the size limit, check, store, answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from worker.events.cloudevents import BATCH, SINGLE, MalformedBody, parse_body
from worker.events.intake import IntakeRejected, check_events, store_events
from worker.events.openapi import intake_openapi
from worker.events.signature import SignatureError, verify
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
    (`application/cloudevents-batch+json`), signed with `Pidsync-Client` / `Pidsync-Signature`."""
    rt = runtime(request)
    settings = rt.settings
    client_id = request.headers.get("pidsync-client", "")
    secret = settings.intake_clients.get(client_id)
    if secret is None:
        reason = "missing Pidsync-Client header" if not client_id else "unknown client"
        return _answer(401, problem(reason))
    try:
        raw = await _read_limited(request, settings.max_body_bytes)
    except BodyTooLarge:
        return _answer(413, problem(f"body larger than {settings.max_body_bytes} bytes"))
    try:
        verify(
            request.headers.get("pidsync-signature"),
            [secret.get_secret_value()],
            raw,
            tolerance=settings.signature_tolerance_seconds,
        )
    except SignatureError as exc:
        return _answer(401, problem(str(exc)))
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in (SINGLE, BATCH, "application/json"):
        return _answer(
            415, problem(f"content type {media or '(none)'} not accepted; use {SINGLE} or {BATCH}")
        )
    try:
        body = parse_body(raw)
    except MalformedBody as exc:
        return _answer(400, problem(str(exc)))
    batch = media == BATCH
    if batch and not isinstance(body, list):
        return _answer(400, problem(f"{BATCH} needs a JSON array of events"))
    if not batch and isinstance(body, list):
        return _answer(400, problem(f"a JSON array is a batch: send it as {BATCH}"))
    ctx = IntakeContext.from_settings(settings)
    try:
        checked = check_events(body if batch else [body], ctx, batch=batch)
    except IntakeRejected as exc:
        return _answer(422, problem("invalid events", [p.as_dict() for p in exc.problems]))
    with rt.database.session() as session:
        receipts = store_events(session, checked, client_id=client_id, cipher=rt.cipher)
    fresh = [r for r in receipts if not r.duplicate]
    for r in receipts:
        INTAKE_EVENTS.labels(type=r.type, duplicate=str(r.duplicate).lower()).inc()
    log.info(
        "events_accepted", client=client_id, new=len(fresh), duplicates=len(receipts) - len(fresh)
    )
    answer: dict[str, Any] = {
        "accepted": len(fresh),
        "duplicates": len(receipts) - len(fresh),
        "events": [r.as_dict() for r in receipts],
    }
    if not batch:
        answer.update(receipts[0].as_dict())
    return _answer(202 if fresh else 200, answer)
