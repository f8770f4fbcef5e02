"""The composition root: everything a pidsync process needs, built once at boot.

Every process (web, worker, scheduler, demo, CLI commands that need state) boots through
:func:`boot`, so they all run the same code paths; only the URLs differ. :func:`compose` builds
the clients every service needs (registrars, ORCID, the resolver, outbound webhooks, the shared
rate limiter and call recorder) from settings, database and Redis; tests call it directly.

Only entry points read the process's :class:`Runtime` (actors, web routes, CLI commands, the
scheduler, the demo); they pass what a service needs as arguments. Nothing here imports an
actor module: the worker process imports :mod:`worker.actors` itself, and every other process
sends messages by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import dramatiq
import redis
from sqlalchemy.orm import Session

from worker.broker import build_broker, init_broker
from worker.config import ConfigError, Settings, load_settings
from worker.db import Database
from worker.embedded import EmbeddedServers, ensure_servers
from worker.http import DatabaseRecorder, Recorder, set_limits
from worker.logging import configure_logging, redact_text, register_secret
from worker.metrics.transitions import install as install_metrics
from worker.notify.client import WebhookClient
from worker.ops.dead_letters import record_dead_letter
from worker.orcid.deps import OrcidDeps
from worker.orcid.deps import build as build_orcid
from worker.orcid.tokens import TokenCipher, TokenKeyError, load_keys
from worker.pids.negotiation import Negotiator
from worker.ratelimit import RateLimiter
from worker.registrars.deps import RegistrarDeps
from worker.registrars.deps import build as build_registrars


class BootError(Exception):
    """A dependency is unreachable or misconfigured; the message is one line naming it."""


@dataclass
class Runtime:
    """What one process has: configuration, servers, and the clients services take."""

    settings: Settings
    database: Database
    broker: dramatiq.Broker
    cipher: TokenCipher
    redis: Any
    limiter: RateLimiter
    recorder: Recorder
    registrars: RegistrarDeps
    orcid: OrcidDeps
    negotiator: Negotiator
    webhooks: WebhookClient
    database_url: str
    broker_url: str
    servers: EmbeddedServers

    @contextmanager
    def session(self) -> Iterator[Session]:
        """The unit of work on this process's database: commit on success, else roll back."""
        with self.database.session() as session:
            yield session

    def close(self) -> None:
        self.registrars.close()
        self.redis.close()


def compose(
    settings: Settings,
    database: Database,
    broker: dramatiq.Broker,
    cipher: TokenCipher,
    *,
    redis_url: str,
    database_url: str,
    broker_url: str | None = None,
    servers: EmbeddedServers | None = None,
) -> Runtime:
    """Build every client the services take, over the given parts (no connection is opened:
    HTTP sessions connect on first use)."""
    # Outcomes and latencies are counted from committed state changes, in every process.
    install_metrics()
    # Every outbound call of this process is cut off at these (an agency trickling an answer
    # must not hold a worker thread, nor the rows its transaction locked).
    set_limits(settings.http_deadline_seconds, settings.http_max_body_bytes)
    redis_client = redis.Redis.from_url(redis_url)
    limiter = RateLimiter(redis_client)
    recorder = DatabaseRecorder(database)
    return Runtime(
        settings=settings,
        database=database,
        broker=broker,
        cipher=cipher,
        redis=redis_client,
        limiter=limiter,
        recorder=recorder,
        registrars=build_registrars(settings, limiter=limiter, recorder=recorder),
        orcid=build_orcid(
            settings,
            cipher,
            redis_client,
            recorder=recorder,
            lock_wait=settings.orcid.record_lock_wait_seconds,
        ),
        negotiator=Negotiator.from_settings(settings, limiter=limiter, recorder=recorder),
        webhooks=WebhookClient("", timeout=settings.notify.timeout_seconds, recorder=recorder),
        database_url=database_url,
        broker_url=broker_url or redis_url,
        servers=servers or EmbeddedServers(database_url, redis_url),
    )


def describe(url: str) -> str:
    """A URL fit for an error message: no password, socket paths kept."""
    parts = urlsplit(url)
    if parts.password:
        url = url.replace(f":{parts.password}@", ":***@")
    return redact_text(url)


def _ping_broker(broker: dramatiq.Broker, url: str) -> None:
    client: Any = getattr(broker, "client", None)
    try:
        if client is not None:
            client.ping()
        else:
            broker.get_declared_queues()
            getattr(broker, "connection", None)
    except Exception as exc:
        raise BootError(f"broker unreachable at {describe(url)}: {exc}") from None


