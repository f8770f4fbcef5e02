"""DOI registration tests: real PostgreSQL and Redis, the agencies simulated by the sandbox over
HTTP. Services are driven directly with a real session and real clients (:mod:`.flow`); a
few end-to-end tests run the intake and a real dramatiq worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import INTAKE_SECRET, TOKEN_KEY
from worker.config import CrossrefAccount, DataCiteAccount, Settings
from worker.http import DatabaseRecorder
from worker.ratelimit import RateLimiter
from worker.registrars.context import RegistrarContext
from worker.registrars.settings import RegistrarOptions, set_options
from worker.sandbox.server import Sandbox


@pytest.fixture
def settings(tmp_path: Path, sandbox: Sandbox) -> Settings:
    """The root fixture's settings, with registrar accounts at the sandbox: each agency's
    seeded account as the default and its second account as 'other'."""
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
    )


@pytest.fixture
def options() -> Iterator[RegistrarOptions]:
    """Fast pacing for tests: no coalescing wait, short backoffs and polls."""
    opts = RegistrarOptions(
        _env_file=None,
        datacite_limit_count=1_000_000,
        crossref_batch_window_seconds=0,
        crossref_poll_schedule=[0.05],
        crossref_requests_per_second=1000,
        doi_retry_backoff=[0.01],
        doi_reconcile_min_age_seconds=0,
    )
    set_options(opts)
    yield opts
    set_options(None)


@pytest.fixture(autouse=True)
def _booted(runtime, options):
    """The event hooks read the process's runtime and options, as in a worker."""
    return runtime


@pytest.fixture
def ctx(runtime, options, redis_client, database) -> Iterator[RegistrarContext]:
    context = RegistrarContext(
        settings=runtime.settings,
        options=options,
        limiter=RateLimiter(redis_client),
        recorder=DatabaseRecorder(database),
    )
    yield context
    context.close()
