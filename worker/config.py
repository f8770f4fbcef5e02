"""Typed configuration, read once per process from the environment (prefix ``PIDSYNC_``).

An optional env file (``PIDSYNC_ENV_FILE``, default ``.env`` when present) is read too. Every
value is validated when the process starts: a missing or malformed value stops it with one
line naming the variable, never later in the middle of a job.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from worker.ratelimit import ORCID as ORCID_LIMIT
from worker.ratelimit import Limit
from worker.retry import Backoff

#: The one loopback name accepted besides loopback addresses (it resolves locally by RFC 6761).
LOOPBACK_NAME = "localhost"

#: Hosts content negotiation and enrichment may be redirected to: doi.org and the agencies'
#: content-negotiation services it hands over to (API_FACTS.md §4).
DEFAULT_REDIRECT_HOSTS = (
    "doi.org",
    "dx.doi.org",
    "data.crosscite.org",
    "api.datacite.org",
    "api.test.datacite.org",
    "data.datacite.org",
    "api.crossref.org",
    "data.crossref.org",
)
#: The shortest secret accepted in a callback URL's path (Crossref's notify-url).
MIN_CALLBACK_SECRET = 16


class ConfigError(Exception):
    """Configuration is missing or malformed; the message names the variable."""


def loopback_host(host: str | None) -> bool:
    """Whether ``host`` (a URL's hostname) is a loopback address, compared as an address
    (``127.0.0.2``, ``::1``) and never by prefix: ``127.attacker.example`` is a name, not a
    loopback address. ``localhost`` is the one name accepted."""
    if not host:
        return False
    host = host.strip("[]").rstrip(".").lower()
    if host == LOOPBACK_NAME:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _port = parts.port  # a malformed port raises here
    except ValueError:  # a malformed netloc (e.g. an unclosed IPv6 bracket)
        return False
    # urlsplit reads "[::1].attacker.example" as ::1: after "]" only ":port" may follow.
    after = parts.netloc.rpartition("@")[2].partition("]")[2] if "[" in parts.netloc else ""
    if after and not re.fullmatch(r":\d{1,5}", after):
        return False
    return loopback_host(parts.hostname)


def _require_https(url: str, name: str) -> str:
    """Plain http is accepted only for loopback (the sandbox): DESIGN.md §7."""
    scheme = urlsplit(url).scheme
    if scheme == "https" or (scheme == "http" and is_loopback(url)):
        return url.rstrip("/")
    raise ValueError(f"{name} must be an https:// URL (http:// only for loopback): {url!r}")


class DataCiteAccount(BaseModel):
    name: str = "default"
    url: str = "https://api.test.datacite.org"
    repository_id: str
    password: SecretStr
    prefixes: list[str]

    @field_validator("url")
    @classmethod
    def _https(cls, v: str) -> str:
        return _require_https(v, "DataCite url")


class CrossrefAccount(BaseModel):
    name: str = "default"
    deposit_url: str = "https://test.crossref.org"
    login_id: str
    password: SecretStr
    prefixes: list[str]
    depositor_name: str = "pidsync"
    depositor_email: str = "pidsync@example.org"
    registrant: str = "pidsync"

    @field_validator("deposit_url")
    @classmethod
    def _https(cls, v: str) -> str:
        return _require_https(v, "Crossref deposit_url")


_ROR_ID = re.compile(r"^(?:https?://(?:www\.)?ror\.org/)?(0[0-9a-hjkmnp-tv-z]{6}[0-9]{2})$")


class Organization(BaseModel):
    """A tenant's own organisation (DESIGN.md §7): what its affiliations and peer reviews
    name when the event names none. ORCID expects a ROR id on every organisation asserted."""

    model_config = {"frozen": True, "extra": "forbid"}

    name: str = Field(min_length=1, max_length=1000)
    city: str = Field(min_length=1, max_length=1000)
    region: str | None = Field(None, max_length=1000)
    country: str = Field(pattern=r"^[A-Za-z]{2}$")  # ISO 3166-1 alpha-2
    ror: str

    @field_validator("ror")
    @classmethod
    def _ror(cls, v: str) -> str:
        found = _ROR_ID.match(v.strip().lower())
        if found is None:
            raise ValueError("ror must be a ROR id (https://ror.org/0xxxxxxNN)")
        return "https://ror.org/" + found.group(1)

    @field_validator("country")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.upper()


class IntakeClient(BaseModel):
    """One intake client, a tenant (DESIGN.md §7 "Clients (tenants)"): what it may send and
    use. A list left out allows everything of its kind; a source or type ending in ``*`` is a
    prefix (``https://cris.example/*``, ``work.*``)."""

    model_config = {"frozen": True, "extra": "forbid"}

    id: str = Field(min_length=1, max_length=200, pattern=r"^[!-~]+$")
    # Newest first: requests signed with any are accepted; webhooks are signed with the first.
    secrets: list[SecretStr] = Field(min_length=1)
    sources: list[str] = Field(min_length=1)
    types: list[str] | None = None
    datacite_accounts: list[str] | None = None
    crossref_accounts: list[str] | None = None
    orcid_clients: list[str] | None = None
    # Where this client's webhooks go (wins over its entry in PIDSYNC_NOTIFY_URLS).
    notify_url: str | None = None
    # Its own organisation: named on affiliations and peer reviews whose event names none.
    organization: Organization | None = None
    # Whether its events may name another organisation than its own (an institution asserts
    # affiliations with itself, as ORCID asks of members); false: such an event is a 403.
    other_organizations: bool = False
    # Issue 15: how a version family (Zenodo-style versions plus a concept DOI) reaches ORCID:
    # "each" version its own work; "latest" one work per family, updated in place to the
    # newest version; "concept" one work carrying the concept DOI. After a change, run
    # `pidsync orcid versions converge` so existing records follow without duplicates.
    orcid_versions: Literal["each", "latest", "concept"] = "each"

    @field_validator("secrets")
    @classmethod
    def _non_empty_secrets(cls, v: list[SecretStr]) -> list[SecretStr]:
        if any(not s.get_secret_value().strip() for s in v):
            raise ValueError("a client secret is empty")
        return v

    @field_validator("sources", "types")
    @classmethod
    def _non_empty_patterns(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and any(not p.strip() for p in v):
            raise ValueError("an empty pattern (use '*' for everything)")
        return v

    @field_validator("notify_url")
    @classmethod
    def _notify_https(cls, v: str | None) -> str | None:
        return _require_https(v, "notify_url") if v else None

    @property
    def signing_secret(self) -> SecretStr:
        """The newest secret: what pidsync signs this client's webhooks with."""
        return self.secrets[0]


def _intake_clients(v: Any) -> Any:
    """``PIDSYNC_INTAKE_CLIENTS``: the JSON list of §7, or the short form ``id:secret`` for
    exactly one client (which then owns every source). Programmatic callers may pass a dict of
    id -> secret (the short form) or id -> client, or a list of clients."""
    if isinstance(v, str):
        text = v.strip()
        if text.startswith("["):
            v = json.loads(text)
        else:
            v = _parse_pairs(text, "PIDSYNC_INTAKE_CLIENTS", sep=":")
    if isinstance(v, dict) and all(isinstance(x, str | SecretStr) for x in v.values()):
        if len(v) > 1:
            raise ValueError(
                "the short form id:secret takes exactly one client; several clients need the "
                'JSON form [{"id", "secrets", "sources", ...}] (DESIGN.md §7)'
            )
        return {
            key: {"id": key, "secrets": [secret], "sources": ["*"]} for key, secret in v.items()
        }
    if isinstance(v, list):
        clients: dict[str, Any] = {}
        for item in v:
            key = item.get("id") if isinstance(item, dict) else getattr(item, "id", None)
            if not isinstance(key, str):
                raise ValueError("each client needs an 'id' string")  # noqa: TRY004 - pydantic reports ValueError
            if key in clients:
                raise ValueError(f"client id {key!r} appears twice")
            clients[key] = item
        return clients
    return v


class OrcidClient(BaseModel):
    client_id: str
    client_secret: SecretStr
    name: str = ""
    premium: bool = False


def _seconds_list(v: Any) -> Any:
    """``"5,15,60"`` (the documented form of every schedule) or a JSON list."""
    if isinstance(v, str):
        v = v.strip()
        if v.startswith("["):
            return json.loads(v)
        return [float(part) for part in v.split(",") if part.strip()]
    return v


def _schedule(v: list[float]) -> list[float]:
    if not v or any(seconds < 0 for seconds in v):
        raise ValueError("needs at least one non-negative number of seconds")
    return v


#: A schedule in seconds, written ``5,15,60`` in the environment.
Seconds = Annotated[list[float], NoDecode]


class Section(BaseModel):
    """A group of settings read from ``PIDSYNC_<SECTION>_<FIELD>`` (e.g. the field
    ``batch_window_seconds`` of section ``crossref`` is ``PIDSYNC_CROSSREF_BATCH_WINDOW_SECONDS``).
    Unknown keys are other settings sharing the prefix (``PIDSYNC_CROSSREF_API_URL``)."""

    model_config = {"frozen": True, "extra": "ignore"}


class DoiSettings(Section):
    """How DOIs are chosen, retried, reconciled and guarded (``PIDSYNC_DOI_*``)."""

    # Empty template: 8 random Crockford base32 characters and a check character. A template
    # may use {random}, {id} (the work's id, made DOI-safe) and {year}.
    suffix_template: str | None = None
    # Transient failures (network, 5xx, 429): seconds before each retry, the last repeats.
    retry_backoff: Seconds = Field(
        default_factory=lambda: [5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0]
    )
    max_retries: int = Field(12, ge=1)
    # The sweep re-sends a change whose message is this late (seconds): a lost message.
    resend_grace_seconds: float = Field(120.0, ge=0)
    # Reconciliation: how often each confirmed DOI is read back, how many per sweep, how old a
    # confirmation must be first (Crossref's REST API indexes deposits with a delay), and how
    # often the sweep looks for due ones.
    reconcile_interval_seconds: float = Field(7 * 24 * 3600.0, gt=0)
    reconcile_batch: int = Field(200, ge=1)
    reconcile_min_age_seconds: float = Field(3600.0, ge=0)
    reconcile_sweep_seconds: float = Field(600.0, gt=0)
    # The duplicate guard (worker.pids.duplicates) before minting: off by default.
    duplicate_check: bool = False
    duplicate_threshold: float = Field(0.85, gt=0, le=1)  # the toolkit's calibrated default

    _list = field_validator("retry_backoff", mode="before")(_seconds_list)
    _check = field_validator("retry_backoff")(_schedule)

    @property
    def backoff(self) -> Backoff:
        return Backoff(tuple(self.retry_backoff), self.max_retries)


class DataciteSettings(Section):
    """DataCite's limit: 3,000 requests per 5 minutes per IP, shared by every process
    (``PIDSYNC_DATACITE_LIMIT_*``). pidsync uses ``share`` of it, with a small burst so that a
    moment without a sender ready does not lose its slot for good."""

    limit_count: int = Field(3000, ge=1)
    limit_window_seconds: float = Field(300.0, gt=0)
    limit_share: float = Field(0.99, gt=0, le=1)
    limit_burst: int = Field(30, ge=1)

    @property
    def limit(self) -> Limit:
        """A GCRA admits at most ``burst + rate x T`` requests in any interval ``T``: with
        ``rate = (count x share - burst) / window`` no window ever exceeds count x share."""
        allowed = self.limit_count * self.limit_share
        burst = max(1, min(self.limit_burst, int(allowed) // 10))
        rate = max(allowed - burst, allowed / 2) / self.limit_window_seconds
        return Limit("datacite", rate=rate, burst=burst)


class CrossrefSettings(Section):
    """Crossref deposits: batching, polling, staleness, pacing (``PIDSYNC_CROSSREF_*``)."""

    # Deposits arriving within the window for one account/prefix share one file.
    batch_window_seconds: float = Field(5.0, ge=0)
    batch_max_records: int = Field(100, ge=1)
    # Polling submissionDownload: seconds after the upload, then after each poll (last repeats).
    # Crossref usually processes a small file in seconds: start early, back off to an hour.
    poll_schedule: Seconds = Field(
        default_factory=lambda: [5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0]
    )
    # Crossref's notification callback (API_FACTS §3.4), the fast path; polling stays the
    # fallback. ``notify_url`` is the notify-url registered with Crossref: pidsync's public
    # ``.../webhooks/crossref/{secret}`` address, whose last path segment is the secret a
    # callback must present; deposits carry it too. ``notify_endpoint`` is the endpoint's
    # registered name, which Crossref sends in CROSSREF-NOTIFY-ENDPOINT. Both or neither.
    notify_url: SecretStr | None = None
    notify_endpoint: str | None = Field(None, min_length=1, max_length=200)
    stale_after_seconds: float = Field(24 * 3600.0, gt=0)
    # Crossref queues at most 10,000 pending submissions per user; stay well under.
    max_pending_submissions: int = Field(2000, ge=1)
    # Calls to the deposit servlet (uploads and polls) per second per account.
    requests_per_second: float = Field(5.0, gt=0)
    # Seconds to wait for the deposit servlet's answer (deposit files are large); never less
    # than http_timeout_seconds.
    deposit_timeout_seconds: float = Field(60.0, gt=0)
    # Calls to the REST API (search, reconciliation, the duplicate guard) per second; the
    # polite pool allows more, the public pool about this.
    rest_requests_per_second: float = Field(5.0, gt=0)

    _list = field_validator("poll_schedule", mode="before")(_seconds_list)
    _check = field_validator("poll_schedule")(_schedule)

    @field_validator("notify_url")
    @classmethod
    def _notify_url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        url = _require_https(v.get_secret_value(), "PIDSYNC_CROSSREF_NOTIFY_URL")
        secret = urlsplit(url).path.rstrip("/").rpartition("/")[2]
        if len(secret) < MIN_CALLBACK_SECRET:
            raise ValueError(
                "PIDSYNC_CROSSREF_NOTIFY_URL must end in a secret path segment of at least "
                f"{MIN_CALLBACK_SECRET} characters (.../webhooks/crossref/<secret>)"
            )
        return SecretStr(url)

    @model_validator(mode="after")
    def _notify_pair(self) -> CrossrefSettings:
        if (self.notify_url is None) != (self.notify_endpoint is None):
            raise ValueError(
                "PIDSYNC_CROSSREF_NOTIFY_URL and PIDSYNC_CROSSREF_NOTIFY_ENDPOINT go together"
            )
        return self

    @property
    def notify_secret(self) -> str | None:
        """The secret last path segment of the notify-url (None: callbacks are off)."""
        if self.notify_url is None:
            return None
        return urlsplit(self.notify_url.get_secret_value()).path.rstrip("/").rpartition("/")[2]

    @property
    def limit(self) -> Limit:
        burst = max(1, round(self.requests_per_second))
        return Limit("crossref", rate=self.requests_per_second, burst=burst)

    @property
    def rest_limit(self) -> Limit:
        burst = max(1, round(self.rest_requests_per_second))
        return Limit("crossref-rest", rate=self.rest_requests_per_second, burst=burst)

    def poll_delay(self, polls: int) -> float:
        """Seconds before poll number ``polls + 1`` (0 = the first poll after the upload)."""
        return self.poll_schedule[min(polls, len(self.poll_schedule) - 1)]


class OrcidSettings(Section):
    """How ORCID effects are retried and swept (``PIDSYNC_ORCID_*``)."""

    # Transient failures: seconds before each retry (the last repeats), and how many tries.
    retry_backoff: Seconds = Field(default_factory=lambda: [2.0, 10.0, 30.0, 120.0, 300.0])
    max_retries: int = Field(10, ge=1)
    # The sweep queues again a pending placement with no message sent for this long.
    resend_grace_seconds: float = Field(600.0, ge=0)
    # How long a worker waits for another's write to the same ORCID record to finish.
    record_lock_wait_seconds: float = Field(3.0, ge=0)
    # How often the scheduler looks for grants due for a token check (each grant is checked
    # every PIDSYNC_ORCID_TOKEN_CHECK_DAYS), and for webhooks to register or remove.
    token_check_sweep_seconds: float = Field(3600.0, gt=0)
    webhook_sweep_seconds: float = Field(600.0, gt=0)
    # How often expired consent requests (OAuth states) are purged.
    state_purge_sweep_seconds: float = Field(3600.0, gt=0)
    # A work whose DOI pidsync registers is placed with the DOI only once the agency confirmed
    # it. When the DOI fails for good (or is withdrawn): "place" the work without it (its
    # source-work-id only), or "skip" it (not placed). Either way a work already on a record
    # with that DOI is corrected: written again without it.
    without_doi: Literal["place", "skip"] = "place"
    # The member/public API limit every process shares (default: ORCID's published 24/s,
    # burst 40, with a margin: worker.ratelimit.ORCID). A setting so a benchmark against a
    # sandbox without limits measures pidsync, not the pacing (PIDSYNC_ORCID_LIMIT_RATE).
    limit_rate: float = Field(ORCID_LIMIT.rate, gt=0)
    # Calls to ORCID allowed at once before limit_rate paces them (PIDSYNC_ORCID_LIMIT_BURST).
    limit_burst: int = Field(ORCID_LIMIT.burst, ge=1)

    _list = field_validator("retry_backoff", mode="before")(_seconds_list)
    _check = field_validator("retry_backoff")(_schedule)

    @property
    def backoff(self) -> Backoff:
        return Backoff(tuple(self.retry_backoff), self.max_retries)

    @property
    def limit(self) -> Limit:
        return Limit(ORCID_LIMIT.name, rate=self.limit_rate, burst=self.limit_burst)


class EventsSettings(Section):
    """The inbox (``PIDSYNC_EVENTS_*``)."""

    # The sweep re-sends an event still open this long after its message was sent.
    resend_grace_seconds: float = Field(60.0, ge=0)
    # Transient failures while processing (e.g. enrichment's resolver timing out).
    retry_backoff: Seconds = Field(default_factory=lambda: [5.0, 30.0, 120.0, 600.0])
    max_retries: int = Field(8, ge=1)

    _list = field_validator("retry_backoff", mode="before")(_seconds_list)
    _check = field_validator("retry_backoff")(_schedule)

    @property
    def backoff(self) -> Backoff:
        return Backoff(tuple(self.retry_backoff), self.max_retries)


class NotifySettings(Section):
    """Outbound webhooks (``PIDSYNC_NOTIFY_*``; the URLs are ``PIDSYNC_NOTIFY_URLS``)."""

    retry_backoff: Seconds = Field(
        default_factory=lambda: [5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 10800.0]
    )
    max_attempts: int = Field(8, ge=1)
    timeout_seconds: float = Field(10.0, gt=0)
    # The sweep sends a webhook again when it is still pending this long after it was due
    # (its delivery message was lost).
    resend_grace_seconds: float = Field(300.0, ge=0)

    _list = field_validator("retry_backoff", mode="before")(_seconds_list)
    _check = field_validator("retry_backoff")(_schedule)

    @property
    def backoff(self) -> Backoff:
        return Backoff(tuple(self.retry_backoff), self.max_attempts)


class EmitSettings(Section):
    """How ``pidsync emit`` and ``pidsync status`` reach and sign for a pidsync web process
    (``PIDSYNC_EMIT_URL``, ``PIDSYNC_EMIT_CLIENT``, ``PIDSYNC_EMIT_SECRET``)."""

    url: str = "http://127.0.0.1:8000"
    client: str | None = None
    secret: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _https(cls, v: str) -> str:
        return _require_https(v, "PIDSYNC_EMIT_URL")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OpsUser(BaseModel):
    """One person who may log in to the dashboard: a name and an argon2 hash of the password
    (``pidsync ops hash-password`` makes one); the password itself is never configured."""

    model_config = {"frozen": True, "extra": "forbid"}

    name: str = Field(min_length=1, max_length=200)
    password_hash: SecretStr

    @field_validator("password_hash")
    @classmethod
    def _argon2(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().startswith("$argon2"):
            raise ValueError("expected an argon2 hash (pidsync ops hash-password makes one)")
        return v


class DashboardSettings(Section):
    """Who may use the ops dashboard ``/ops`` and what it calls stale (``PIDSYNC_DASHBOARD_*``).

    With neither users nor a proxy header (nor PIDSYNC_OPS_CREDENTIAL) nobody can log in: the
    dashboard is never open by default (DESIGN.md §7)."""

    # JSON list [{"name", "password_hash"}] of people who log in with a password.
    users: Annotated[list[OpsUser], NoDecode] = Field(default_factory=list)
    # A reverse proxy that authenticates people (SSO) names them in this header; it is believed
    # only from trusted_proxies (addresses or networks, comma-separated), never from anyone else.
    proxy_header: str | None = None
    # The proxies' addresses or networks (comma-separated) whose proxy_header is believed.
    trusted_proxies: Annotated[list[Network], NoDecode] = Field(default_factory=list)
    # Signs the dashboard's session cookie; every web process of one site needs the same one.
    # Unset: a random key per process (logins then last until the process restarts).
    session_secret: SecretStr | None = None
    # How long a dashboard login lasts before the person logs in again.
    session_hours: float = Field(8.0, gt=0, le=24 * 14)
    # A row waiting longer than this for its next step (an event not handled, a DOI change
    # unconfirmed, a placement not written) is listed as stale.
    stale_after_seconds: float = Field(3600.0, gt=0)
    # Rows per dashboard page and per ``pidsync works list`` by default.
    page_size: int = Field(50, ge=1, le=1000)
    # Login attempts per remote address, shared by every web process (Redis): on average this
    # many a minute, with bursts of login_burst; beyond, 429 with Retry-After (password guessing).
    login_per_minute: float = Field(6.0, gt=0)
    # Login attempts allowed at once before the per-minute pace applies.
    login_burst: int = Field(5, ge=1)

    @property
    def login_limit(self) -> Limit:
        return Limit("ops-login", rate=self.login_per_minute / 60, burst=self.login_burst)

    @field_validator("users", mode="before")
    @classmethod
    def _parse_users(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                return json.loads(v) if v.strip() else []
            except json.JSONDecodeError as exc:
                raise ValueError(f"expected JSON [{{name, password_hash}}]: {exc.msg}") from exc
        return v

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [item.strip() for item in v.split(",") if item.strip()]
        if isinstance(v, list):
            try:
                return [ipaddress.ip_network(str(item), strict=False) for item in v]
            except ValueError as exc:
                raise ValueError(f"expected addresses or networks: {exc}") from exc
        return v

    @field_validator("proxy_header")
    @classmethod
    def _header(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9-]{1,100}", v):
            raise ValueError("expected an HTTP header name (letters, digits, dashes)")
        return v or None

    @field_validator("session_secret")
    @classmethod
    def _long_secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 32:
            raise ValueError("a session secret needs at least 32 characters")
        return v

    @model_validator(mode="after")
    def _proxy_needs_trust(self) -> DashboardSettings:
        if self.proxy_header and not self.trusted_proxies:
            raise ValueError(
                "PIDSYNC_DASHBOARD_PROXY_HEADER needs PIDSYNC_DASHBOARD_TRUSTED_PROXIES (the "
                "proxies' addresses): a header anyone can send is no login"
            )
        return self


class SearchSettings(Section):
    """Read-only HTTP: registry search, content negotiation, the Crossref REST reads of
    reconciliation and the duplicate guard (``PIDSYNC_SEARCH_*``; worker.pids.readonly)."""

    # urllib3 retries of a GET answered 429/500/502/503/504 or whose connection failed, after
    # the Retry-After the service named, else after 0, 2, 4, ... x the backoff factor seconds.
    retries: int = Field(3, ge=0)
    retry_backoff_factor: float = Field(0.5, ge=0)
    # A Retry-After longer than this is not waited for within the request: the answer goes
    # back as a ServerError carrying it (the CLI says so; a service retries later).
    retry_after_max_seconds: float = Field(10.0, ge=0)
    # doi.org reads per second, shared by every process: doi.org's content negotiation allows
    # about 1,000 requests per 5 minutes per client (API_FACTS.md §2.1), 3.3/s.
    resolver_requests_per_second: float = Field(3.0, gt=0)

    @property
    def resolver_limit(self) -> Limit:
        burst = max(1, round(self.resolver_requests_per_second))
        return Limit("doi-resolver", rate=self.resolver_requests_per_second, burst=burst)


class Settings(BaseSettings):
    """All of pidsync's configuration. Field ``x`` is the variable ``PIDSYNC_X``."""

    model_config = SettingsConfigDict(
        env_prefix="PIDSYNC_",
        env_file=os.environ.get("PIDSYNC_ENV_FILE", ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        # Sections read flat names: PIDSYNC_CROSSREF_POLL_SCHEDULE is crossref.poll_schedule.
        env_nested_delimiter="_",
        env_nested_max_split=1,
    )

    env: Literal["development", "production", "test"] = "development"
    log_format: Literal["console", "json"] | None = None
    log_level: str = "INFO"
    data_dir: Path = Field(default_factory=lambda: Path.home() / ".local" / "share" / "pidsync")

    # Infrastructure. Empty = the embedded PostgreSQL / Redis under data_dir.
    database_url: str | None = None
    redis_url: str | None = None
    broker_url: str | None = None  # default: redis_url; amqp:// selects RabbitMQ

    # Intake clients (tenants): a JSON list [{"id", "secrets", "sources", "types"?,
    # "datacite_accounts"?, "crossref_accounts"?, "orcid_clients"?, "notify_url"?}], or the
    # short form "id:secret" for a single client owning every source (DESIGN.md §7).
    intake_clients: Annotated[dict[str, IntakeClient], NoDecode] = Field(default_factory=dict)
    max_body_bytes: int = 5 * 1024 * 1024
    # Events one intake request may carry (a batch); more -> 413 naming the limit.
    max_batch_events: int = Field(1000, ge=1, le=10000)
    signature_tolerance_seconds: int = 300

    # Token encryption keys: comma-separated Fernet keys, newest first.
    token_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    # Outside services (production defaults; the sandbox prints the env that points here).
    orcid_oauth_url: str = "https://orcid.org"
    orcid_api_url: str = "https://api.orcid.org"
    orcid_public_url: str = "https://pub.orcid.org"
    orcid_client_id: str | None = None
    orcid_client_secret: SecretStr | None = None
    orcid_clients: list[OrcidClient] = Field(default_factory=list)  # JSON, for several clients
    # ORCID consent (GET /orcid/connect, /orcid/callback), webhooks and notifications.
    # The redirect URI registered with ORCID; unset = this request's own /orcid/callback URL.
    orcid_callback_url: str | None = None
    # Where /orcid/connect may send the browser back: URL prefixes, comma-separated.
    orcid_return_to_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    orcid_state_ttl_seconds: int = 900  # a consent request must finish within this
    # A used consent request (its outcome) is kept this long after it expired, then purged;
    # unused expired ones are purged at once.
    orcid_state_retention_days: float = Field(30.0, ge=0)
    # /orcid/connect per remote address, shared by every web process (Redis): on average this
    # many a minute, with bursts of orcid_connect_burst; beyond, 429 with Retry-After.
    orcid_connect_per_minute: float = Field(20.0, gt=0)
    orcid_connect_burst: int = Field(10, ge=1)
    orcid_invite_ttl_days: int = 60  # re-authorisation links sent in ORCID notifications
    # Public base URL ORCID can POST webhooks to; unset = no webhooks (premium clients only).
    orcid_webhook_base_url: str | None = None
    # Send a permission notification asking a researcher who revoked to authorise again.
    orcid_premium_notifications: bool = False
    orcid_token_check_days: float = 7.0  # each active grant's token is tried this often
    # Propose ORCID iDs for contributors without one (reported to the emitting system only).
    orcid_suggest_ids: bool = False

    datacite_url: str = "https://api.test.datacite.org"
    datacite_repository_id: str | None = None
    datacite_password: SecretStr | None = None
    datacite_prefix: str | None = None
    datacite_accounts: list[DataCiteAccount] = Field(default_factory=list)  # JSON, extra accounts

    crossref_deposit_url: str = "https://test.crossref.org"
    crossref_api_url: str = "https://api.crossref.org"
    crossref_login_id: str | None = None
    crossref_password: SecretStr | None = None
    crossref_prefix: str | None = None
    crossref_depositor_name: str = "pidsync"
    crossref_depositor_email: str = "pidsync@example.org"
    crossref_registrant: str = "pidsync"
    crossref_mailto: str | None = None
    crossref_accounts: list[CrossrefAccount] = Field(default_factory=list)

    doi_resolver_url: str = "https://doi.org"
    http_timeout_seconds: float = 30.0
    # The whole of one outbound HTTP call (http_timeout_seconds bounds each read): an answer
    # still arriving after this is cut off, a transient error, so an agency trickling bytes
    # cannot hold a worker thread (and the rows its transaction locked).
    http_deadline_seconds: float = Field(90.0, gt=0)
    # The largest answer body read from an agency; a longer one is cut off (transient error).
    http_max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    # Hosts content negotiation and enrichment follow redirects to (https only, and only when
    # each address they resolve to is public), comma-separated. When doi_resolver_url is a
    # loopback URL (the sandbox), redirects to that same origin are followed too.
    redirect_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_REDIRECT_HOSTS)
    )

    # Operators' credential for /docs, /redoc, /openapi.json and /metrics in production
    # (elsewhere they are open): a bearer token, or "user:<sha256 hex of the password>" for
    # basic auth. Unset in production = those routes answer 404.
    ops_credential: SecretStr | None = None

    # Prometheus endpoints of the processes without a web app (the web serves /metrics): the
    # worker's (all its dramatiq processes, one endpoint) and the scheduler's; 0 = none. They
    # carry no secret, only counts; bind them to a private interface (0.0.0.0 in a container).
    worker_metrics_port: int = Field(9191, ge=0, le=65535)
    # The scheduler's own metrics endpoint (its leader gauge, job runs); 0 = none.
    scheduler_metrics_port: int = Field(9192, ge=0, le=65535)
    # The interface the worker's and scheduler's metrics endpoints bind to.
    metrics_host: str = "127.0.0.1"

    # Outbound webhooks to the emitting systems: "client-a=https://...,client-b=https://...".
    notify_urls: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    # Worker behaviour. ``max_retries`` bounds dramatiq's own retries, which cover only what a
    # service could not record on its row (the database or broker lost mid-message).
    max_retries: int = Field(8, ge=0)
    message_time_limit_seconds: int = Field(300, gt=0)
    # A pooled database connection idle this many seconds is tested before its next use (a
    # restart or a firewall may have dropped it); a busy one is not, which saves a round trip
    # per unit of work. 0: test before every use.
    database_ping_after_idle: float = Field(5.0, ge=0)
    # Server-side limits on every pidsync database session (0: none). A wait for a row lock
    # ends with an error after database_lock_timeout_seconds, and the message is retried with
    # backoff; below the events' 120 s time limit, above the longest HTTP call made while a row
    # is locked (http_deadline_seconds).
    database_lock_timeout_seconds: float = Field(100.0, ge=0)
    # PostgreSQL ends a session left idle inside a transaction this long (a thread killed
    # between two statements), which frees its locks; above http_deadline_seconds plus
    # http_timeout_seconds, the longest a transaction may wait on one HTTP call.
    database_idle_in_transaction_timeout_seconds: float = Field(240.0, ge=0)
    sweep_interval_seconds: float = Field(30.0, gt=0)
    # When the leading scheduler's host goes silent, a standby scheduler leads after about this
    # long (Postgres drops the silent session and its lock; a killed process's lock goes at once).
    scheduler_lock_timeout_seconds: float = Field(30.0, ge=6)
    # Rows a sweep handles per run; each in its own transaction.
    sweep_batch: int = Field(500, ge=1)
    # How long a sweep waits for a lock another process holds before it leaves that row to
    # its next run and goes on with the others (0: database_lock_timeout_seconds).
    sweep_lock_timeout_seconds: float = Field(2.0, ge=0)
    # Error text kept on a row (last_error) and in outcomes; longer text is cut.
    error_text_chars: int = Field(2000, ge=80)

    # Sections, each read from PIDSYNC_<SECTION>_<FIELD>.
    doi: DoiSettings = Field(default_factory=DoiSettings)
    datacite: DataciteSettings = Field(default_factory=DataciteSettings)
    crossref: CrossrefSettings = Field(default_factory=CrossrefSettings)
    orcid: OrcidSettings = Field(default_factory=OrcidSettings)
    events: EventsSettings = Field(default_factory=EventsSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    emit: EmitSettings = Field(default_factory=EmitSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)

    @field_validator("intake_clients", mode="before")
    @classmethod
    def _parse_clients(cls, v: Any) -> Any:
        return _intake_clients(v)

    @field_validator("notify_urls", mode="before")
    @classmethod
    def _parse_notify(cls, v: Any) -> Any:
        if isinstance(v, str):
            pairs = _parse_pairs(v, "PIDSYNC_NOTIFY_URLS", sep="=")
            for url in pairs.values():
                _require_https(url, "PIDSYNC_NOTIFY_URLS")
            return pairs
        return v

    @field_validator("orcid_return_to_allowlist", mode="before")
    @classmethod
    def _parse_allowlist(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [item.strip() for item in v.split(",") if item.strip()]
        if isinstance(v, list):
            for url in v:
                _require_https(str(url), "PIDSYNC_ORCID_RETURN_TO_ALLOWLIST")
        return v

    @field_validator("orcid_callback_url", "orcid_webhook_base_url")
    @classmethod
    def _orcid_urls(cls, v: str | None, info: Any) -> str | None:
        return _require_https(v, f"PIDSYNC_{info.field_name.upper()}") if v else None

    @field_validator("redirect_hosts", mode="before")
    @classmethod
    def _parse_hosts(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [item.strip() for item in v.split(",") if item.strip()]
        if isinstance(v, list):
            hosts = [str(item).strip().rstrip(".").lower() for item in v]
            for host in hosts:
                if not host or any(ch in host for ch in "/:@ ") or "*" in host:
                    raise ValueError(f"expected host names separated by commas: {host!r}")
            return hosts
        return v

    @field_validator("ops_credential")
    @classmethod
    def _ops_credential(cls, v: SecretStr | None) -> SecretStr | None:
        if v is None or not v.get_secret_value():
            return None
        value = v.get_secret_value()
        user, colon, digest = value.partition(":")
        if colon and not (user and len(digest) == 64 and _is_hex(digest)):
            raise ValueError("expected a bearer token, or user:<sha256 hex of the password>")
        if not colon and len(value) < 32:
            raise ValueError("a bearer token needs at least 32 characters")
        return v

    @field_validator("token_keys", mode="before")
    @classmethod
    def _parse_keys(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [k.strip() for k in v.split(",") if k.strip()]
        if isinstance(v, list):
            for number, key in enumerate(v, start=1):
                raw = key.get_secret_value() if isinstance(key, SecretStr) else str(key)
                if not _fernet_key(raw):
                    # Never the key itself in the message: it is a secret even when malformed.
                    raise ValueError(
                        f"key {number} is not a Fernet key (32 url-safe base64-encoded bytes;"
                        " make one with `pidsync tokens new-key`)"
                    )
        return v

    @field_validator(
        "orcid_oauth_url",
        "orcid_api_url",
        "orcid_public_url",
        "datacite_url",
        "crossref_deposit_url",
        "crossref_api_url",
        "doi_resolver_url",
    )
    @classmethod
    def _urls(cls, v: str, info: Any) -> str:
        return _require_https(v, f"PIDSYNC_{info.field_name.upper()}")

    @field_validator("database_url", "redis_url", "broker_url")
    @classmethod
    def _empty_is_none(cls, v: str | None) -> str | None:
        return v or None

    @model_validator(mode="after")
    def _dashboard_sessions(self) -> Settings:
        # Several web processes must share the key that signs the dashboard's cookie, else a
        # login works on one process and not the next (a random key is per process).
        if self.env == "production" and self.dashboard.users and not self.dashboard.session_secret:
            raise ValueError(
                "PIDSYNC_DASHBOARD_SESSION_SECRET is required in production when "
                "PIDSYNC_DASHBOARD_USERS is set (every web process signs cookies with it)"
            )
        return self

    # --- derived views -------------------------------------------------------------------

    @property
    def orcid_connect_limit(self) -> Limit:
        return Limit(
            "orcid-connect", rate=self.orcid_connect_per_minute / 60, burst=self.orcid_connect_burst
        )

    @property
    def log_renderer(self) -> Literal["console", "json"]:
        if self.log_format:
            return self.log_format
        return "json" if self.env == "production" else "console"

    def datacite_account_list(self) -> list[DataCiteAccount]:
        """The default account (from the single-account variables) first, then the extras."""
        accounts = []
        if self.datacite_repository_id and self.datacite_password and self.datacite_prefix:
            accounts.append(
                DataCiteAccount(
                    url=self.datacite_url,
                    repository_id=self.datacite_repository_id,
                    password=self.datacite_password,
                    prefixes=[self.datacite_prefix],
                )
            )
        return accounts + list(self.datacite_accounts)

    def crossref_account_list(self) -> list[CrossrefAccount]:
        accounts = []
        if self.crossref_login_id and self.crossref_password and self.crossref_prefix:
            accounts.append(
                CrossrefAccount(
                    deposit_url=self.crossref_deposit_url,
                    login_id=self.crossref_login_id,
                    password=self.crossref_password,
                    prefixes=[self.crossref_prefix],
                    depositor_name=self.crossref_depositor_name,
                    depositor_email=self.crossref_depositor_email,
                    registrant=self.crossref_registrant,
                )
            )
        return accounts + list(self.crossref_accounts)

    def notify_url_for(self, client_id: str) -> str | None:
        """Where a client's webhooks go: its ``notify_url``, else PIDSYNC_NOTIFY_URLS."""
        client = self.intake_clients.get(client_id)
        if client is not None and client.notify_url:
            return client.notify_url
        return self.notify_urls.get(client_id)

    def orcid_versions_for(self, client_id: str | None) -> str:
        """The intake client's ``orcid_versions`` ("each" for unknown or no client)."""
        client = self.intake_clients.get(client_id) if client_id else None
        return client.orcid_versions if client is not None else "each"

    def orcid_client_list(self) -> list[OrcidClient]:
        clients = []
        if self.orcid_client_id and self.orcid_client_secret:
            clients.append(
                OrcidClient(client_id=self.orcid_client_id, client_secret=self.orcid_client_secret)
            )
        return clients + [c for c in self.orcid_clients if c.client_id != self.orcid_client_id]


def _fernet_key(text: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(text.encode("ascii"))) == 32 and len(text) == 44
    except (ValueError, UnicodeEncodeError):
        return False


def _is_hex(text: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF" for ch in text)


def _parse_pairs(raw: str, name: str, *, sep: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for raw_item in raw.split(","):
        item = raw_item.strip()
        if not item:
            continue
        key, found, value = item.partition(sep)
        if not found or not key.strip() or not value.strip():
            raise ValueError(f"{name}: expected 'id{sep}value' pairs separated by commas")
        pairs[key.strip()] = value.strip()
    return pairs


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the configuration, or raise ConfigError naming each bad variable."""
    # The env file is chosen now, not when this module was imported: PIDSYNC_ENV_FILE set by a
    # wrapper (or a test's CliRunner) after import must still be the file read.
    overrides.setdefault("_env_file", os.environ.get("PIDSYNC_ENV_FILE", ".env"))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = "_".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"PIDSYNC_{field.upper()}: {message}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def dump_json(settings: Settings) -> str:
    """The configuration with secrets masked, for `pidsync config`."""
    return json.dumps(json.loads(settings.model_dump_json()), indent=2, default=str)