def production_problems(settings: Settings) -> list[str]:
    """What a production process must not start without, each naming its variable."""
    if settings.env != "production":
        return []
    problems = []
    if not settings.intake_clients:
        problems.append("PIDSYNC_INTAKE_CLIENTS is empty: no client could send an event")
    if not settings.token_keys:
        # Without it each host would generate its own key and not read the others' tokens.
        problems.append(
            "PIDSYNC_TOKEN_KEYS is empty: every host needs the same keys"
            " (make one with `pidsync tokens new-key`)"
        )
    return problems


def check_production(settings: Settings) -> None:
    """Raise ConfigError (one line) when a production process lacks what it needs."""
    problems = production_problems(settings)
    if problems:
        raise ConfigError("PIDSYNC_ENV=production: " + "; ".join(problems))


def _register_configured_secrets(settings: Settings) -> None:
    for tenant in settings.intake_clients.values():
        for secret in tenant.secrets:
            register_secret(secret.get_secret_value())
    if settings.emit.secret is not None:
        register_secret(settings.emit.secret.get_secret_value())
    for key in settings.token_keys:
        register_secret(key.get_secret_value())
    for account in settings.datacite_account_list():
        register_secret(account.password.get_secret_value())
    for crossref in settings.crossref_account_list():
        register_secret(crossref.password.get_secret_value())
    for client in settings.orcid_client_list():
        register_secret(client.client_secret.get_secret_value())
    if settings.crossref.notify_secret:  # the path of Crossref's callback, in access logs
        register_secret(settings.crossref.notify_secret)


_runtime: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    """Make ``runtime`` the process's (what its entry points read)."""
    global _runtime  # noqa: PLW0603 - one runtime per process, set at boot
    _runtime = runtime


def runtime() -> Runtime:
    """The process's runtime, for entry points only (actors, routes, CLI, scheduler)."""
    if _runtime is None:
        raise RuntimeError("pidsync is not booted in this process: call worker.bootstrap.boot()")
    return _runtime


def boot(settings: Settings | None = None, *, migrate: bool | None = None) -> Runtime:
    """Bring up everything a pidsync process needs, or raise ConfigError / BootError with
    one line."""
    settings = settings or load_settings()
    check_production(settings)
    configure_logging(settings.log_level, settings.log_renderer)
    _register_configured_secrets(settings)
    try:
        servers = ensure_servers(
            settings.data_dir, database_url=settings.database_url, redis_url=settings.redis_url
        )
    except Exception as exc:
        raise BootError(str(exc)) from None
    if servers.database_url is None or servers.redis_url is None:
        raise BootError("the embedded PostgreSQL or Redis did not report its URL")
    database = Database(
        servers.database_url,
        ping_after_idle=settings.database_ping_after_idle,
        lock_timeout=settings.database_lock_timeout_seconds,
        idle_in_transaction_timeout=settings.database_idle_in_transaction_timeout_seconds,
    )
    try:
        database.ping()
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BootError(
            f"PostgreSQL unreachable at {describe(servers.database_url)}: {first}"
        ) from None
    # An embedded database is ours to keep at head; a configured one migrates at release.
    if migrate if migrate is not None else settings.database_url is None:
        from worker.migrate import upgrade

        upgrade(servers.database_url)

    broker_url = settings.broker_url or servers.redis_url
    try:
        broker = build_broker(
            broker_url,
            record_dead_letter=partial(record_dead_letter, database),
            deliveries_url=servers.redis_url,
        )
    except Exception as exc:
        raise BootError(f"broker unreachable at {describe(broker_url)}: {exc}") from None
    _ping_broker(broker, broker_url)
    init_broker(broker, max_retries=settings.max_retries)

    try:
        keys = load_keys([k.get_secret_value() for k in settings.token_keys], settings.data_dir)
        cipher = TokenCipher(keys)
    except (ValueError, TokenKeyError) as exc:
        raise ConfigError(f"PIDSYNC_TOKEN_KEYS: not usable Fernet keys ({exc})") from None
    rt = compose(
        settings,
        database,
        broker,
        cipher,
        redis_url=servers.redis_url,
        database_url=servers.database_url,
        broker_url=broker_url,
        servers=servers,
    )
    set_runtime(rt)
    return rt
