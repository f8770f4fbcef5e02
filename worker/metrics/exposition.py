"""Where each process's metrics are served.

- web: ``GET /metrics`` (:func:`render`): its own counters and the state gauges;
- worker: ``pidsync worker`` runs N dramatiq processes; each writes its counters to files in
  ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode), and dramatiq's fork
  process :func:`serve_worker_metrics` serves their sum on ``PIDSYNC_WORKER_METRICS_PORT``;
- scheduler: :func:`start_server` on ``PIDSYNC_SCHEDULER_METRICS_PORT``, from a thread.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.multiprocess import MultiProcessCollector

from worker.db import Database
from worker.metrics.registry import REGISTRY
from worker.metrics.state import StateCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _own_registry() -> CollectorRegistry:
    """This process's counters, or all processes' when it runs in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def render(database: Database, broker: Any = None) -> bytes:
    """The web app's ``/metrics``: its counters, then the database and broker state."""
    state = CollectorRegistry()
    state.register(StateCollector(database, broker))
    return generate_latest(_own_registry()) + generate_latest(state)


def multiprocess_env(env: dict[str, str]) -> Path:
    """Give the worker's processes a fresh directory for their metric files (values left
    from a previous run would be added to this run's), set in ``env``; returned for cleanup."""
    given = env.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="pidsync-metrics-"))
    env[MULTIPROC_ENV] = str(path)
    return path


def remove_multiprocess_dir(path: Path, env: dict[str, str]) -> None:
    if not os.environ.get(MULTIPROC_ENV):  # ours (made by multiprocess_env), not the operator's
        shutil.rmtree(path, ignore_errors=True)
    env.pop(MULTIPROC_ENV, None)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        return  # a scrape every 15 s is not news


def _server(host: str, port: int, registry: CollectorRegistry) -> WSGIServer:
    return make_server(host, port, make_wsgi_app(registry), handler_class=_QuietHandler)


def serve_worker_metrics() -> int:
    """dramatiq's fork process (``--fork-function``): serve the worker processes' sum until
    dramatiq stops it (SIGTERM)."""
    from worker.config import load_settings

    settings = load_settings()
    server = _server(settings.metrics_host, settings.worker_metrics_port, _own_registry())
    server.serve_forever()
    return 0


def start_server(host: str, port: int) -> WSGIServer:
    """Serve this process's metrics from a daemon thread (the scheduler's)."""
    server = _server(host, port, _own_registry())
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
