"""Crossref: deposit (``/crossref/servlet/...``) and the REST API (``/crossref-api``)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web
from lxml import etree

from worker.reference import xsd
from worker.sandbox.app import read_json_object
from worker.sandbox.crossref import registry, rest
from worker.sandbox.crossref.deposits import (
    DepositedDoi,
    RecordDiagnostic,
    Submission,
    diagnostic_xml,
    process,
    unknown_submission_xml,
)
from worker.sandbox.crossref.notify import Endpoint, Notifier
from worker.sandbox.ratelimit import FixedWindow, WindowSpec
from worker.sandbox.service import CONTROL_PREFIX, SandboxContext

if TYPE_CHECKING:
    from worker.sandbox.accounts import CrossrefAccount

SUCCESS_PAGE = (
    "\n\n\n\n<html>\n<head><title>SUCCESS</title>\n</head>\n<body>\n<h2>SUCCESS</h2>\n"
    "<p>Your batch submission was successfully received.</p>\n</body>\n</html>\n"
)
WRONG_CREDENTIALS = "Wrong credentials. Incorrect username or password."
_TICK = 0.02
_FIRST_SUBMISSION_ID = 1_500_000_000


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


class CrossrefService:
    """Deposits with asynchronous processing, and the REST works API over what they hold."""

    name = "crossref"
    prefixes = ("/crossref", "/crossref-api")

    def __init__(
        self,
        ctx: SandboxContext,
        *,
        delays: tuple[float, float] = (2.0, 2.0),
        api_rate: WindowSpec | None = None,
        queue_limit: int = 10_000,
    ) -> None:
        self.ctx = ctx
        self.delays = self.default_delays = delays
        self.queue_limit = self.default_queue_limit = queue_limit
        self.api_limiter = FixedWindow(api_rate or WindowSpec(50, 1.0))
        self.submissions: list[Submission] = []
        self.dois: dict[str, DepositedDoi] = {}
        self.forced: dict[str, tuple[str, str]] = {}
        self._next_id = _FIRST_SUBMISSION_ID
        self._loop_task: asyncio.Task[None] | None = None
        self._schema_ready: asyncio.Future[None] | None = None
        self.rest = rest.CrossrefRest(self)
        self.notifier = Notifier(lambda: self.ctx.base_url, self.ctx.changed)

    # -- the service protocol ------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/crossref/servlet/deposit", self.deposit),
            web.get("/crossref/servlet/submissionDownload", self.submission_download),
            *self.rest.routes(),
            *registry.Registry(self.rest).routes(),
        ]

    def control_routes(self) -> list[web.RouteDef]:
        return [
            web.post(CONTROL_PREFIX + "/crossref/outcomes", self.post_outcome),
            web.post(CONTROL_PREFIX + "/crossref/processing", self.post_processing),
            web.post(CONTROL_PREFIX + "/crossref/notify-endpoints", self.post_notify_endpoint),
        ]

    def snapshot(self) -> dict[str, Any]:
        return {
            "submissions": [s.snapshot() for s in self.submissions],
            "dois": [d.snapshot() for d in sorted(self.dois.values(), key=lambda d: d.created)],
            "forced_outcomes": [
                {"doi": doi, "status": status, "msg": msg}
                for doi, (status, msg) in self.forced.items()
            ],
            **self.notifier.snapshot(),
        }

    def reset(self) -> None:
        self.submissions.clear()
        self.dois.clear()
        self.forced.clear()
        self.notifier.reset()
        self.api_limiter.reset()
        self.delays = self.default_delays
        self.queue_limit = self.default_queue_limit

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.reset()
        for saved in snapshot.get("dois", []):
            self.dois[saved["doi"]] = DepositedDoi(
                doi=saved["doi"],
                owner=saved.get("owner", ""),
                timestamp=int(saved.get("timestamp", 0)),
                url=saved.get("url", ""),
                message=saved.get("message", {}),
                deposits=int(saved.get("deposits", 1)),
                xml=saved.get("xml", ""),
            )
        for saved in snapshot.get("submissions", []):
            submission = Submission(
                submission_id=int(saved["submission_id"]),
                file_name=saved["file_name"],
                login_id=saved.get("login_id", ""),
                content=saved.get("content", "").encode("utf-8"),
                status="completed" if saved.get("status") == "completed" else "queued",
                doi_batch_id=saved.get("doi_batch_id", ""),
                records=[RecordDiagnostic(**r) for r in saved.get("records", [])],
                notify=Endpoint(saved["notify"]["endpoint"], saved["notify"]["url"])
                if saved.get("notify")
                else None,
            )
            self.submissions.append(submission)
            self._next_id = max(self._next_id, submission.submission_id + 1)

    async def start(self) -> None:
        await self.notifier.start()
        self._loop_task = asyncio.get_running_loop().create_task(self._processing_loop())
        if any(s.status != "completed" for s in self.submissions):
            self._compile_schema()  # restored from a state file

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        await self.notifier.stop()

    def _compile_schema(self) -> None:
        """Compile the Crossref XSD (seconds) once, in a daemon thread, on the first deposit."""
        if self._schema_ready is not None:
            return
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._schema_ready = ready

        def done() -> None:
            if not ready.done():
                ready.set_result(None)

        def compile_schema() -> None:
            try:
                xsd("crossref")
            finally:
                with contextlib.suppress(RuntimeError):  # the loop may be gone already
                    loop.call_soon_threadsafe(done)

        threading.Thread(target=compile_schema, name="crossref-xsd", daemon=True).start()

    # -- accounts and control ------------------------------------------------------------------

    def login(self, login_id: str | None, password: str | None) -> CrossrefAccount | None:
        for account in self.ctx.accounts.crossref:
            if account.login_id == login_id and account.password == password:
                return account
        return None

    def force_outcome(self, doi: str, status: str, msg: str) -> None:
        if status not in {"Warning", "Failure"}:
            raise ValueError("status must be Warning or Failure")
        self.forced[doi.strip().lower()] = (status, msg)

    async def post_outcome(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        doi, status, msg = body.get("doi"), body.get("status"), body.get("msg", "")
        if (
            not isinstance(doi, str)
            or not isinstance(msg, str)
            or status not in {"Warning", "Failure"}
        ):
            return web.json_response(
                {"error": "doi, status (Warning|Failure) and msg are required"}, status=400
            )
        self.force_outcome(
            doi, status, msg or ("Added with conflict" if status == "Warning" else "Failure")
        )
        return web.json_response({"doi": doi.lower(), "status": status, "msg": msg})

    def processing(self) -> dict[str, float]:
        return {
            "queued_seconds": self.delays[0],
            "in_process_seconds": self.delays[1],
            "queue_limit": self.queue_limit,
        }

    def set_processing(self, settings: dict[str, Any]) -> dict[str, float]:
        """Change delays / queue limit (keys of :meth:`processing`); ValueError when bad."""
        current = self.processing()
        unknown = sorted(set(settings) - set(current))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        for key, value in settings.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
        merged = {**current, **settings}
        self.delays = (float(merged["queued_seconds"]), float(merged["in_process_seconds"]))
        self.queue_limit = int(merged["queue_limit"])
        return self.processing()

    def register_notify_endpoint(self, login_id: str, endpoint: str, url: str) -> dict[str, str]:
        """Register the role's notification endpoint (Crossref support does this on request);
        ValueError for an unknown role or an unusable endpoint."""
        if not any(a.login_id == login_id for a in self.ctx.accounts.crossref):
            raise ValueError(f"unknown Crossref role: {login_id!r}")
        registered = self.notifier.register(login_id, endpoint, url)
        self.ctx.changed()
        return {"login_id": login_id, "endpoint": registered.name, "url": registered.url}

    async def post_notify_endpoint(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        fields = [body.get(k) for k in ("login_id", "endpoint", "url")]
        if not all(isinstance(v, str) for v in fields):
            return web.json_response(
                {"error": "login_id, endpoint and url are required"}, status=400
            )
        login_id, endpoint, url = (str(v) for v in fields)
        try:
            return web.json_response(self.register_notify_endpoint(login_id, endpoint, url))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)

    async def post_processing(self, request: web.Request) -> web.Response:
        try:
            return web.json_response(self.set_processing(await read_json_object(request)))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)

    # -- deposit -------------------------------------------------------------------------------

    async def deposit(self, request: web.Request) -> web.Response:
        fields: dict[str, str] = dict(request.query)
        content: bytes | None = None
        file_name = ""
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.name == "fname" or part.filename:
                    content = await part.read()
                    file_name = part.filename or file_name
                else:
                    fields[part.name] = await part.text()
        else:
            fields.update(
                {k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)}
            )
        account = self.login(fields.get("login_id"), fields.get("login_passwd"))
        if account is None:
            return _text(401, WRONG_CREDENTIALS)
        if fields.get("operation", "doMDUpload") != "doMDUpload":
            return _text(400, f"Operation not supported by the sandbox: {fields.get('operation')}")
        if not content:
            return _text(400, "No file was uploaded (multipart part 'fname').")
        pending = sum(
            1
            for s in self.submissions
            if s.login_id == account.login_id and s.status != "completed"
        )
        if pending >= self.queue_limit:
            return _text(429, f"Too many pending submissions (limit {self.queue_limit}).")
        endpoint, notify_url = fields.get("notify_endpoint"), fields.get("notify_url")
        notify = None
        if endpoint and notify_url:
            if not notify_url.startswith(("http://", "https://")):
                return _text(400, f"notify_url must be an http(s) URL: {notify_url}")
            notify = Endpoint(endpoint.strip(), notify_url)
        submission = Submission(
            submission_id=self._next_id,
            file_name=file_name or f"deposit-{self._next_id}.xml",
            login_id=account.login_id,
            content=content,
            notify=notify,
        )
        self._next_id += 1
        self.submissions.append(submission)
        self._compile_schema()
        return web.Response(text=SUCCESS_PAGE, content_type="text/html", charset="UTF-8")

    async def submission_download(self, request: web.Request) -> web.Response:
        query = request.query
        account = self.login(query.get("usr"), query.get("pwd"))
        if account is None:
            return _text(401, WRONG_CREDENTIALS)
        kind = query.get("type")
        if kind not in {"result", "contents"}:
            return _text(400, "Parameter 'type' is required: result or contents.")
        file_name, batch_id = query.get("file_name"), query.get("doi_batch_id")
        if not file_name and not batch_id:
            return _text(400, "Parameter 'file_name' or 'doi_batch_id' is required.")
        match = None
        for submission in self.submissions:
            if submission.login_id != account.login_id:
                continue
            by_name = file_name and submission.file_name == file_name
            by_batch = batch_id and submission.doi_batch_id and submission.doi_batch_id == batch_id
            if by_name or by_batch:
                match = submission
                break
        if kind == "contents":
            if match is None:
                return _text(404, "Submission not found.")
            return web.Response(body=match.content, content_type="text/xml", charset="UTF-8")
        body = diagnostic_xml(match) if match is not None else unknown_submission_xml()
        return web.Response(text=body, content_type="text/xml", charset="UTF-8")

    # -- processing ----------------------------------------------------------------------------

    async def _processing_loop(self) -> None:
        while True:
            await asyncio.sleep(_TICK)
            now = time.monotonic()
            for submission in list(self.submissions):
                if submission.status == "queued" and now - submission.received >= self.delays[0]:
                    submission.status = "in_process"
                    submission.started = now
                    submission.doi_batch_id = _batch_id(submission.content)
                    self.ctx.changed()
                if (
                    submission.status == "in_process"
                    and submission.started is not None
                    and now - submission.started >= self.delays[1]
                ):
                    if self._schema_ready is not None:
                        await self._schema_ready
                    if submission not in self.submissions:
                        continue  # a reset came while the schema compiled
                    self.complete(submission)

    def complete(self, submission: Submission) -> None:
        """Process a submission now and store what it registered."""
        account = next(a for a in self.ctx.accounts.crossref if a.login_id == submission.login_id)
        outcome = process(
            submission,
            prefixes=account.prefixes,
            registrant_default=account.login_id,
            known=self.dois,
            forced=self.forced,
        )
        for deposited in outcome.accepted:
            self.dois[deposited.doi] = deposited
        submission.records = outcome.records
        submission.doi_batch_id = outcome.doi_batch_id or submission.doi_batch_id
        submission.status = "completed"
        self.ctx.changed()
        self.notifier.completed(submission)


def _batch_id(content: bytes) -> str:
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError:
        return ""
    return (root.findtext("{*}head/{*}doi_batch_id") or "").strip()
