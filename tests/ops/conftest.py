"""Operator actions across both flows: DataCite, Crossref and ORCID all at the sandbox, the
services driven in a test's rolled-back transaction as the worker would run them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.orcid.conftest import orcid_settings
from tests.orcid.conftest import sandbox as orcid_sandbox
from tests.registrars.conftest import tune  # noqa: F401 - the same tuning of sections
from worker.config import CrossrefSettings, DataciteSettings, DoiSettings, Settings
from worker.orcid.deps import OrcidDeps
from worker.registrars.deps import RegistrarDeps
from worker.sandbox.server import Sandbox

sandbox = orcid_sandbox  # the ORCID tests' sandbox: its webhooks come fast


@pytest.fixture
def settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
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
        doi=DoiSettings(retry_backoff=[0.01], reconcile_min_age_seconds=0),
        datacite=DataciteSettings(limit_count=1_000_000),
        crossref=CrossrefSettings(
            batch_window_seconds=0, poll_schedule=[0.05], requests_per_second=1000
        ),
        orcid={"max_retries": 2, "retry_backoff": [600.0]},
    )


@pytest.fixture(autouse=True)
def _booted(runtime: Any) -> Any:
    """The event hooks run with the process's runtime and settings, as in a worker."""
    return runtime


@pytest.fixture
def registrars(runtime: Any) -> Iterator[RegistrarDeps]:
    yield runtime.registrars
    runtime.registrars.close()


@pytest.fixture
def orcid_deps(runtime: Any) -> OrcidDeps:
    deps: OrcidDeps = runtime.orcid
    return deps


@pytest.fixture
def client_id(sandbox: Sandbox) -> str:
    return sandbox.ctx.accounts.orcid_clients[0].client_id
