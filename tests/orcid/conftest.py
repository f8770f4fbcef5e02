"""ORCID tests run against the sandbox's ORCID over real HTTP, with real Postgres and Redis.

``settings`` here points pidsync at the sandbox (one premium member client, the sandbox's
first; ``two_clients`` adds the second). ``deps`` are the ORCID services' dependencies for the
rolled-back ``session``; ``committed_deps`` for tests that cross threads and processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import INTAKE_SECRET, TOKEN_KEY
from worker.config import OrcidClient, Settings
from worker.http import DatabaseRecorder
from worker.orcid.deps import OrcidDeps, build
from worker.sandbox.server import Sandbox

RETURN_TO = "https://cris.example.edu/after"
CALLBACK = "http://127.0.0.1:8000/orcid/callback"


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The root sandbox, with ORCID's webhook batching shortened for tests."""
    sandbox_server.reset()
    sandbox_server.control("POST", "/orcid/settings", {"webhook_delay": 0.05})
    yield sandbox_server
    sandbox_server.reset()


def sandbox_clients(sandbox: Sandbox) -> list[OrcidClient]:
    return [
        OrcidClient(
            client_id=account.client_id,
            client_secret=account.client_secret,
            name=account.name,
            premium=True,
        )
        for account in sandbox.ctx.accounts.orcid_clients
    ]


def orcid_settings(sandbox: Sandbox, tmp_path: Any, **overrides: Any) -> Settings:
    info = sandbox.info()
    values: dict[str, Any] = {
        "_env_file": None,
        "env": "test",
        "data_dir": tmp_path,
        "intake_clients": {"cris": INTAKE_SECRET},
        "token_keys": [TOKEN_KEY],
        "orcid_oauth_url": info["orcid_oauth_url"],
        "orcid_api_url": info["orcid_api_url"],
        "orcid_public_url": info["orcid_public_url"],
        "orcid_clients": sandbox_clients(sandbox)[:1],
        "orcid_callback_url": CALLBACK,
        "orcid_return_to_allowlist": [RETURN_TO],
        "max_retries": 3,
        "orcid": {"max_retries": 4},
    }
    values.update(overrides)
    return Settings(**values)


def with_registrars(sandbox: Sandbox, tmp_path: Any, **overrides: Any) -> Settings:
    """ORCID at the sandbox as above, and the sandbox's DataCite and Crossref accounts, with
    fast registrar pacing (for tests that follow a DOI from its agency to ORCID)."""
    info = sandbox.info()
    return orcid_settings(
        sandbox,
        tmp_path,
        datacite_url=info["datacite_api_url"],
        datacite_repository_id=info["datacite_repository_id"],
        datacite_password=info["datacite_password"],
        datacite_prefix=info["datacite_prefix"],
        crossref_deposit_url=info["crossref_deposit_url"],
        crossref_api_url=info["crossref_api_url"],
        crossref_login_id=info["crossref_login_id"],
        crossref_password=info["crossref_password"],
        crossref_prefix=info["crossref_prefix"],
        doi={"retry_backoff": [0.01], "reconcile_min_age_seconds": 0},
        datacite={"limit_count": 1_000_000},
        crossref={"batch_window_seconds": 0, "poll_schedule": [0.05], "requests_per_second": 1000},
        **overrides,
    )


@pytest.fixture
def settings(sandbox: Sandbox, tmp_path: Any) -> Settings:
    return orcid_settings(sandbox, tmp_path)


@pytest.fixture
def deps(settings: Settings, cipher: Any, redis_client: Any, database: Any) -> OrcidDeps:
    return build(settings, cipher, redis_client, recorder=DatabaseRecorder(database))


@pytest.fixture
def committed_deps(
    settings: Settings, cipher: Any, redis_client: Any, committed_database: Any
) -> OrcidDeps:
    return build(settings, cipher, redis_client, recorder=DatabaseRecorder(committed_database))


@pytest.fixture(autouse=True)
def _event_context(settings: Settings, cipher: Any, redis_client: Any) -> Iterator[None]:
    """Events in these tests are processed with the sandbox's ORCID at hand (tokens proven).
    No call recorder: it would hold the rolled-back test transaction open and block the
    committed tests' cleanup."""
    from tests.orcid import helpers
    from worker.events.service import Context

    helpers.CONTEXT.append(Context(settings, orcid=build(settings, cipher, redis_client)))
    yield
    helpers.CONTEXT.pop()


@pytest.fixture
def client_id(sandbox: Sandbox) -> str:
    return sandbox.ctx.accounts.orcid_clients[0].client_id


@pytest.fixture
def registrars(runtime: Any) -> Iterator[Any]:
    """The registrar services' dependencies, as the booted runtime built them (the event hooks
    read the same runtime): for tests that follow a DOI from its agency to ORCID."""
    yield runtime.registrars
    runtime.registrars.close()


@pytest.fixture
def consented(session: Any, sandbox: Sandbox, cipher: Any, client_id: str) -> str:
    """A researcher who authorised this ORCID client to place works."""
    from tests.orcid.helpers import authorize, researcher

    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    return orcid
