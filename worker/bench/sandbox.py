"""sandbox: how many simple requests per second the sandbox serves (latency injection off),
so that it is never what limits another scenario. One findable DataCite DOI, then for a few
seconds ``GET /datacite/dois/{doi}`` (authenticated, so the rate limit is lifted) and
``GET /doi/{doi}`` (a resolver redirect) from 3 client processes x 2 threads, each a
keep-alive ``requests`` session. Goal: >= 2,000 requests/s."""

from __future__ import annotations

import multiprocessing
import threading
import time
from typing import Any

import requests

from worker.bench.stack import Sandbox, Stack

DOI = "10.5072/bench-1"
PROCESSES = 3
THREADS = 2


def _seed(sandbox: Sandbox) -> tuple[str, tuple[str, str]]:
    info = sandbox.info
    auth = (info["datacite_repository_id"], info["datacite_password"])
    attributes = {
        "creators": [{"name": "Bench, Mark"}],
        "titles": [{"title": "Benchmark record"}],
        "publisher": "pidsync",
        "publicationYear": "2024",
        "types": {"resourceTypeGeneral": "Dataset"},
        "url": "https://example.org/bench",
        "event": "publish",
    }
    url = f"{info['datacite_api_url']}/dois/{DOI}"
    body = {"data": {"attributes": attributes}}
    requests.put(url, json=body, auth=auth, timeout=10).raise_for_status()
    return url, auth


def _client(
    url: str, auth: tuple[str, str] | None, seconds: float, out: multiprocessing.Queue[Any]
) -> None:
    counts = [0] * THREADS
    errors = [0] * THREADS
    deadline = time.monotonic() + seconds

    def loop(index: int) -> None:
        with requests.Session() as http:
            http.auth = auth
            while time.monotonic() < deadline:
                answer = http.get(url, allow_redirects=False, timeout=10)
                if answer.status_code < 400:
                    counts[index] += 1
                else:
                    errors[index] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((sum(counts), sum(errors)))


def _rate(url: str, auth: tuple[str, str] | None, seconds: float) -> tuple[float, int]:
    queue: multiprocessing.Queue[Any] = multiprocessing.Queue()
    clients = [
        multiprocessing.Process(target=_client, args=(url, auth, seconds, queue))
        for _ in range(PROCESSES)
    ]
    started = time.monotonic()
    for client in clients:
        client.start()
    results = [queue.get() for _ in clients]
    for client in clients:
        client.join()
    elapsed = time.monotonic() - started
    return sum(ok for ok, _ in results) / elapsed, sum(bad for _, bad in results)


def run(quick: bool) -> dict[str, Any]:
    seconds = 3.0 if quick else 10.0
    with Stack("sandbox", servers=False) as stack:
        sandbox = stack.sandbox()
        datacite_url, auth = _seed(sandbox)
        datacite_rps, datacite_errors = _rate(datacite_url, auth, seconds)
        resolver_rps, resolver_errors = _rate(
            f"{sandbox.info['doi_resolver_url']}/{DOI}", None, seconds
        )
    return {
        "seconds": seconds,
        "clients": f"{PROCESSES} processes x {THREADS} threads",
        "datacite_get_rps": round(datacite_rps, 1),
        "resolver_redirect_rps": round(resolver_rps, 1),
        "errors": datacite_errors + resolver_errors,
    }
