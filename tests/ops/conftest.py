"""Operator actions across both flows: DataCite, Crossref and ORCID all at the sandbox, the
services driven in a test's rolled-back transaction as the worker would run them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.orcid.conftest import sandbox as orcid_sandbox
from tests.orcid.conftest import with_registrars
from tests.registrars.conftest import tune  # noqa: F401 - the same tuning of sections
from worker.config import Settings
from worker.orcid.deps import OrcidDeps
from worker.registrars.deps import RegistrarDeps
from worker.sandbox.server import Sandbox

sandbox = orcid_sandbox  # the ORCID tests' sandbox: its webhooks come fast


@pytest.fixture
def settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    """Every agency at the sandbox with fast pacing; ORCID gives up after two tries."""
    return with_registrars(sandbox, tmp_path, orcid={"max_retries": 2, "retry_backoff": [600.0]})


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
