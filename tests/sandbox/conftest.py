"""One in-process sandbox per test session on a free port; each test starts from reset()."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from worker.sandbox.server import Sandbox


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    server = Sandbox(crossref_delays=(0.05, 0.05), seed=1234)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Iterator[Sandbox]:
    sandbox_server.reset()
    yield sandbox_server
    sandbox_server.reset()


@pytest.fixture
def info(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.info()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
