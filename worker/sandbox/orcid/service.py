"""``OrcidService``: the simulated ORCID (OAuth host, member API, public API) in the sandbox.

It satisfies :class:`worker.sandbox.service.SandboxService`: prefixes ``/orcid`` (OAuth),
``/orcid-api`` (member API and webhooks) and ``/orcid-pub`` (public API), control routes under
``/_sandbox/orcid/``, and ``snapshot``/``reset``/``restore``/``start``/``stop``. The pieces live
in their own modules; this one holds the shared state and the record-changing operations that
both the API and the control routes use (so webhooks fire either way).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from worker.sandbox.orcid import persist
from worker.sandbox.orcid.control import ControlApi
from worker.sandbox.orcid.notifications import NotificationsApi
from worker.sandbox.orcid.oauth import OAuthApi
from worker.sandbox.orcid.public import RecordApi
from worker.sandbox.orcid.search import SearchApi
from worker.sandbox.orcid.store import Client, OrcidStore, Record, Work, now_ms
from worker.sandbox.orcid.webhooks import WebhookDispatcher, WebhooksApi
from worker.sandbox.orcid.works import WorksApi
from worker.sandbox.ratelimit import TokenBucket

if TYPE_CHECKING:
    from aiohttp import web

    from worker.sandbox.service import SandboxContext


@dataclass
class OrcidSettings:
    """Knobs of the simulation (``POST /_sandbox/orcid/settings`` changes them)."""

    #: Seconds between a record change and the webhook calls (ORCID batches every 5 minutes).
    webhook_delay: float = 0.5
    #: Seconds before the first retry of a failed webhook call; doubled each time.
    webhook_retry: float = 0.5
    #: Calls per change and callback, the first one included.
    webhook_attempts: int = 5
    #: Works per record (ORCID: 10,000; 409/9048 beyond).
    max_works: int = 10_000
    #: Host in the iD and client URIs ORCID writes into answers.
    host: str = "orcid.org"

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        current = asdict(self)
        unknown = sorted(set(changes) - set(current))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        for key, value in changes.items():
            if not isinstance(value, type(current[key])) and not (
                isinstance(current[key], float) and isinstance(value, int)
            ):
                raise TypeError(f"{key} must be a {type(current[key]).__name__}")
            setattr(self, key, type(current[key])(value))
        return asdict(self)


class OrcidService:
    """The ORCID simulator (see the module docstring)."""

    name = "orcid"
    prefixes = ("/orcid", "/orcid-api", "/orcid-pub")

    def __init__(self, ctx: SandboxContext, settings: OrcidSettings | None = None) -> None:
        self.ctx = ctx
        self.settings = settings or OrcidSettings()
        self._defaults = replace(self.settings)
        self.store = OrcidStore()
        self.limiter = TokenBucket(ctx.orcid_rate)
        self.dispatcher = WebhookDispatcher(self)
        self._seed_clients()
        self.oauth = OAuthApi(self)
        self.works = WorksApi(self)
        self.records = RecordApi(self)
        self.search = SearchApi(self)
        self.webhooks = WebhooksApi(self)
        self.notifications = NotificationsApi(self)
        self.control = ControlApi(self)

    def _seed_clients(self) -> None:
        for account in self.ctx.accounts.orcid_clients:
            self.store.add_client(
                Client(
                    client_id=account.client_id,
                    secret=account.client_secret,
                    name=account.name,
                    redirect_uris=account.redirect_uris,
                    seeded=True,
                )
            )

    # --- SandboxService -------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        # Search before records: ``/v3.0/search`` must not be read as ``/v3.0/{orcid}``.
        return [
            *self.oauth.routes(),
            *self.search.routes(),
            *self.works.routes(),
            *self.records.routes(),
            *self.webhooks.routes(),
            *self.notifications.routes(),
        ]

    def control_routes(self) -> list[web.RouteDef]:
        return self.control.routes()

    def snapshot(self) -> dict[str, Any]:
        return persist.snapshot(self.store)

    def reset(self) -> None:
        """Back to the seeded clients and the settings the service was built with."""
        self.dispatcher.cancel_all()
        self.store.reset()
        self.limiter.reset()
        self.settings.update(asdict(self._defaults))

    def restore(self, snapshot: dict[str, Any]) -> None:
        persist.restore(self.store, snapshot)

    async def start(self) -> None:
        await self.dispatcher.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()

    # --- changes to a record (by the API or by the researcher) --------------------------------

    def record_changed(self, record: Record) -> None:
        record.modified_ms = now_ms()
        self.dispatcher.changed(record.orcid)
        self.ctx.changed()

    def add_work(self, record: Record, client_id: str, body: dict[str, Any]) -> Work:
        client = self.store.clients.get(client_id)
        work = Work(
            put_code=self.store.take_put_code(),
            orcid=record.orcid,
            source_client_id=client_id,
            source_name=client.name if client else client_id,
            body=body,
        )
        record.works[work.put_code] = work
        self.record_changed(record)
        return work

    def remove_work(self, record: Record, put_code: int) -> None:
        del record.works[put_code]
        self.record_changed(record)

    def set_visibility(self, record: Record, put_code: int, visibility: str) -> None:
        work = record.works[put_code]
        work.visibility = visibility
        work.modified_ms = now_ms()
        self.record_changed(record)
