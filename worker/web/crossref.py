"""Crossref's notification callback (API_FACTS §3.4): ``POST /webhooks/crossref/{secret}``.

When a submission's log is ready, Crossref calls the notify-url registered for the account,
with everything in headers: ``CROSSREF-NOTIFY-ENDPOINT`` (the endpoint's registered name),
``CROSSREF-EXTERNAL-ID`` (the deposit's ``doi_batch_id``), ``CROSSREF-RETRIEVE-URL`` (where the
log is) and dates. Crossref signs nothing, so a call is trusted only as far as the secret in the
URL's path and the endpoint's name go, and then only to mean "poll this submission now": the
outcome is read as always, from ``submissionDownload`` with pidsync's own credentials at the
configured deposit URL, never from a URL the caller names. A forged call can at most bring a
poll forward; a lost one leaves the polling schedule in charge.

204: recorded on the deposit (``notified_at``), and a poll queued while the submission is open.
404: callbacks are off, the secret is wrong, or no deposit has that batch id. 403: the endpoint
is not the one configured. 400: no usable ``CROSSREF-EXTERNAL-ID``.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.db import enqueue_after_commit
from worker.logging import get_logger, register_secret
from worker.models import CrossrefDeposit, DepositStatus
from worker.web.deps import problem, runtime

router = APIRouter(tags=["crossref"])
log = get_logger(__name__)

#: Submissions whose outcome a poll can still read (uploaded, not yet completed or failed).
_POLLABLE = (DepositStatus.SUBMITTED, DepositStatus.QUEUED, DepositStatus.IN_PROCESS)
_BATCH_ID_MAX = 300  # the column's width


def _header(request: Request, name: str) -> str | None:
    """A header's value as Crossref sends it (UTF-8; the server decoded the bytes as Latin-1);
    None when absent or not UTF-8."""
    raw = request.headers.get(name)
    if raw is None:
        return None
    try:
        return raw.encode("latin-1").decode("utf-8").strip()
    except UnicodeError:
        return None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@router.post("/webhooks/crossref/{secret}", status_code=204)
def crossref_callback(secret: str, request: Request) -> Response:
    """Crossref says a submission's log is ready: poll it now."""
    rt = runtime(request)
    section = rt.settings.crossref
    expected = section.notify_secret
    if expected is None or section.notify_endpoint is None:
        return JSONResponse(problem("not found"), status_code=404)
    register_secret(expected)  # the access log shows this path: the secret must not be in it
    if not _same(secret, expected):
        return JSONResponse(problem("not found"), status_code=404)
    endpoint = _header(request, "CROSSREF-NOTIFY-ENDPOINT")
    if endpoint is None or not _same(endpoint, section.notify_endpoint):
        return JSONResponse(
            problem("CROSSREF-NOTIFY-ENDPOINT does not name this endpoint"), status_code=403
        )
    batch_id = _header(request, "CROSSREF-EXTERNAL-ID")
    if not batch_id or len(batch_id) > _BATCH_ID_MAX:
        return JSONResponse(
            problem("CROSSREF-EXTERNAL-ID (the deposit's doi_batch_id) is required"),
            status_code=400,
        )
    with rt.database.session() as session:
        found = _poll_now(session, batch_id)
    if not found:
        return JSONResponse(problem("no deposit with this doi_batch_id"), status_code=404)
    return Response(status_code=204)


def _poll_now(session: Session, batch_id: str) -> bool:
    """Record the callback on the deposits of ``batch_id`` and bring their poll forward.

    The row lock waits for an upload still in flight to commit (a fast Crossref can call
    back before pidsync has stored that the upload succeeded), so the poll is queued for a
    submission pidsync knows it made; the poll's own duplicate check then drops the message
    that was scheduled before."""
    deposits = session.scalars(
        select(CrossrefDeposit)
        .where(CrossrefDeposit.doi_batch_id == batch_id)
        .order_by(CrossrefDeposit.id)
        .with_for_update()
    ).all()
    now = utcnow()
    for deposit in deposits:
        deposit.notified_at = now
        if deposit.status in _POLLABLE:
            deposit.next_poll_at = now
            enqueue_after_commit(session, "registrars.crossref.poll", deposit.id)
        log.info(
            "crossref_callback",
            file=deposit.file_name,
            status=deposit.status.value,
            poll_now=deposit.status in _POLLABLE,
        )
    session.flush()
    return bool(deposits)
