"""The dashboard's routes: parse, check the login (and the CSRF token on every POST), call a
worker.ops service, render a template. Pages read with limit/offset on indexed queries."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from worker.bootstrap import Runtime
from worker.clock import utcnow
from worker.logging import get_logger
from worker.ops import dead_letters as letters
from worker.ops import deposits, grants, overview, problems, works
from worker.web.dashboard.auth import Gate
from worker.web.dashboard.chart import hourly_svg
from worker.web.deps import runtime

log = get_logger(__name__)
router = APIRouter(prefix="/ops", include_in_schema=False)
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent.parent / "templates" / "ops"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
#: A form is a few fields; anything larger is not one of ours.
MAX_FORM_BYTES = 64 * 1024
NOT_CONFIGURED = (
    "The ops dashboard has no login configured. Set PIDSYNC_DASHBOARD_USERS (names with "
    "argon2 hashes from `pidsync ops hash-password`), PIDSYNC_DASHBOARD_PROXY_HEADER with "
    "PIDSYNC_DASHBOARD_TRUSTED_PROXIES, or PIDSYNC_OPS_CREDENTIAL."
)


def install(app: FastAPI, rt: Runtime) -> None:
    # getattr: an app built only for its OpenAPI document has settings and nothing else.
    app.state.ops_gate = Gate(rt.settings, getattr(rt, "redis", None))
    app.include_router(router)


def _gate(request: Request) -> Gate:
    gate: Gate = request.app.state.ops_gate
    return gate


def _render(request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:
    gate = _gate(request)
    body = TEMPLATES.get_template(template).render(
        user=gate.user(request),
        csrf=gate.session(request).csrf,
        flash=gate.take_flash(request),
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(body, status_code=code)
    # The pages show tokens-free but private data: never cached, never framed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    gate.save(request, response)
    return response


def _login_needed(request: Request) -> Response | None:
    """None when someone is logged in; else where to send them (401 when nobody can log in)."""
    gate = _gate(request)
    if gate.user(request) is not None:
        return None
    if not gate.configured:
        return _render(request, "login.html", 401, problem=NOT_CONFIGURED, configured=False)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/ops/login?next={quote(target)}", status_code=303)
    gate.save(request, response)
    return response


async def _form(request: Request) -> dict[str, str] | Response:
    """The posted form when someone logged in sent it from our page; else the refusal."""
    gate = _gate(request)
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return HTMLResponse("form too large", status_code=413)
    fields = {
        k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()
    }
    if gate.user(request) is None:
        return HTMLResponse("log in first", status_code=401)
    if not gate.csrf_ok(request, fields.get("csrf")):
        return HTMLResponse("missing or wrong CSRF token: reload the page", status_code=403)
    return fields


def _back(request: Request, target: str, message: str) -> Response:
    gate = _gate(request)
    gate.notify(request, message)
    safe = target if target.startswith("/ops") and not target.startswith("//") else "/ops"
    response = RedirectResponse(safe, status_code=303)
    gate.save(request, response)
    return response


#: PostgreSQL's bigint: an id or offset past it names no row. Checked here, so it is a 400 or
#: a 404 rather than the database's out-of-range error (a 500).
MAX_ROW = 2**63 - 1


def _offset(request: Request) -> int:
    try:
        return min(MAX_ROW, max(0, int(request.query_params.get("offset", "0"))))
    except ValueError:
        return 0


def _page_size(request: Request) -> int:
    return int(runtime(request).settings.dashboard.page_size)


def _pager(request: Request, offset: int, limit: int, more: bool) -> dict[str, str | None]:
    params = {k: v for k, v in request.query_params.items() if k != "offset"}

    def link(at: int) -> str:
        return f"{request.url.path}?{urlencode({**params, 'offset': at})}"

    return {
        "prev": link(max(0, offset - limit)) if offset > 0 else None,
        "next": link(offset + limit) if more else None,
    }


# --- login ----------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request) -> Response:
    gate = _gate(request)
    return _render(
        request,
        "login.html",
        200 if gate.configured else 401,
        next=request.query_params.get("next", "/ops"),
        configured=gate.configured,
        problem=None if gate.configured else NOT_CONFIGURED,
    )


@router.post("/login")
async def login(request: Request) -> Response:
    gate = _gate(request)
    raw = await request.body()
    fields = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    if len(raw) > MAX_FORM_BYTES or not gate.csrf_ok(request, fields.get("csrf")):
        return HTMLResponse("missing or wrong CSRF token: reload the page", status_code=403)
    name = fields.get("name", "")
    # Paced per remote address before the password is even looked at: guessing stays slow.
    address = request.client.host if request.client else "unknown"
    wait = runtime(request).limiter.try_acquire(gate.settings.dashboard.login_limit, address)
    if wait > 0:
        page = _render(
            request,
            "login.html",
            429,
            next=fields.get("next", "/ops"),
            configured=True,
            problem="Too many attempts: wait a moment.",
        )
        page.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return page
    if not gate.login(request, name, fields.get("password", "")):
        log.warning("ops_login_refused", user=name[:200])
        return _render(
            request,
            "login.html",
            401,
            next=fields.get("next", "/ops"),
            configured=gate.configured,
            problem="Wrong name or password.",
        )
    log.info("ops_login", user=name)
    return _back(request, fields.get("next", "/ops"), f"Logged in as {name}.")


@router.post("/logout")
async def logout(request: Request) -> Response:
    fields = await _form(request)
    if isinstance(fields, Response):
        return fields
    _gate(request).logout(request)
    return _back(request, "/ops/login", "Logged out.")


# --- pages ------------------------------------------------------------------------------------


@router.get("")
def overview_page(request: Request) -> Response:
    if (refused := _login_needed(request)) is not None:
        return refused
    rt = runtime(request)
    with rt.database.session() as session:
        shown = overview.overview(session, rt.broker, rt.limiter)
    charts = [
        hourly_svg(shown["chart"], key="received", bad="failed", title="Events received, failed"),
        hourly_svg(shown["chart"], key="calls", bad="call_errors", title="Calls made, failed"),
    ]
    return _render(request, "overview.html", o=shown, charts=charts)


@router.get("/works")
def works_page(request: Request) -> Response:
    if (refused := _login_needed(request)) is not None:
        return refused
    rt = runtime(request)
    q = request.query_params.get("q", "")
    tenant = request.query_params.get("tenant", "")
    state = request.query_params.get("state") or None
    offset, limit = _offset(request), _page_size(request)
    stale_before = None
    if state == "stale":
        stale_before = utcnow() - timedelta(seconds=rt.settings.dashboard.stale_after_seconds)
    try:
        with rt.database.session() as session:
            page = works.search(
                session,
                query=q,
                tenant=tenant or None,
                state=state,
                stale_before=stale_before,
                limit=limit,
                offset=offset,
            )
    except ValueError as exc:
        return _render(
            request,
            "works.html",
            400,
            rows=[],
            q=q,
            tenant=tenant,
            state=state,
            states=works.STATES,
            problem=str(exc),
            pager={},
        )
    return _render(
        request,
        "works.html",
        rows=page.items,
        q=q,
        tenant=tenant,
        state=state,
        states=works.STATES,
        pager=_pager(request, offset, limit, page.more),
    )


@router.get("/works/{work_id}")
def work_page(request: Request, work_id: int) -> Response:
    if (refused := _login_needed(request)) is not None:
        return refused
    from worker.models import Work

    with runtime(request).database.session() as session:
        work = session.get(Work, work_id) if 0 <= work_id <= MAX_ROW else None
        if work is None:
            return _render(request, "error.html", 404, problem=f"no work {work_id}")
        shown = works.timeline(session, work)
    return _render(request, "work.html", w=shown["work"], timeline=shown["timeline"])


@router.get("/problems")
def problems_page(request: Request) -> Response:
    if (refused := _login_needed(request)) is not None:
        return refused
    rt = runtime(request)
    offset, limit = _offset(request), _page_size(request)
    reason = request.query_params.get("reason")
    with rt.database.session() as session:
        if reason is not None:
            rows = problems.items(session, rt.settings, reason, limit=limit + 1, offset=offset)
            return _render(
                request,
                "problem_items.html",
                reason=reason,
                rows=rows[:limit],
                pager=_pager(request, offset, limit, len(rows) > limit),
                back=str(request.url.path) + "?" + str(request.url.query),
            )
        found = problems.groups(session, rt.settings, limit=limit + 1, offset=offset)
        actions = problems.recent_actions(session, limit=20)
    return _render(
        request,
        "problems.html",
        groups=found[:limit],
        actions=actions,
        pager=_pager(request, offset, limit, len(found) > limit),
    )


def _row_id(fields: dict[str, str]) -> int | None:
    try:
        value = int(fields.get("row_id", ""))
    except ValueError:
        return None
    return value if 0 <= value <= MAX_ROW else None


@router.post("/problems/{action}")
async def problem_action(request: Request, action: str) -> Response:
    fields = await _form(request)
    if isinstance(fields, Response):
        return fields
    rt = runtime(request)
    actor = _gate(request).user(request) or ""
    back = fields.get("back", "/ops/problems")
    row_id = _row_id(fields)
    try:
        with rt.database.session() as session:
            if action == "retry-reason":
                done = problems.retry_reason(session, rt.settings, actor, fields.get("reason", ""))
            elif row_id is None:
                return HTMLResponse("row_id must be a row's number", status_code=400)
            elif action == "retry":
                done = problems.retry_one(
                    session, rt.settings, actor, fields.get("kind", ""), row_id
                )
            elif action == "release":
                done = problems.release_hold(session, rt.settings, actor, row_id)
            elif action == "discard":
                done = problems.discard(
                    session, actor, fields.get("kind", ""), row_id, fields.get("note", "")
                )
            else:
                return HTMLResponse(f"unknown action {action!r}", status_code=404)
    except problems.ActionRefused as exc:
        return _back(request, back, f"Not done: {exc}")
    log.info("ops_action", user=actor, action=action, summary=done.summary)
    return _back(request, back, f"Done: {done.summary}.")


@router.get("/dead-letters")
def dead_letters_page(request: Request) -> Response:
    if (refused := _login_needed(request)) is not None:
        return refused
    offset, limit = _offset(request), _page_size(request)
    everything = request.query_params.get("all") == "1"
    with runtime(request).database.session() as session:
        rows = [
            letters.shown(d)
            for d in letters.page(
                session, include_requeued=everything, limit=limit + 1, offset=offset
            )
        ]
    return _render(
        request,
        "dead_letters.html",
        rows=rows[:limit],
        everything=everything,
        pager=_pager(request, offset, limit, len(rows) > limit),
    )


@router.get("/dead-letters/{letter_id}")
def dead_letter_page(request: Request, letter_id: int) -> Response:
    if (refused := _login_needed(request)) is not None:
        return refused
    from worker.models import DeadLetter

    with runtime(request).database.session() as session:
        letter = session.get(DeadLetter, letter_id) if 0 <= letter_id <= MAX_ROW else None
        if letter is None:
            return _render(request, "error.html", 404, problem=f"no dead letter {letter_id}")
        shown = letters.shown(letter)
    return _render(request, "dead_letter.html", d=shown)


@router.post("/dead-letters/{action}")
async def dead_letter_action(request: Request, action: str) -> Response:
    fields = await _form(request)
    if isinstance(fields, Response):
        return fields
    actor = _gate(request).user(request) or ""
    every = fields.get("all") == "1"
    row_id = _row_id(fields)
    if not every and row_id is None:
        return HTMLResponse("say which dead letter (row_id) or all=1", status_code=400)
    db = runtime(request).database
    if action == "replay":
        with db.session() as session:
            ids = letters.parked_ids(session) if every else [row_id or 0]
        replayed, failed = 0, []
        for letter_id in ids:  # one transaction each: one bad letter stops none of the others
            try:
                with db.session() as session:
                    letters.replay(session, letter_id, actor)
                replayed += 1
            except LookupError as exc:
                failed.append(str(exc))
        message = f"{replayed} replayed" + (
            f"; not replayed: {'; '.join(failed[:3])}" if failed else ""
        )
        return _back(request, "/ops/dead-letters", message)
    if action == "purge":
        with db.session() as session:
            ids = letters.parked_ids(session) if every else [row_id or 0]
            purged = letters.purge(session, ids, actor, fields.get("note") or None)
        return _back(request, "/ops/dead-letters", f"{purged} purged")
    return HTMLResponse(f"unknown action {action!r}", status_code=404)


@router.get("/grants")
def grants_page(request: Request) -> Response:
    if (refused := _login_needed(request)) is not None:
        return refused
    with runtime(request).database.session() as session:
        shown = grants.summary(session)
    return _render(request, "grants.html", g=shown, expiring_days=grants.EXPIRING_DAYS)


@router.get("/deposits")
def deposits_page(request: Request) -> Response:
    if (refused := _login_needed(request)) is not None:
        return refused
    offset, limit = _offset(request), _page_size(request)
    status = request.query_params.get("status") or None
    try:
        with runtime(request).database.session() as session:
            counts = deposits.counts(session)
            rows = deposits.page(session, status=status, limit=limit + 1, offset=offset)
    except ValueError as exc:
        return _render(request, "error.html", 400, problem=str(exc))
    return _render(
        request,
        "deposits.html",
        counts=counts,
        rows=rows[:limit],
        status=status,
        pager=_pager(request, offset, limit, len(rows) > limit),
    )
