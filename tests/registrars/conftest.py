"""DOI registration tests: real PostgreSQL and Redis, the agencies simulated by the sandbox over
HTTP. Services are driven directly with a real session and real clients (:mod:`.flow`); a
few end-to-end tests run the intake and a real dramatiq worker."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from tests.conftest import INTAKE_SECRET, TOKEN_KEY
from worker.config import (
    CrossrefAccount,
    CrossrefSettings,
    DataCiteAccount,
    DataciteSettings,
    DoiSettings,
    Settings,
)
from worker.registrars.deps import RegistrarDeps
from worker.sandbox.server import Sandbox


@pytest.fixture
def settings(tmp_path: Path, sandbox: Sandbox) -> Settings:
    """The root fixture's settings, with registrar accounts at the sandbox (each agency's
    seeded account as the default and its second account as 'other') and fast pacing: no
    coalescing wait, short backoffs and polls, no minimum age before reconciliation."""
    info = sandbox.info()
    return Settings(
        _env_file=None,
        env="test",
        data_dir=tmp_path,
        intake_clients={"cris": INTAKE_SECRET},
        token_keys=[TOKEN_KEY],
        orcid_client_id="APP-TESTCLIENT0001",
        orcid_client_secret="orcid-client-secret",
        datacite_url=info["datacite_api_url"],
        datacite_repository_id=info["datacite_repository_id"],
        datacite_password=info["datacite_password"],
        datacite_prefix=info["datacite_prefix"],
        datacite_accounts=[
            DataCiteAccount(
                name="other",
                url=info["datacite_api_url"],
                repository_id="OTHER.REPO",
                password="other-datacite-password",
                prefixes=["10.80001"],
            )
        ],
        crossref_deposit_url=info["crossref_deposit_url"],
        crossref_api_url=info["crossref_api_url"],
        crossref_login_id=info["crossref_login_id"],
        crossref_password=info["crossref_password"],
        crossref_prefix=info["crossref_prefix"],
        crossref_accounts=[
            CrossrefAccount(
                name="other",
                deposit_url=info["crossref_deposit_url"],
                login_id="other-role",
                password="other-crossref-password",
                prefixes=["10.80002"],
            )
        ],
        doi=DoiSettings(retry_backoff=[0.01], reconcile_min_age_seconds=0),
        datacite=DataciteSettings(limit_count=1_000_000),
        crossref=CrossrefSettings(
            batch_window_seconds=0, poll_schedule=[0.05], requests_per_second=1000
        ),
    )


@pytest.fixture(autouse=True)
def _booted(runtime):
    """The event hooks run with the process's runtime and settings, as in a worker."""
    return runtime


@pytest.fixture
def deps(runtime) -> Iterator[RegistrarDeps]:
    """The registrar services' dependencies, as the runtime built them."""
    yield runtime.registrars
    runtime.registrars.close()


@pytest.fixture
def tune(runtime) -> Callable[..., Settings]:
    """Change fields of settings sections (``tune(doi={"max_retries": 2})``) for the event
    hooks (they read the runtime's settings) and the registrar services alike."""

    def apply(**sections: dict[str, Any]) -> Settings:
        current = runtime.settings
        update = {
            name: getattr(current, name).model_copy(update=fields)
            for name, fields in sections.items()
        }
        runtime.settings = current.model_copy(update=update)
        runtime.registrars.settings = runtime.settings
        return runtime.settings

    return apply


@pytest.fixture
def logs(monkeypatch) -> Iterator[list[dict[str, Any]]]:
    """Every line pidsync's modules log during the test, as event dicts. structlog caches a
    module's logger at its first use, out of capture_logs' reach: the modules get fresh ones."""
    lazy = type(structlog.get_logger())
    with structlog.testing.capture_logs() as captured:
        for name, module in list(sys.modules.items()):
            if name.startswith("worker") and isinstance(getattr(module, "log", None), lazy):
                monkeypatch.setattr(module, "log", structlog.get_logger(name))
        yield captured
