"""Scenario **peer**: 500 DOIs (``--quick``: 50) registered the way repository platforms do it
(the ``datacite`` package's ``DataCiteRESTClient.public_doi`` called in a loop, one DOI after
the other, as Invenio's and others' publish tasks do) versus through pidsync (the events posted
to its intake, its workers registering them), against the same sandbox with 500 ms latency on
every DataCite call (close to a real DataCite PUT) and DataCite's real limit on (3,000 requests
per 5 minutes per repository).

Reports each side's wall-clock time and DOIs registered (read back from the sandbox) and
``ratio`` = peer seconds / pidsync seconds.

    python -m worker.bench.peer [--quick]
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from worker.bench import _procs

LATENCY_MS = 500.0


def _peer_metadata(n: int) -> dict[str, Any]:
    """DataCite kernel-4 attributes, as a platform's serializer builds them."""
    return {
        "titles": [{"title": f"Peer dataset {n}"}],
        "creators": [
            {
                "name": "Lovelace, Ada",
                "givenName": "Ada",
                "familyName": "Lovelace",
                "nameType": "Personal",
            }
        ],
        "publisher": "Bench University",
        "publicationYear": 2026,
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Dataset"},
        "schemaVersion": "http://datacite.org/schema/kernel-4",
    }


def peer_loop(info: dict[str, Any], n: int) -> tuple[float, int]:
    """The platform's way: one ``public_doi`` after the other. (seconds, DOIs it was told
    were registered)."""
    from datacite import DataCiteRESTClient
    from datacite.errors import DataCiteError

    client = DataCiteRESTClient(
        username=info["datacite_repository_id"],
        password=info["datacite_password"],
        prefix=info["datacite_prefix"],
        url=info["datacite_api_url"],
        timeout=60,
    )
    done = 0
    began = time.monotonic()
    for n_ in range(n):
        doi = f"{info['datacite_prefix']}/peer-{n_}"
        try:
            client.public_doi(_peer_metadata(n_), f"https://repo.bench.example.edu/peer/{n_}", doi)
        except DataCiteError as exc:  # what a platform logs and moves on from
            print(f"peer: {doi}: {exc}", file=sys.stderr)  # noqa: T201
            continue
        done += 1
    return time.monotonic() - began, done


def _dois_at_sandbox(sandbox: _procs.Sandbox, marker: str) -> int:
    return sum(
        1
        for d in sandbox.state()["datacite"]["dois"]
        if marker in d["doi"] and d.get("state") == "findable"
    )


def run(quick: bool) -> dict[str, Any]:
    n = 50 if quick else 500
    with _procs.scenario("peer", ("--datacite-limit", "3000")) as stage:
        sandbox, database_url, url = stage.sandbox, stage.database_url, stage.url
        sandbox.set_faults("datacite", latency_ms=LATENCY_MS)
        stage.procs.append(
            _procs.start_workers(stage.env, processes=2, threads=4)
        )  # `pidsync worker`

        peer_seconds, peer_told = peer_loop(sandbox.info, n)

        events = [
            _procs.work_event(
                i, "ps", _procs.dataset(i, "ps", registration={"registrar": "datacite"})
            )
            for i in range(n)
        ]
        began = time.monotonic()
        _procs.post_all(url, events)
        findable = "SELECT count(*) FROM doi_registrations WHERE state = 'findable'"
        _procs.wait_until(
            lambda: _procs.scalar(database_url, findable) >= n, n * 2 + 120, "pidsync's DOIs"
        )
        pidsync_seconds = time.monotonic() - began
        state = sandbox.state()["datacite"]
        dois = state["dois"]
        peer_count = sum(1 for d in dois if "/peer-" in d["doi"])
        pidsync_count = len(dois) - peer_count
        return {
            "scenario": "peer",
            "quick": quick,
            "dois": n,
            "latency_ms": LATENCY_MS,
            "peer_seconds": round(peer_seconds, 1),
            "pidsync_seconds": round(pidsync_seconds, 1),
            "ratio": round(peer_seconds / pidsync_seconds, 1),
            "peer_registered": peer_count,
            "peer_reported_ok": peer_told,
            "pidsync_registered": pidsync_count,
            "pidsync_findable_rows": int(_procs.scalar(database_url, findable)),
            "rate_limited": int(sandbox.state()["requests"]["datacite"]["rate_limited"]),
        }


if __name__ == "__main__":
    json.dump(run("--quick" in sys.argv), sys.stdout, indent=2)
    sys.stdout.write("\n")
