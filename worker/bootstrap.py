"""Process boot: configuration, logging, servers (embedded or configured), database, broker.

Every process (web, worker, scheduler, demo, CLI commands that need state) boots through
:func:`boot`, so they all run the same code paths; only the URLs differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dramatiq

from worker.broker import build_broker, init_broker
from worker.config import Settings, load_settings
from worker.db import Database, set_database
from worker.embedded import EmbeddedServers, ensure_servers
from worker.logging import configure_logging, redact_text, register_secret
from worker.orcid.tokens import TokenCipher, load_keys


class BootError(Exception):
    """A dependency is unreachable or misconfigured; the message is one line naming it."""


@dataclass
class Runtime:
    settings: Settings
    database: Database
    broker: dramatiq.Broker
    cipher: TokenCipher
    database_url: str
    broker_url: str
    servers: EmbeddedServers


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


def _register_configured_secrets(settings: Settings) -> None:
    for secret in settings.intake_clients.values():
        register_secret(secret.get_secret_value())
    for key in settings.token_keys:
        register_secret(key.get_secret_value())
    for account in settings.datacite_account_list():
        register_secret(account.password.get_secret_value())
    for crossref in settings.crossref_account_list():
        register_secret(crossref.password.get_secret_value())
    for client in settings.orcid_client_list():
        register_secret(client.client_secret.get_secret_value())


_runtime: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    """Make ``runtime`` the process's (actors read settings, cipher and clients from it)."""
    global _runtime  # noqa: PLW0603 - one runtime per process, set at boot
    _runtime = runtime


def current_runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("pidsync is not booted in this process: call worker.bootstrap.boot()")
    return _runtime


def boot(settings: Settings | None = None, *, migrate: bool | None = None) -> Runtime:
    """Bring up everything a pidsync process needs, or raise BootError with one line."""
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_renderer)
    _register_configured_secrets(settings)
    try:
        servers = ensure_servers(
            settings.data_dir, database_url=settings.database_url, redis_url=settings.redis_url
        )
    except Exception as exc:
        raise BootError(str(exc)) from None
    assert servers.database_url is not None
    assert servers.redis_url is not None
    database = Database(servers.database_url)
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
    set_database(database)

    from worker.ops.dead_letters import record_dead_letter

    broker_url = settings.broker_url or servers.redis_url
    try:
        broker = build_broker(broker_url, record_dead_letter=record_dead_letter)
    except Exception as exc:
        raise BootError(f"broker unreachable at {describe(broker_url)}: {exc}") from None
    _ping_broker(broker, broker_url)
    init_broker(broker, max_retries=settings.max_retries)
    import worker.actors  # noqa: F401 - declares every actor on the broker

    cipher = TokenCipher(
        load_keys([k.get_secret_value() for k in settings.token_keys], settings.data_dir)
    )
    runtime = Runtime(settings, database, broker, cipher, servers.database_url, broker_url, servers)
    set_runtime(runtime)
    return runtime
