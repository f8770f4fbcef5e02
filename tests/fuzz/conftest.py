"""The fuzz suite: generated requests, correctly signed so they reach validation, posted to the
real app (FastAPI TestClient) over a real PostgreSQL and Redis. Nothing is sent to an agency:
no worker runs; the intake only stores and queues."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import INTAKE_SECRET, TOKEN_KEY
from worker.config import CrossrefAccount, DataCiteAccount, Settings

DATACITE_PREFIX = "10.5555"
CROSSREF_PREFIX = "10.32013"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A DataCite and a Crossref account, so Works naming a registrar reach its checks."""
    return Settings(
        _env_file=None,
        env="test",
        data_dir=tmp_path,
        intake_clients={"cris": INTAKE_SECRET},
        token_keys=[TOKEN_KEY],
        orcid_client_id="APP-TESTCLIENT0001",
        orcid_client_secret="orcid-client-secret",
        datacite_accounts=[
            DataCiteAccount(repository_id="EX.REPO", password="pw-dc", prefixes=[DATACITE_PREFIX])
        ],
        crossref_accounts=[
            CrossrefAccount(login_id="ex", password="pw-cr", prefixes=[CROSSREF_PREFIX])
        ],
    )
