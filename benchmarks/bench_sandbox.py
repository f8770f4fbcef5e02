"""How many simple requests per second the sandbox serves (latency injection off).

Starts `pidsync sandbox` in its own process (``python -m worker.cli.sandbox --json``), creates
one findable DataCite DOI, then measures ``GET /datacite/dois/{doi}`` (authenticated, so the
rate limit is lifted for the run) and ``GET /doi/{doi}`` (a resolver redirect):

- with ``wrk`` when it is installed (``apt-get install -y wrk``): 4 connections, keep-alive;
- always with Python clients: a few processes x threads, each a keep-alive requests.Session.

Goal: >= 2,000 requests/s, so the sandbox is never the bottleneck of a pidsync benchmark.

    .venv/bin/python benchmarks/bench_sandbox.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import requests

DOI = "10.5072/bench-1"


def start_sandbox() -> tuple[subprocess.Popen[str], dict]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "worker.cli.sandbox",
            "--json",
            "--port",
            "0",
            "--datacite-limit",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def seed(info: dict) -> tuple[str, dict[str, str]]:
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
    answer = requests.put(
        f"{info['datacite_api_url']}/dois/{DOI}",
        json={"data": {"attributes": attributes}},
        auth=auth,
        timeout=10,
    )
    answer.raise_for_status()
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return f"{info['datacite_api_url']}/dois/{DOI}", {"Authorization": f"Basic {token}"}


def run_wrk(url: str, headers: dict[str, str], seconds: int) -> float | None:
    if shutil.which("wrk") is None:
        return None
    command = ["wrk", "-t2", "-c4", f"-d{seconds}s", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        print(f"  wrk saw {non_2xx.group(1)} non-2xx/3xx answers")
    return float(match.group(1)) if match else None


def _client_process(
    url: str, headers: dict[str, str], seconds: float, threads: int, queue: multiprocessing.Queue
) -> None:
    counts = [0] * threads
    errors = [0] * threads
    deadline = time.monotonic() + seconds

    def work(index: int) -> None:
        with requests.Session() as session:
            while time.monotonic() < deadline:
                answer = session.get(url, headers=headers, allow_redirects=False, timeout=10)
                if answer.status_code < 400:
                    counts[index] += 1
                else:
                    errors[index] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((sum(counts), sum(errors)))


def run_python(
    url: str, headers: dict[str, str], seconds: float, processes: int = 3, threads: int = 2
) -> tuple[float, int]:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(
            target=_client_process, args=(url, headers, seconds, threads, queue)
        )
        for _ in range(processes)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    return sum(ok for ok, _ in results) / elapsed, sum(bad for _, bad in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    process, info = start_sandbox()
    try:
        datacite_url, headers = seed(info)
        resolver_url = f"{info['doi_resolver_url']}/{DOI}"
        print(f"sandbox at {info['control_url'].rsplit('/', 1)[0]} (latency injection off)")
        for label, url, extra in (
            ("GET DataCite DOI", datacite_url, headers),
            ("GET doi.org redirect", resolver_url, {}),
        ):
            rate = run_wrk(url, extra, args.seconds)
            if rate is not None:
                print(f"{label:22} wrk (2 threads, 4 keep-alive connections): {rate:8.0f} req/s")
            python_rate, errors = run_python(url, extra, args.seconds)
            print(
                f"{label:22} python (3 processes x 2 threads, keep-alive): {python_rate:8.0f} req/s, {errors} errors"
            )
        state = requests.get(info["control_url"] + "/state", timeout=10).json()["requests"]
        print(
            f"requests counted: datacite {state['datacite']['total']}, doi {state['doi']['total']}"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
