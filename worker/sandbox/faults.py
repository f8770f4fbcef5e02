"""Fault injection shared by every simulated service.

Each service (``orcid``, ``datacite``, ``crossref``, ``doi``) has one :class:`FaultSettings`.
The server's middleware calls :func:`apply_faults` around every request that belongs to a
service, so a service implementation never has to think about faults:

- ``latency_ms`` (+ ``latency_jitter_ms``): sleep ``latency_ms ± uniform(jitter)`` first;
- ``outage_seconds``: setting it starts an outage now; until it ends every request is 503;
- ``error_rate``: that fraction of requests answers 500, 502 or 503 without any effect;
- ``timeout_rate``: that fraction hangs ``timeout_seconds`` without any effect, then the
  connection is dropped (a client with a shorter timeout sees a read timeout);
- ``lost_response_rate``: that fraction is handled normally (the effect is applied), then the
  connection is dropped without an answer: the case that breeds duplicates;
- ``script``: answers for the next matching requests, one each, in order (setting it replaces
  the queue; ``[]`` clears it). An entry is ``{"answer": 409, "body": {...}}`` (that status and
  JSON body, without any effect) or ``{"answer": "lost"}`` (handled, then dropped), optionally
  limited to requests with a given ``method`` and a ``path`` containing the given text. Tests
  that drive one exact agency answer per step (the model-based tests) need this: a rate is a
  die, a script says which request gets what.
- ``answer_delay_ms``: a write (any method but GET/HEAD/OPTIONS) is handled at once, then its
  answer waits this long: the window in which the agency holds the change and the client does
  not know it yet. Such writes are listed by :meth:`Faults.answering` while they wait, so a
  chaos run can kill the process that sent one inside that window.

Rates are probabilities in [0, 1]; 0 turns a fault off. A scripted answer comes before the
other faults (no latency, no dice) for the request it matches.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SERVICES = ("orcid", "datacite", "crossref", "doi")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Keys accepted by :meth:`Faults.update` (and ``POST /_sandbox/faults``).
SETTING_KEYS = frozenset(
    {
        "latency_ms",
        "latency_jitter_ms",
        "error_rate",
        "timeout_rate",
        "timeout_seconds",
        "lost_response_rate",
        "outage_seconds",
        "script",
        "answer_delay_ms",
    }
)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_RATE_KEYS = frozenset({"error_rate", "timeout_rate", "lost_response_rate"})
_ERROR_STATUSES = (500, 502, 503)


class FaultSettingsError(ValueError):
    """An unknown service or key, or a value out of range."""


#: The scripted answer that applies the request, then drops the connection.
LOST = "lost"


@dataclass(frozen=True)
class ScriptedAnswer:
    """One answer of a script: ``status`` (None: lost) for the next matching request."""

    status: int | None
    body: Any = None
    method: str | None = None
    path: str | None = None

    def matches(self, request: web.BaseRequest) -> bool:
        if self.method is not None and request.method != self.method:
            return False
        return self.path is None or self.path in request.path

    @classmethod
    def read(cls, entry: Any) -> ScriptedAnswer:
        """An entry of ``script`` as sent to the control API (FaultSettingsError if bad)."""
        if not isinstance(entry, dict):
            raise FaultSettingsError("each script entry must be an object")
        unknown = sorted(set(entry) - {"answer", "body", "method", "path"})
        if unknown:
            raise FaultSettingsError(f"unknown script entry key(s): {', '.join(unknown)}")
        answer = entry.get("answer")
        if answer == LOST:
            status = None
        elif isinstance(answer, int) and not isinstance(answer, bool) and 200 <= answer <= 599:
            status = answer
        else:
            raise FaultSettingsError('script answer must be an HTTP status (200-599) or "lost"')
        method, path = entry.get("method"), entry.get("path")
        if method is not None and not isinstance(method, str):
            raise FaultSettingsError("script method must be a string")
        if path is not None and not isinstance(path, str):
            raise FaultSettingsError("script path must be a string")
        return cls(status, entry.get("body"), method.upper() if method else None, path)


@dataclass
class FaultSettings:
    """The fault settings of one service."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 60.0
    lost_response_rate: float = 0.0
    answer_delay_ms: float = 0.0
    outage_until: float = field(default=0.0, repr=False)  # time.monotonic() deadline
    script: list[ScriptedAnswer] = field(default_factory=list)

    def outage_remaining(self) -> float:
        return max(0.0, self.outage_until - time.monotonic())

    def as_dict(self) -> dict[str, float]:
        return {
            "latency_ms": self.latency_ms,
            "latency_jitter_ms": self.latency_jitter_ms,
            "error_rate": self.error_rate,
            "timeout_rate": self.timeout_rate,
            "timeout_seconds": self.timeout_seconds,
            "lost_response_rate": self.lost_response_rate,
            "answer_delay_ms": self.answer_delay_ms,
            "outage_seconds": round(self.outage_remaining(), 3),
            "script": len(self.script),
        }

    def is_idle(self) -> bool:
        return (
            self.latency_ms <= 0
            and self.latency_jitter_ms <= 0
            and self.error_rate <= 0
            and self.timeout_rate <= 0
            and self.lost_response_rate <= 0
            and self.answer_delay_ms <= 0
            and self.outage_until <= time.monotonic()
            and not self.script
        )

    def take_scripted(self, request: web.BaseRequest) -> ScriptedAnswer | None:
        """The first scripted answer matching ``request``, removed from the script."""
        for index, answer in enumerate(self.script):
            if answer.matches(request):
                return self.script.pop(index)
        return None


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSettingsError(f"{key} must be a number")
    number = float(value)
    if number < 0:
        raise FaultSettingsError(f"{key} must not be negative")
    if key in _RATE_KEYS and number > 1:
        raise FaultSettingsError(f"{key} must be between 0 and 1")
    return number


