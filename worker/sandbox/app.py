"""The sandbox's aiohttp application: services, the fault/counting middleware, control API."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from worker.sandbox.faults import SERVICES, FaultSettingsError, Handler, apply_faults
from worker.sandbox.ratelimit import Limits, LimitsError
from worker.sandbox.service import (
    CONTROL_PREFIX,
    RATE_LIMITED_KEY,
    SandboxContext,
    SandboxService,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class ServiceCounters:
    """Requests one service received: total, refused by a rate limit, by answer status."""

    total: int = 0
    rate_limited: int = 0
    by_status: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "rate_limited": self.rate_limited,
            "by_status": dict(sorted(self.by_status.items())),
        }


def json_error(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


class SandboxApp:
    """Holds the services and counters, and builds the aiohttp application."""

    def __init__(
        self, ctx: SandboxContext, services: Sequence[SandboxService], limits: Limits | None = None
    ) -> None:
        self.ctx = ctx
        self.limits = limits or Limits({})
        self.services = list(services)
        self.counters = {name: ServiceCounters() for name in SERVICES}
        self.dirty = False
        prefixes = [(p, s.name) for s in self.services for p in s.prefixes]
        self._prefixes = sorted(prefixes, key=lambda item: len(item[0]), reverse=True)

    # -- routing -------------------------------------------------------------------------------

    def service_for(self, path: str) -> str | None:
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return None
        for prefix, name in self._prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return name
        return None

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024**2)
        app.add_routes(self._control_routes())
        for service in self.services:
            app.add_routes(service.routes())
            app.add_routes(service.control_routes())
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        name = self.service_for(request.path)
        if name is None:
            return await handler(request)
        if request.method not in _READ_METHODS:
            self.dirty = True
        counters = self.counters[name]
        counters.total += 1
        try:
            response = await apply_faults(self.ctx.faults, name, request, handler)
        except web.HTTPException as exc:
            counters.by_status[str(exc.status)] += 1
            raise
        transport = request.transport
        if transport is None or transport.is_closing():
            counters.by_status["dropped"] += 1
        else:
            counters.by_status[str(response.status)] += 1
        if request.get(RATE_LIMITED_KEY):
            counters.rate_limited += 1
        return response

    # -- state ---------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {service.name: service.snapshot() for service in self.services}
        state["requests"] = self.requests()
        state["faults"] = self.ctx.faults.snapshot()
        state["limits"] = self.limits.snapshot()
        return state

    def reset(self) -> None:
        for service in self.services:
            service.reset()
        for name in SERVICES:
            self.counters[name] = ServiceCounters()
        self.ctx.faults.reset()
        self.limits.reset()
        self.dirty = True

    def restore(self, saved: dict[str, Any]) -> None:
        for service in self.services:
            if isinstance(saved.get(service.name), dict):
                service.restore(saved[service.name])

    def set_faults(self, service: str, settings: dict[str, Any]) -> dict[str, float]:
        return self.ctx.faults.update(service, settings)

    # -- control API ---------------------------------------------------------------------------

    def _control_routes(self) -> list[web.RouteDef]:
        return [
            web.get(CONTROL_PREFIX + "/state", self._get_state),
            web.get(CONTROL_PREFIX + "/faults", self._get_faults),
            web.post(CONTROL_PREFIX + "/faults", self._post_faults),
            web.get(CONTROL_PREFIX + "/answering", self._get_answering),
            web.post(CONTROL_PREFIX + "/reset", self._post_reset),
            web.get(CONTROL_PREFIX + "/limits", self._get_limits),
            web.post(CONTROL_PREFIX + "/limits", self._post_limits),
            web.get(CONTROL_PREFIX + "/requests", self._get_requests),
        ]

    async def _get_requests(self, _request: web.Request) -> web.Response:
        """The request counters alone: what a load test polls to follow its progress without
        the records (``/state``) or the database it measures."""
        return web.json_response(self.requests())

    def requests(self) -> dict[str, Any]:
        return {name: c.as_dict() for name, c in self.counters.items()}

    async def _get_limits(self, _request: web.Request) -> web.Response:
        return web.json_response(self.limits.snapshot())

    async def _post_limits(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        try:
            return web.json_response(self.limits.update(body))
        except LimitsError as exc:
            return json_error(400, {"error": str(exc)})

    async def _get_state(self, _request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _get_faults(self, _request: web.Request) -> web.Response:
        return web.json_response(self.ctx.faults.snapshot())

    async def _get_answering(self, _request: web.Request) -> web.Response:
        return web.json_response(self.ctx.faults.answering())

    async def _post_faults(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        service = body.pop("service", None)
        if not isinstance(service, str):
            return json_error(400, {"error": "service is required"})
        try:
            return web.json_response(self.set_faults(service, body))
        except FaultSettingsError as exc:
            return json_error(400, {"error": str(exc)})

    async def _post_reset(self, _request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object ({} when empty); 400 otherwise."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body is not JSON"}), content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be a JSON object"}),
            content_type="application/json",
        )
    return body
