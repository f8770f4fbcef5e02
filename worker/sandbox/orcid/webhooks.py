"""Webhooks: registration on the member API host, and the calls ORCID makes when a record changes.

``PUT /orcid-api/{orcid}/webhook/{url-encoded callback}`` (no version prefix) with a
client-credentials ``/webhook`` token: 201 with ``Location`` the first time, 204 after.
``DELETE`` on the same URL: 204; 404/9028 when unknown; 403 for another client's webhook
(API_FACTS §1.8).

When a record changes, by the API or by the researcher through the control API, ORCID POSTs
an empty body to every callback registered for it, in batches (every 5 minutes at ORCID; after
``settings.webhook_delay`` seconds here, one call per callback however many changes came in
between). A non-2xx answer or a failed connection is retried after ``webhook_retry`` seconds,
doubling, up to ``webhook_attempts`` calls. Every call is recorded for the state snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from worker.sandbox.orcid.api import Caller, endpoint
from worker.sandbox.orcid.errors import OrcidApiError, api_error
from worker.sandbox.orcid.store import Webhook

if TYPE_CHECKING:
    from worker.sandbox.orcid.service import OrcidService

_CALL_TIMEOUT = aiohttp.ClientTimeout(total=10)


class WebhooksApi:
    def __init__(self, service: OrcidService) -> None:
        self.service = service
        self.store = service.store

    def routes(self) -> list[web.RouteDef]:
        member = endpoint(self.service, member=True)
        path = "/orcid-api/{orcid}/webhook/{callback:.+}"
        return [web.put(path, member(self.register)), web.delete(path, member(self.unregister))]

    def _checked(self, request: web.Request, caller: Caller) -> tuple[str, str]:
        if not caller.has_scope("/webhook"):
            raise api_error(9038)
        orcid = request.match_info["orcid"]
        if orcid not in self.store.records:
            raise api_error(9016)
        callback = request.match_info["callback"]
        if not callback.startswith(("http://", "https://")):
            raise api_error(9006, f"Webhook uri: {callback} is syntactically incorrect")
        return orcid, callback

    async def register(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        orcid, callback = self._checked(request, caller)
        if (orcid, callback) in self.store.webhooks:
            return web.Response(status=204)
        assert caller.token is not None
        self.store.webhooks[(orcid, callback)] = Webhook(orcid, callback, caller.token.client_id)
        self.service.ctx.changed()
        location = f"{request.scheme}://{request.host}{request.raw_path}"
        return web.Response(status=201, headers={"Location": location})

    async def unregister(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        orcid, callback = self._checked(request, caller)
        hook = self.store.webhooks.get((orcid, callback))
        if hook is None:
            raise api_error(9028, orcid=orcid, uri=callback)
        assert caller.token is not None
        if hook.client_id != caller.token.client_id:
            raise OrcidApiError(
                403,
                9013,
                "403 Forbidden: Unable to unregister webhook: Only the client that register the "
                "webhook can unregister it.",
                "The client application is forbidden to perform the action.",
            )
        del self.store.webhooks[(orcid, callback)]
        self.service.ctx.changed()
        return web.Response(status=204)


class WebhookDispatcher:
    """Batches record changes and calls the callbacks, with retries."""

    def __init__(self, service: OrcidService) -> None:
        self.service = service
        self.session: aiohttp.ClientSession | None = None
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(timeout=_CALL_TIMEOUT)

    async def stop(self) -> None:
        tasks = list(self.tasks)
        self.cancel_all()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.session is not None:
            await self.session.close()
            self.session = None

    def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        self.pending.clear()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def changed(self, orcid: str) -> None:
        """Note a change to ``orcid``; its callbacks are called after the batching delay."""
        if self.session is None or orcid in self.pending:
            return
        if not any(hook.orcid == orcid for hook in self.service.store.webhooks.values()):
            return
        self.pending[orcid] = self._spawn(self._batch(orcid))

    async def _batch(self, orcid: str) -> None:
        await asyncio.sleep(self.service.settings.webhook_delay)
        self.pending.pop(orcid, None)
        for hook in list(self.service.store.webhooks.values()):
            if hook.orcid == orcid:
                self._spawn(self._deliver(hook.url, orcid))

    async def _deliver(self, url: str, orcid: str) -> None:
        settings = self.service.settings
        delay = settings.webhook_retry
        for attempt in range(1, settings.webhook_attempts + 1):
            status, error = await self._post(url)
            self.service.store.webhook_calls.append(
                {
                    "url": url,
                    "orcid": orcid,
                    "attempt": attempt,
                    "status": status,
                    "error": error,
                    "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                }
            )
            self.service.ctx.changed()
            if status is not None and 200 <= status < 300:
                return
            if attempt < settings.webhook_attempts:
                await asyncio.sleep(delay)
                delay *= 2

    async def _post(self, url: str) -> tuple[int | None, str | None]:
        assert self.session is not None
        try:
            async with self.session.post(url, data=b"") as response:
                await response.read()
                return response.status, None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, f"{type(exc).__name__}: {exc}"
