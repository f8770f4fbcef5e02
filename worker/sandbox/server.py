"""``Sandbox``: the whole simulator on one port, run in a background thread.

>>> with Sandbox(datacite_limit=100) as sandbox:          # doctest: +SKIP
...     requests.get(sandbox.info()["datacite_api_url"] + "/dois")
...     sandbox.set_faults("datacite", lost_response_rate=1.0)
...     sandbox.state()["datacite"]["dois"]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

import requests
from aiohttp import web
from cryptography.fernet import Fernet

from worker.sandbox.accounts import Accounts
from worker.sandbox.app import SandboxApp
from worker.sandbox.crossref.service import CrossrefService
from worker.sandbox.datacite.service import DataCiteService
from worker.sandbox.faults import Faults
from worker.sandbox.orcid import OrcidService, OrcidSettings
from worker.sandbox.ratelimit import BucketSpec, Limiter, Limits, WindowSpec
from worker.sandbox.resolver import ResolverService
from worker.sandbox.service import CONTROL_PREFIX, SandboxContext, SandboxService

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from types import TracebackType

T = TypeVar("T")

_SAVE_INTERVAL = 0.5
_START_TIMEOUT = 30.0


def _window(value: WindowSpec | int | None, default: WindowSpec) -> WindowSpec:
    if value is None:
        return default
    if isinstance(value, WindowSpec):
        return value
    return WindowSpec(limit=value, window_seconds=default.window_seconds)


class Sandbox:
    """ORCID, DataCite, Crossref and doi.org simulators with fault injection.

    Python control calls mirror the control API (``{control_url}/...``); they may be called
    from any thread while the sandbox runs.
    """

    def __init__(
        self,
        *,
        orcid_rate: BucketSpec | None = None,
        datacite_limit: WindowSpec | int | None = None,
        crossref_delays: tuple[float, float] | float | None = None,
        crossref_api_rate: WindowSpec | int | None = None,
        crossref_queue_limit: int = 10_000,
        state_file: str | Path | None = None,
        accounts: Accounts | None = None,
        orcid_settings: OrcidSettings | None = None,
        seed: int | None = None,
    ) -> None:
        """Configure (nothing runs until :meth:`start`).

        ``orcid_rate``: per-client token bucket (default 24/s, burst 40; rate 0 = off).
        ``datacite_limit``: requests per 5 minutes per repository account (default 3000), or a
        WindowSpec. ``crossref_delays``: seconds queued → in_process and in_process →
        completed (default 2 and 2; one number sets both). ``crossref_api_rate``: Crossref
        REST requests per second (default 50). ``orcid_settings``: webhook timing and other
        ORCID knobs. ``state_file``: restored at start when it exists, written after changes
        and at stop. ``seed`` makes the fault dice reproducible.
        """
        self.ctx = SandboxContext(
            accounts=accounts or Accounts(),
            faults=Faults(seed),
            orcid_rate=orcid_rate or BucketSpec(),
        )
        if crossref_delays is None:
            delays = (2.0, 2.0)
        elif isinstance(crossref_delays, int | float):
            delays = (float(crossref_delays), float(crossref_delays))
        else:
            delays = (float(crossref_delays[0]), float(crossref_delays[1]))
        self.datacite = DataCiteService(self.ctx, _window(datacite_limit, WindowSpec(3000, 300.0)))
        self.crossref = CrossrefService(
            self.ctx,
            delays=delays,
            api_rate=_window(crossref_api_rate, WindowSpec(50, 1.0)),
            queue_limit=crossref_queue_limit,
        )
        self.resolver = ResolverService(self.ctx, self.datacite, self.crossref)
        self.orcid = OrcidService(self.ctx, orcid_settings)
        services: list[SandboxService] = [self.orcid, self.datacite, self.crossref, self.resolver]
        limiters: dict[str, Limiter] = {
            "orcid": self.orcid.limiter,
            "datacite": self.datacite.limiter,
            "crossref_api": self.crossref.api_limiter,
        }
        self.app = SandboxApp(self.ctx, services, Limits(limiters))
        self.state_file = Path(state_file) if state_file else None
        self.token_keys = Fernet.generate_key().decode()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._saver: asyncio.Task[None] | None = None
        self._http = requests.Session()

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://host:port`` (empty before :meth:`start`)."""
        return self.ctx.base_url

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Listen on ``host:port`` (0 = a free port); return once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("sandbox already started")
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        bound_port = sock.getsockname()[1]
        url_host = f"[{host}]" if ":" in host else host
        self.ctx.base_url = f"http://{url_host}:{bound_port}"
        self.ctx.on_change = self._mark_dirty
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._startup(sock))
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="pidsync-sandbox", daemon=True)
        self._thread.start()
        if not ready.wait(_START_TIMEOUT):
            raise RuntimeError("sandbox did not start in time")
        if failure:
            self._thread = None
            raise RuntimeError("sandbox failed to start") from failure[0]
        return self

    async def _startup(self, sock: socket.socket) -> None:
        if self.state_file is not None and self.state_file.is_file():
            self.app.restore(json.loads(self.state_file.read_text(encoding="utf-8")))
        runner = web.AppRunner(
            self.app.build(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        await web.SockSite(runner, sock, backlog=1024).start()
        self._runner = runner
        for service in self.app.services:
            await service.start()
        if self.state_file is not None:
            self._saver = asyncio.get_running_loop().create_task(self._save_loop())

    async def _shutdown(self) -> None:
        if self._saver is not None:
            self._saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver
        for service in self.app.services:
            await service.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        self._save()

    def stop(self) -> None:
        """Stop serving and background work; write the state file if there is one."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_START_TIMEOUT)
        self._thread = None
        self._http.close()

    def __enter__(self) -> Self:
        return self if self._thread is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- state file ----------------------------------------------------------------------------

    def _mark_dirty(self) -> None:
        self.app.dirty = True

    async def _save_loop(self) -> None:
        while True:
            await asyncio.sleep(_SAVE_INTERVAL)
            if self.app.dirty:
                self._save()

    def _save(self) -> None:
        if self.state_file is None:
            return
        self.app.dirty = False
        temporary = self.state_file.with_name(self.state_file.name + ".tmp")
        temporary.write_text(json.dumps(self.app.state(), indent=1), encoding="utf-8")
        temporary.replace(self.state_file)

    # -- control calls (thread-safe) -----------------------------------------------------------

    def _call(self, function: Callable[[], T]) -> T:
        if self._loop is None or self._thread is None:
            return function()

        async def call() -> T:
            return function()

        return self._run(call())

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_START_TIMEOUT)

    def state(self) -> dict[str, Any]:
        """Everything the sandbox holds (``GET {control_url}/state``)."""
        return self._call(self.app.state)

    def reset(self) -> None:
        """Back to the seeded state; faults off, counters zero (``POST {control_url}/reset``)."""
        self._call(self.app.reset)

    def set_faults(self, service: str, **settings: Any) -> dict[str, float]:
        """Change a service's fault settings (``POST {control_url}/faults``)."""
        return self._call(lambda: self.app.set_faults(service, settings))

    def set_limits(self, **limits: dict[str, float]) -> dict[str, dict[str, float]]:
        """Change rate limits at run time (``POST {control_url}/limits``); reset() restores them.

        ``set_limits(datacite={"limit": 5}, orcid={"rate": 2, "burst": 2},
        crossref_api={"limit": 3, "window_seconds": 1})``
        """
        return self._call(lambda: self.app.limits.update(limits))

    def set_crossref_processing(self, **settings: float) -> dict[str, float]:
        """``queued_seconds``, ``in_process_seconds``, ``queue_limit`` (``POST
        {control_url}/crossref/processing``); reset() restores the configured values."""
        return self._call(lambda: self.crossref.set_processing(settings))

    def crossref_force_outcome(self, doi: str, status: str, msg: str) -> None:
        """Make the next deposited record of ``doi`` end as ``Warning`` or ``Failure``."""
        self._call(lambda: self.crossref.force_outcome(doi, status, msg))

    def crossref_notify_endpoint(self, login_id: str, endpoint: str, url: str) -> dict[str, str]:
        """Register the role's notification callback (``POST
        {control_url}/crossref/notify-endpoints``): its submissions, once completed, are
        announced to ``url`` as Crossref does."""
        return self._call(lambda: self.crossref.register_notify_endpoint(login_id, endpoint, url))

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the control API over HTTP (``path`` under ``control_url``); the JSON answer."""
        response = self._http.request(method, self.info()["control_url"] + path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def add_researcher(self, **fields: str) -> str:
        """Create an ORCID record (``given_names``, ``family_name``, ``email``, ``affiliation``)."""
        answer: dict[str, str] = self.control("POST", "/orcid/researchers", fields)
        return answer["orcid"]

    def issue_token(self, orcid: str, client_id: str | None = None, scope: str = "") -> Any:
        """ORCID's token JSON, as if the researcher had consented."""
        client = client_id or self.ctx.accounts.orcid_client.client_id
        scope = scope or "/activities/update /read-limited"
        body = {"client_id": client, "scope": scope}
        return self.control("POST", f"/orcid/researchers/{orcid}/tokens", body)

    def revoke_token(self, access_token: str) -> None:
        """The researcher revokes a token."""
        self.control("POST", "/orcid/tokens/revoke", {"access_token": access_token})

    def delete_work(self, orcid: str, put_code: int) -> None:
        """The researcher deletes a work from the record."""
        self.control("DELETE", f"/orcid/researchers/{orcid}/works/{put_code}")

    def delete_activity(self, orcid: str, put_code: int) -> None:
        """The researcher deletes an affiliation, funding or peer review from the record."""
        self.control("DELETE", f"/orcid/researchers/{orcid}/activities/{put_code}")

    def hide_work(self, orcid: str, put_code: int) -> None:
        """The researcher makes a work private."""
        self.control("POST", f"/orcid/researchers/{orcid}/works/{put_code}/hide")

    # -- what a client needs -------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Base URLs, seeded credentials and the ``PIDSYNC_*`` environment."""
        base, accounts = self.url, self.ctx.accounts
        orcid = accounts.orcid_client
        datacite = accounts.datacite_account
        crossref = accounts.crossref_account
        info: dict[str, Any] = {
            "orcid_oauth_url": base + "/orcid",
            "orcid_api_url": base + "/orcid-api",
            "orcid_public_url": base + "/orcid-pub",
            "datacite_api_url": base + "/datacite",
            "crossref_deposit_url": base + "/crossref",
            "crossref_api_url": base + "/crossref-api",
            "doi_resolver_url": base + "/doi",
            "control_url": base + CONTROL_PREFIX,
            "orcid_client_id": orcid.client_id,
            "orcid_client_secret": orcid.client_secret,
            "datacite_repository_id": datacite.repository_id,
            "datacite_password": datacite.password,
            "datacite_prefix": datacite.prefixes[0],
            "crossref_login_id": crossref.login_id,
            "crossref_password": crossref.password,
            "crossref_prefix": crossref.prefixes[0],
        }
        info["env"] = {
            "PIDSYNC_ORCID_OAUTH_URL": info["orcid_oauth_url"],
            "PIDSYNC_ORCID_API_URL": info["orcid_api_url"],
            "PIDSYNC_ORCID_PUBLIC_URL": info["orcid_public_url"],
            "PIDSYNC_ORCID_CLIENT_ID": orcid.client_id,
            "PIDSYNC_ORCID_CLIENT_SECRET": orcid.client_secret,
            "PIDSYNC_DATACITE_URL": info["datacite_api_url"],
            "PIDSYNC_DATACITE_REPOSITORY_ID": datacite.repository_id,
            "PIDSYNC_DATACITE_PASSWORD": datacite.password,
            "PIDSYNC_DATACITE_PREFIX": datacite.prefixes[0],
            "PIDSYNC_CROSSREF_DEPOSIT_URL": info["crossref_deposit_url"],
            "PIDSYNC_CROSSREF_API_URL": info["crossref_api_url"],
            "PIDSYNC_CROSSREF_LOGIN_ID": crossref.login_id,
            "PIDSYNC_CROSSREF_PASSWORD": crossref.password,
            "PIDSYNC_CROSSREF_PREFIX": crossref.prefixes[0],
            "PIDSYNC_DOI_RESOLVER_URL": info["doi_resolver_url"],
            "PIDSYNC_TOKEN_KEYS": self.token_keys,
        }
        return info
