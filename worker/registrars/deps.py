"""What the registrar services need from the process, built once per process: settings, the
shared rate limiter, the call recorder, the duplicate guard's finder, and clients per configured
account.

Services take a :class:`RegistrarDeps` as an argument (tests build one against the sandbox);
entry points pass the runtime's (``worker.bootstrap.Runtime.registrars``). HTTP sessions are
shared per base URL, so every client of one agency reuses its connections.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from worker.config import CrossrefAccount, DataCiteAccount, Settings
from worker.http import Recorder, Session
from worker.pids.client import CrossrefRestClient
from worker.ratelimit import RateLimiter
from worker.registrars import accounts
from worker.registrars.crossref.client import CrossrefClient
from worker.registrars.datacite.client import DataCiteClient
from worker.registrars.duplicates import DuplicateFinder, registry_finder


@dataclass
class RegistrarDeps:
    settings: Settings
    limiter: RateLimiter | None = None
    recorder: Recorder | None = None
    duplicate_finder: DuplicateFinder | None = None
    _sessions: dict[str, requests.Session] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _session(self, base_url: str) -> requests.Session:
        """One keep-alive session per base URL (its environment read once: worker.http)."""
        with self._lock:
            session = self._sessions.get(base_url)
            if session is None:
                session = Session()
                self._sessions[base_url] = session
            return session

    def datacite_account(self, name: str) -> DataCiteAccount:
        return accounts.datacite_account(self.settings, name)

    def crossref_account(self, name: str) -> CrossrefAccount:
        return accounts.crossref_account(self.settings, name)

    def datacite(self, account: DataCiteAccount) -> DataCiteClient:
        return DataCiteClient(
            account,
            session=self._session(account.url),
            timeout=self.settings.http_timeout_seconds,
            recorder=self.recorder,
        )

    def crossref(self, account: CrossrefAccount) -> CrossrefClient:
        return CrossrefClient(
            account,
            session=self._session(account.deposit_url),
            timeout=max(
                self.settings.http_timeout_seconds, self.settings.crossref.deposit_timeout_seconds
            ),
            recorder=self.recorder,
        )

    def crossref_rest(self) -> CrossrefRestClient:
        return CrossrefRestClient.from_settings(
            self.settings,
            limiter=self.limiter,
            session=self._session(self.settings.crossref_api_url),
            recorder=self.recorder,
        )

    def throttle_datacite(self, account: DataCiteAccount) -> None:
        """Wait for a DataCite slot. DataCite counts per IP address, so every account on one
        DataCite host shares one budget (the sandbox counts per account: the same thing with
        one account)."""
        if self.limiter is not None:
            host = urlsplit(account.url).netloc
            self.limiter.acquire(self.settings.datacite.limit, key=host)

    def throttle_crossref(self, account: CrossrefAccount) -> None:
        if self.limiter is not None:
            self.limiter.acquire(self.settings.crossref.limit, key=account.login_id)

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()


def build(
    settings: Settings,
    *,
    limiter: RateLimiter | None,
    recorder: Recorder | None,
) -> RegistrarDeps:
    finder = (
        registry_finder(
            settings,
            threshold=settings.doi.duplicate_threshold,
            limiter=limiter,
            recorder=recorder,
        )
        if settings.doi.duplicate_check
        else None
    )
    return RegistrarDeps(
        settings=settings,
        limiter=limiter,
        recorder=recorder,
        duplicate_finder=finder,
    )
