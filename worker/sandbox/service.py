"""The contract between the sandbox server and each simulated service.

One aiohttp application on one port serves every service under its own path prefixes:

=========  ================================================================================
service    prefixes
=========  ================================================================================
orcid      ``/orcid`` (OAuth host: ``/orcid/oauth/token``), ``/orcid-api`` (member API host:
           ``/orcid-api/v3.0/...``, webhooks ``/orcid-api/{orcid}/webhook/{callback}``),
           ``/orcid-pub`` (public API host: ``/orcid-pub/v3.0/...``)
datacite   ``/datacite`` (REST: ``/datacite/dois``), ``/datacite-mds`` (MDS)
crossref   ``/crossref`` (deposit host: ``/crossref/servlet/deposit``), ``/crossref-api`` (REST)
doi        ``/doi`` (resolver), ``/datacite-cn`` (DataCite's content negotiation service)
control    ``/_sandbox`` (never a service path; no faults, no rate limits, not counted)
=========  ================================================================================

A service is an object that satisfies :class:`SandboxService`. The server:

1. constructs it with the shared :class:`SandboxContext` (``OrcidService(ctx)``);
2. adds ``routes()`` and ``control_routes()`` to the application;
3. maps each request to a service by the longest matching prefix in ``prefixes``, counts it
   under ``name`` (``GET /_sandbox/state`` → ``requests``) and applies that service's faults
   (latency, errors, timeouts, lost responses, outages: see :mod:`worker.sandbox.faults`)
   *around* the handler — handlers never deal with faults themselves;
4. awaits ``start()`` once the event loop runs (start background tasks, open client sessions
   for outbound calls such as webhooks) and ``stop()`` at shutdown (cancel them);
5. puts ``snapshot()`` under the key ``name`` in ``GET /_sandbox/state`` (so the ORCID
   service answers ``{"records": {...}, "webhooks": [...], "notifications": [...]}``),
   calls ``reset()`` on ``POST /_sandbox/reset`` (back to the seeded state; the server resets
   faults and counters itself), and ``restore(snapshot)`` when started with a state file.

Everything runs on the sandbox's single event loop: handlers and control calls need no locks.

Rate limits are the service's business (each answers in its own shape): use
:mod:`worker.sandbox.ratelimit` with the spec in the context (``ctx.orcid_rate``) and call
:func:`mark_rate_limited` on the request that was refused, so it is counted as rate limited.

Control routes are full paths under :data:`CONTROL_PREFIX`. The ORCID ones (the Python
``Sandbox`` methods of the same purpose call exactly these over HTTP):

- ``POST /_sandbox/orcid/researchers`` ``{"given_names"?, "family_name"?, "email"?,
  "affiliation"?}`` → 201 ``{"orcid": "<iD>"}``;
- ``POST /_sandbox/orcid/researchers/{orcid}/tokens`` ``{"client_id", "scope"}`` → 200
  ORCID's token JSON;
- ``POST /_sandbox/orcid/tokens/revoke`` ``{"access_token"}`` → 204 (the researcher revokes);
- ``DELETE /_sandbox/orcid/researchers/{orcid}/works/{put_code}`` → 204 (the researcher
  deletes a work);
- ``POST /_sandbox/orcid/researchers/{orcid}/works/{put_code}/hide`` → 204 (the researcher
  makes a work private).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aiohttp import web

from worker.sandbox.accounts import Accounts
from worker.sandbox.faults import Faults
from worker.sandbox.ratelimit import BucketSpec

if TYPE_CHECKING:
    from collections.abc import Callable

CONTROL_PREFIX = "/_sandbox"
RATE_LIMITED_KEY = web.RequestKey("sandbox.rate_limited", bool)


def mark_rate_limited(request: web.BaseRequest) -> None:
    """Count this request as refused by a rate limit (in ``requests.<service>.rate_limited``)."""
    request[RATE_LIMITED_KEY] = True


@dataclass
class SandboxContext:
    """What every service shares: accounts, limits, faults, and the public base URL."""

    accounts: Accounts = field(default_factory=Accounts)
    faults: Faults = field(default_factory=Faults)
    #: ORCID's limit per client: 24 requests/s, burst 40, 503 beyond.
    orcid_rate: BucketSpec = field(default_factory=BucketSpec)
    #: ``http://host:port`` once the server listens (empty before).
    base_url: str = ""
    #: Called by services after a change that no request made (e.g. background processing),
    #: so a state file gets written. Requests other than GET/HEAD mark the state dirty anyway.
    on_change: Callable[[], None] = field(default=lambda: None)

    def url(self, path: str) -> str:
        """Absolute URL of a sandbox path such as ``/orcid-api/v3.0/...``."""
        return self.base_url + path

    def changed(self) -> None:
        self.on_change()


@runtime_checkable
class SandboxService(Protocol):
    """A simulated service mounted in the sandbox (see the module docstring)."""

    @property
    def name(self) -> str:
        """Fault and counter key: ``"orcid"``, ``"datacite"``, ``"crossref"`` or ``"doi"``."""
        ...

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Path prefixes this service owns, e.g. ``("/orcid", "/orcid-api", "/orcid-pub")``."""
        ...

    def routes(self) -> list[web.RouteDef]:
        """The service's routes, with full paths (``/orcid-api/v3.0/{orcid}/work``)."""
        ...

    def control_routes(self) -> list[web.RouteDef]:
        """Control routes, with full paths under ``/_sandbox`` (may be empty)."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable picture of everything the service holds."""
        ...

    def reset(self) -> None:
        """Forget everything but the seeded state."""
        ...

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Load a picture made by :meth:`snapshot` (from a state file)."""
        ...

    async def start(self) -> None:
        """Start background work (the loop is running)."""
        ...

    async def stop(self) -> None:
        """Stop background work."""
        ...
