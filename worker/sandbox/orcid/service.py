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

from worker.sandbox.orcid import persist, vocab
from worker.sandbox.orcid.control import ControlApi
from worker.sandbox.orcid.groups import GroupIdApi
from worker.sandbox.orcid.notifications import NotificationsApi
from worker.sandbox.orcid.oauth import OAuthApi
from worker.sandbox.orcid.public import RecordApi
from worker.sandbox.orcid.search import SearchApi
from worker.sandbox.orcid.sections import SectionsApi
from worker.sandbox.orcid.store import (
    PRIVATE,
    Activity,
    Client,
    OrcidStore,
    Record,
    Work,
    now_ms,
)
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
        """Apply ``changes`` (all checked first); answer every setting."""
        current = asdict(self)
        unknown = sorted(set(changes) - set(current))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        for key, value in changes.items():
            kind = type(current[key])
            number = kind in (int, float) and isinstance(value, int | float)
            if isinstance(value, bool) or not (isinstance(value, kind) or number):
                raise TypeError(f"{key} must be a {kind.__name__}")
            if number and value < (1 if key == "webhook_attempts" else 0):
                raise ValueError(f"{key} is too small: {value}")
        for key, value in changes.items():
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
        self.sections = SectionsApi(self)
        self.groups = GroupIdApi(self)
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
            *self.groups.routes(),  # before records, for the same reason
            *self.works.routes(),
            *self.sections.routes(),
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

    # --- Python control calls (run them on the sandbox's loop, as ``Sandbox._call`` does) -----

    def create_researcher(self, **fields: Any) -> str:
        """A new record (``given_names``, ``family_name``, ``email``, ``affiliation``, ``ror``,
        ``opt_out_notifications``); its iD."""
        record = self.store.create_record(**fields)
        self.ctx.changed()
        return record.orcid

    def issue_token(
        self, orcid: str, client_id: str | None = None, scope: str = vocab.DEFAULT_SCOPE
    ) -> dict[str, Any]:
        """ORCID's token JSON for a token as if ``orcid`` had consented to ``client_id``."""
        if orcid not in self.store.records:
            raise KeyError(f"no researcher {orcid}")
        client_id = client_id or self.ctx.accounts.orcid_client.client_id
        if client_id not in self.store.clients:
            raise ValueError(f"unknown client_id: {client_id}")
        scopes = tuple(dict.fromkeys((scope or vocab.DEFAULT_SCOPE).replace(",", " ").split()))
        token = self.store.issue_token(client_id, orcid, scopes)
        self.ctx.changed()
        return token.response()

    def revoke_token(self, access_token: str) -> None:
        """The researcher revokes a token (its refresh token goes with it)."""
        token = self.store.tokens.get(access_token)
        if token is None:
            raise KeyError("unknown access_token")
        self.store.revoke_token(token)
        self.ctx.changed()

    def delete_work(self, orcid: str, put_code: int) -> None:
        """The researcher deletes a work (whoever its source)."""
        self.remove_work(self._record(orcid), self._put_code(orcid, put_code))

    def hide_work(self, orcid: str, put_code: int, visibility: str = PRIVATE) -> None:
        """The researcher changes a work's visibility (``private`` hides it from everyone else)."""
        if visibility not in vocab.VISIBILITIES:
            raise ValueError(f"visibility must be one of {', '.join(vocab.VISIBILITIES)}")
        self.set_visibility(self._record(orcid), self._put_code(orcid, put_code), visibility)

    def delete_activity(self, orcid: str, put_code: int) -> None:
        """The researcher deletes an affiliation, funding or peer review (whoever its source)."""
        record = self._record(orcid)
        if put_code not in record.activities:
            raise KeyError(f"no activity {put_code} on {orcid}")
        self.remove_activity(record, put_code)

    def _record(self, orcid: str) -> Record:
        record = self.store.records.get(orcid)
        if record is None:
            raise KeyError(f"no researcher {orcid}")
        return record

    def _put_code(self, orcid: str, put_code: int) -> int:
        if put_code not in self._record(orcid).works:
            raise KeyError(f"no work {put_code} on {orcid}")
        return put_code

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

    def add_activity(
        self, record: Record, section: str, client_id: str, body: dict[str, Any]
    ) -> Activity:
        client = self.store.clients.get(client_id)
        kept = {k: v for k, v in body.items() if k not in ("visibility", "path", "put-code")}
        item = Activity(
            put_code=self.store.take_put_code(),
            orcid=record.orcid,
            section=section,
            source_client_id=client_id,
            source_name=client.name if client else client_id,
            body=kept,
        )
        record.activities[item.put_code] = item
        self.record_changed(record)
        return item

    def remove_activity(self, record: Record, put_code: int) -> None:
        del record.activities[put_code]
        self.record_changed(record)
