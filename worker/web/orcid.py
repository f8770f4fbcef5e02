"""ORCID routes: researcher consent (connect → ORCID → callback) and ORCID's webhook calls.

- ``GET /orcid/connect?person=&return_to=[&client=]``: a single-use, expiring ``state`` bound to
  this browser (a cookie), then a redirect to ORCID's consent page for
  ``/activities/update /read-limited``. Paced per remote address (429 beyond
  ``PIDSYNC_ORCID_CONNECT_PER_MINUTE``); a parameter that is not printable text is a 400.
- ``GET /orcid/callback``: checks the state (known, this browser's, unused, in time), exchanges
  the code, stores the grant; back to the allow-listed ``return_to`` with ``orcid_status`` (and
  ``orcid``, ``person``, ``orcid_ts``) in the query, signed by ``orcid_sig``
  (:mod:`worker.orcid.return_to` says how the CRIS checks it), or a plain page. Denied and
  failed consent are shown plainly and recorded.
- ``POST /webhooks/orcid/{webhook_id}/{secret}``: 204 at once and a reconciliation of that
  record queued; 404 for an unknown id or a wrong secret (:mod:`worker.orcid.webhooks`).
"""

from __future__ import annotations

import math
import re
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from worker.models import ConsentOutcome
from worker.orcid import consent, webhooks
from worker.web.deps import runtime

router = APIRouter(tags=["orcid"])

# What pidsync's random ids and secrets look like (token_urlsafe; an ORCID iD for webhooks
# registered before secrets were hashed).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STYLE = "body{font-family:sans-serif;max-width:36em;margin:3em auto;line-height:1.4}"
_TITLES = {
    ConsentOutcome.GRANTED: "ORCID connected",
    ConsentOutcome.DENIED: "ORCID not connected",
    ConsentOutcome.FAILED: "ORCID connection failed",
}


def _page(title: str, message: str, *, status: int = 200) -> HTMLResponse:
    body = (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1><p>{escape(message)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/orcid/connect")
def orcid_connect(
    request: Request,
    person: str | None = None,
    return_to: str | None = None,
    client: str | None = None,
) -> Response:
    """Start a researcher's consent: redirect to ORCID's authorize page."""
    rt = runtime(request)
    settings = rt.settings
    # Each call stores a state row: paced per remote address, shared by every web process.
    address = request.client.host if request.client else "unknown"
    wait = rt.limiter.try_acquire(settings.orcid_connect_limit, address)
    if wait > 0:
        page = _page("Too many requests", "Please wait a moment and try again.", status=429)
        page.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return page
    redirect_uri = settings.orcid_callback_url or str(request.url_for("orcid_callback"))
    try:
        with rt.database.session() as session:
            started = consent.start(
                session,
                rt.orcid,
                person=person,
                return_to=return_to,
                client_id=client,
                redirect_uri=redirect_uri,
            )
    except consent.ConsentRejected as exc:
        return _page("Cannot connect to ORCID", str(exc), status=exc.status)
    response = RedirectResponse(started.url, status_code=302)
    response.set_cookie(
        consent.COOKIE,
        started.state,
        max_age=settings.orcid_state_ttl_seconds,
        path="/orcid",
        httponly=True,
        samesite="lax",
        secure=redirect_uri.startswith("https://"),
    )
    return response


@router.get("/orcid/callback", name="orcid_callback")
def orcid_callback(
    request: Request,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response:
    """ORCID sends the researcher back here with a code (or an error)."""
    rt = runtime(request)
    try:
        with rt.database.session() as session:
            done = consent.finish(
                session,
                rt.orcid,
                state=state,
                browser_state=request.cookies.get(consent.COOKIE),
                code=code,
                error=error,
                error_description=error_description,
            )
    except consent.ConsentRejected as exc:
        return _page("ORCID connection not accepted", str(exc), status=exc.status)
    target = done.redirect_url()
    response: Response
    if target:
        response = RedirectResponse(target, status_code=302)
    else:
        response = _page(_TITLES[done.outcome], done.message, status=done.status)
    response.delete_cookie(consent.COOKIE, path="/orcid")
    return response


@router.post("/webhooks/orcid/{webhook_id}/{secret}", status_code=204)
def orcid_webhook(webhook_id: str, secret: str, request: Request) -> Response:
    """ORCID's call when a granted record changed (empty body)."""
    if not (_TOKEN.fullmatch(webhook_id) and _TOKEN.fullmatch(secret)):
        return Response(status_code=404)  # not a URL pidsync made: nothing to look up
    rt = runtime(request)
    with rt.database.session() as session:
        known = webhooks.receive(session, webhook_id, secret)
    return Response(status_code=204 if known else 404)
