"""The fuzz suite: generated requests, correctly signed so they reach validation, posted to the
real app (FastAPI TestClient) over a real PostgreSQL and Redis. Nothing is sent to an agency:
no worker runs; the intake only stores and queues."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import settings_with_accounts
from worker.config import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A DataCite and a Crossref account, so Works naming a registrar reach its checks."""
    return settings_with_accounts(tmp_path)