class Faults:
    """The fault settings of every service, and the dice."""

    def __init__(self, seed: int | None = None) -> None:
        self._settings = {name: FaultSettings() for name in SERVICES}
        self.random = random.Random(seed)
        # Writes applied whose answer is held back (answer_delay_ms), by request.
        self._answering: dict[int, dict[str, Any]] = {}

    def get(self, service: str) -> FaultSettings:
        try:
            return self._settings[service]
        except KeyError:
            raise FaultSettingsError(f"unknown service: {service}") from None

    def update(self, service: str, settings: Mapping[str, Any]) -> dict[str, float]:
        """Change the given keys (others unchanged); answer the service's settings.

        Everything is checked before anything changes.
        """
        current = self.get(service)
        unknown = sorted(set(settings) - SETTING_KEYS)
        if unknown:
            raise FaultSettingsError(f"unknown fault setting(s): {', '.join(unknown)}")
        script = settings.get("script")
        if script is not None and not isinstance(script, list):
            raise FaultSettingsError("script must be a list of answers")
        answers = [ScriptedAnswer.read(entry) for entry in script or []]
        values = {key: _number(key, value) for key, value in settings.items() if key != "script"}
        if script is not None:
            current.script = answers
        for key, number in values.items():
            if key == "outage_seconds":
                current.outage_until = time.monotonic() + number if number > 0 else 0.0
            else:
                setattr(current, key, number)
        return current.as_dict()

    def snapshot(self) -> dict[str, dict[str, float]]:
        return {name: settings.as_dict() for name, settings in self._settings.items()}

    def answering(self) -> list[dict[str, Any]]:
        """The writes applied whose answer is being held back: service, method, path, status
        and the client's port (which process sent it)."""
        return list(self._answering.values())

    async def hold_answer(
        self, service: str, request: web.Request, response: web.StreamResponse, delay_ms: float
    ) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        entry = {
            "service": service, "method": request.method, "path": request.path,
            "status": response.status, "peer_port": peer[1] if peer else None,
        }  # fmt: skip
        self._answering[id(request)] = entry
        try:
            await asyncio.sleep(delay_ms / 1000)
        finally:
            self._answering.pop(id(request), None)

    def reset(self) -> None:
        for name in SERVICES:
            self._settings[name] = FaultSettings()


def drop_connection(request: web.BaseRequest) -> web.Response:
    """Close the connection without writing an answer.

    Return the result from the handler: aiohttp then fails to write it to the aborted
    transport and treats that as a client disconnect, so nothing reaches the client.
    """
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=204)


def _error_response(status: int) -> web.Response:
    reasons = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return web.Response(
        status=status,
        text=f"<html><body><h1>{status} {reasons[status]}</h1></body></html>",
        content_type="text/html",
    )


async def apply_faults(
    faults: Faults, service: str, request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Run ``handler`` under the service's fault settings."""
    settings = faults.get(service)
    if settings.is_idle():
        return await handler(request)
    scripted = settings.take_scripted(request) if settings.script else None
    if scripted is not None:
        return await _scripted(scripted, request, handler)
    dice = faults.random
    delay_ms = settings.latency_ms
    if settings.latency_jitter_ms > 0:
        delay_ms += dice.uniform(-settings.latency_jitter_ms, settings.latency_jitter_ms)
    if delay_ms > 0:
        await asyncio.sleep(delay_ms / 1000)
    if settings.outage_remaining() > 0:
        response = _error_response(503)
        response.headers["Retry-After"] = str(max(1, round(settings.outage_remaining())))
        return response
    if settings.error_rate > 0 and dice.random() < settings.error_rate:
        return _error_response(dice.choice(_ERROR_STATUSES))
    if settings.timeout_rate > 0 and dice.random() < settings.timeout_rate:
        await asyncio.sleep(settings.timeout_seconds)
        return drop_connection(request)
    if settings.lost_response_rate > 0 and dice.random() < settings.lost_response_rate:
        with contextlib.suppress(web.HTTPException):  # redirects and errors are answers too
            await handler(request)
        return drop_connection(request)
    answer = await handler(request)
    if settings.answer_delay_ms > 0 and request.method not in _READ_METHODS:
        await faults.hold_answer(service, request, answer, settings.answer_delay_ms)
    return answer


async def _scripted(
    answer: ScriptedAnswer, request: web.Request, handler: Handler
) -> web.StreamResponse:
    if answer.status is None:
        with contextlib.suppress(web.HTTPException):
            await handler(request)
        return drop_connection(request)
    body = answer.body if answer.body is not None else {"error": f"scripted {answer.status}"}
    return web.json_response(body, status=answer.status)
