"""What the ORCID services need, built once per process: configuration, the token cipher, the
per-record locks, the shared rate limiter and one set of clients per configured ORCID client.

Services take an :class:`OrcidDeps` as an argument (tests build one against the sandbox with
:func:`build`); the composition root (:mod:`worker.bootstrap`) builds the process's own, and
entry points pass it on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import requests

from worker.config import OrcidClient, Settings
from worker.errors import PermanentError
from worker.http import Recorder, Session
from worker.orcid.client import MemberClient, PublicClient
from worker.orcid.locks import RecordLocks
from worker.orcid.oauth import READ_PUBLIC, OAuthHttp, OrcidOAuth
from worker.orcid.tokens import TokenCipher
from worker.ratelimit import RateLimiter


class UnknownOrcidClient(PermanentError):
    """A grant or request names an ORCID client that is not configured (any more)."""


@dataclass
class OrcidDeps:
    settings: Settings
    cipher: TokenCipher
    locks: RecordLocks
    limiter: RateLimiter | None = None
    recorder: Recorder | None = None
    http: requests.Session = field(default_factory=Session)
    _members: dict[str, MemberClient] = field(default_factory=dict)
    _oauth: dict[str, OrcidOAuth] = field(default_factory=dict)
    _public: PublicClient | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def timeout(self) -> float:
        return self.settings.http_timeout_seconds

    def clients(self) -> list[OrcidClient]:
        return self.settings.orcid_client_list()

    def client_config(self, client_id: str) -> OrcidClient:
        for client in self.clients():
            if client.client_id == client_id:
                return client
        raise UnknownOrcidClient(f"ORCID client {client_id!r} is not configured")

    def default_client_id(self) -> str | None:
        clients = self.clients()
        return clients[0].client_id if clients else None

    def _limit(self, key: str) -> Any:
        limiter = self.limiter
        if limiter is None:
            return None
        limit = self.settings.orcid.limit
        return lambda: limiter.acquire(limit, key)

    def member(self, client_id: str) -> MemberClient:
        """The member API client whose calls count against ``client_id``'s rate limit."""
        with self._lock:
            if client_id not in self._members:
                self.client_config(client_id)
                self._members[client_id] = MemberClient(
                    self.settings.orcid_api_url,
                    session=self.http,
                    timeout=self.timeout,
                    recorder=self.recorder,
                    limiter=self._limit(client_id),
                )
            return self._members[client_id]

    def oauth(self, client_id: str) -> OrcidOAuth:
        with self._lock:
            if client_id not in self._oauth:
                config = self.client_config(client_id)
                http = OAuthHttp(
                    self.settings.orcid_oauth_url,
                    session=self.http,
                    timeout=self.timeout,
                    recorder=self.recorder,
                )
                self._oauth[client_id] = OrcidOAuth(
                    self.settings.orcid_oauth_url, config, http=http, timeout=self.timeout
                )
            return self._oauth[client_id]

    def public(self) -> PublicClient:
        """The public API, with the first client's cached ``/read-public`` token (anonymous
        when no client is configured)."""
        default = self.default_client_id()
        oauth = self.oauth(default) if default else None
        with self._lock:
            if self._public is None:
                self._public = public_client(
                    self.settings,
                    session=self.http,
                    recorder=self.recorder,
                    oauth=oauth,
                    limiter=self.limiter,
                )
            return self._public


def public_client(
    settings: Settings,
    *,
    session: requests.Session | None = None,
    recorder: Recorder | None = None,
    oauth: OrcidOAuth | None = None,
    limiter: RateLimiter | None = None,
) -> PublicClient:
    """A public API client: with ``oauth``'s cached ``/read-public`` token, else anonymous."""
    key = oauth.client_id if oauth is not None else "anonymous"
    limit = settings.orcid.limit
    return PublicClient(
        settings.orcid_public_url,
        session=session,
        timeout=settings.http_timeout_seconds,
        recorder=recorder,
        limiter=(lambda: limiter.acquire(limit, key)) if limiter is not None else None,
        token=(lambda: oauth.client_token(READ_PUBLIC)) if oauth is not None else None,
        forget=(lambda: oauth.forget(READ_PUBLIC)) if oauth is not None else None,
    )


def build(
    settings: Settings,
    cipher: TokenCipher,
    redis_client: Any,
    *,
    recorder: Recorder | None = None,
    lock_wait: float | None = None,
) -> OrcidDeps:
    """The ORCID services' dependencies over one Redis (record locks, shared rate limit).
    ``recorder``: where outbound calls are recorded (None: nowhere); ``lock_wait``: seconds a
    write waits for another worker's on the same record (default
    ``settings.orcid.record_lock_wait_seconds``)."""
    wait = settings.orcid.record_lock_wait_seconds if lock_wait is None else lock_wait
    return OrcidDeps(
        settings=settings,
        cipher=cipher,
        locks=RecordLocks(redis_client, wait=wait),
        limiter=RateLimiter(redis_client),
        recorder=recorder,
    )
