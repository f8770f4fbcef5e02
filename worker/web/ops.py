"""``POST /ops/retry``: the ops dashboard's (and a CRIS's) "retry now", as ``pidsync retry``.

Signed like the intake: ``Pidsync-Client: <id>`` and ``Pidsync-Signature: t=..,v1=<HMAC of
"<t>.<raw body>">`` with the client's intake secret, and a client acts only on its own works
and events (another client's are simply not selected). Body (JSON):
``{"work"?: {"source", "id"}, "doi"?, "orcid"?, "reason"?, "dry_run"?: false}``; at least one
selector. Answers 200 with the same report as the CLI (``retried`` 0 when nothing matched),
401 unsigned, 422 naming a bad selector.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from worker.events.signature import SignatureError, verify
from worker.logging import get_logger
from worker.ops import retry as service
from worker.web.deps import problem, runtime

router = APIRouter(tags=["ops"])
log = get_logger(__name__)


class WorkRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str
    id: str


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    work: WorkRef | None = None
    doi: str | None = None
    orcid: str | None = None
    reason: str | None = None
    dry_run: bool = False


def _invalid(problems: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(problem("invalid retry request", problems), status_code=422)


@router.post("/ops/retry")
async def post_retry(request: Request) -> JSONResponse:
    """Bring forward what waits and revive what failed, for the calling client's works."""
    rt = runtime(request)
    client_id = request.headers.get("pidsync-client", "")
    client = rt.settings.intake_clients.get(client_id)
    if client is None:
        reason = "missing Pidsync-Client header" if not client_id else "unknown client"
        return JSONResponse(problem(reason), status_code=401)
    raw = await request.body()
    if len(raw) > rt.settings.max_body_bytes:
        return JSONResponse(problem("body too large"), status_code=413)
    try:
        verify(
            request.headers.get("pidsync-signature"),
            [secret.get_secret_value() for secret in client.secrets],
            raw,
            tolerance=rt.settings.signature_tolerance_seconds,
        )
    except SignatureError as exc:
        return JSONResponse(problem(str(exc)), status_code=401)
    try:
        asked = RetryRequest.model_validate(json.loads(raw or b"{}"))
    except json.JSONDecodeError as exc:
        return JSONResponse(problem(f"body is not JSON: {exc.msg}"), status_code=400)
    except ValidationError as exc:
        return _invalid(
            [
                {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors()
            ]
        )
    try:
        chosen = service.selector(
            work=(asked.work.source, asked.work.id) if asked.work else None,
            doi=asked.doi,
            orcid=asked.orcid,
            reason=asked.reason,
            client_id=client_id,
        )
    except ValueError as exc:
        return _invalid([{"path": "", "message": str(exc)}])
    with rt.database.session() as session:
        report = service.retry(session, rt.settings, chosen, dry_run=asked.dry_run)
        if asked.dry_run:
            session.rollback()
        body = report.as_dict()
    log.info("ops_retry", client=client_id, dry_run=asked.dry_run, retried=body["retried"])
    return JSONResponse(body)
