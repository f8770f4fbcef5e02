"""Scenario **backfill**: N works (1,000; ``--quick`` 200) onto one researcher's ORCID record,
through the bulk endpoint versus single POSTs, against the sandbox enforcing ORCID's limit
(24 req/s, burst 40) with 50 ms latency on every call.

- bulk: the works arrive first (awaiting consent); the grant then arrives as
  ``researcher.authorized`` and pidsync backfills them, up to 100 per ``POST /works``. Timed from
  the grant's post to the last placement.
- single: the grant arrives first; each work is then placed by its own ``POST /work``, one at a
  time on the record (ORCID's one write per record at a time). Timed from the first work's post
  to the last placement.

Reports both times, their ``ratio`` (goal >= 20), the ORCID calls of each, the webhook rows
recorded per phase, and the sandbox's CPU seconds in each phase (its duplicate check included).

    python -m worker.bench.backfill [--quick]
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from worker.bench import _procs

LATENCY_MS = 50.0


def _work(n: int, prefix: str, orcid: str) -> dict[str, Any]:
    return {
        "id": f"{prefix}-{n}",
        "type": "journal-article",
        "title": f"Backfill work {prefix} {n}",
        "publication_date": "2024-05-01",
        "url": f"https://repo.bench.example.edu/{prefix}/{n}",
        "contributors": [{"given": "Ada", "family": "Lovelace", "orcid": orcid}],
    }


def _count(database_url: str, prefix: str, state: str) -> int:
    return int(
        _procs.scalar(
            database_url,
            "SELECT count(*) FROM orcid_placements p JOIN works w ON w.id = p.work_id "
            "WHERE p.state = %s AND w.external_id LIKE %s",
            (state, f"{prefix}-%"),
        )
    )


def _orcid_calls(database_url: str) -> int:
    return int(_procs.scalar(database_url, "SELECT count(*) FROM api_calls WHERE service='orcid'"))


def _notifications(database_url: str) -> int:
    return int(_procs.scalar(database_url, "SELECT count(*) FROM outbound_notifications"))


def _phase(
    database_url: str, sandbox: _procs.Sandbox, prefix: str, n: int, start: Any
) -> dict[str, Any]:
    """Run ``start()`` and wait for the n placements; what the phase cost."""
    calls, notes = _orcid_calls(database_url), _notifications(database_url)
    sandbox_cpu = sandbox.proc.cpu_seconds()
    began = time.monotonic()
    start()
    _procs.wait_until(
        lambda: _count(database_url, prefix, "placed") >= n, n * 0.5 + 120, f"{n} placements"
    )
    return {
        "seconds": round(time.monotonic() - began, 2),
        "orcid_calls": _orcid_calls(database_url) - calls,
        "notifications": _notifications(database_url) - notes,
        "sandbox_cpu_s": round(sandbox.proc.cpu_seconds() - sandbox_cpu, 2),
    }


def run(quick: bool) -> dict[str, Any]:
    n = 200 if quick else 1000
    with _procs.scenario("backfill", ("--orcid-rate", "24", "--orcid-burst", "40")) as stage:
        sandbox, database_url, url = stage.sandbox, stage.database_url, stage.url
        sandbox.set_faults("orcid", latency_ms=LATENCY_MS)
        stage.procs.append(_procs.start_workers(stage.env, processes=2, threads=4))

        # Bulk: the works wait for consent, then the grant arrives.
        bulk_orcid = sandbox.add_researcher("Bulk", "Researcher")
        _procs.post_all(
            url, (_procs.work_event(i, "b", _work(i, "b", bulk_orcid)) for i in range(n))
        )
        _procs.wait_until(
            lambda: _count(database_url, "b", "awaiting_consent") >= n, 300, "works stored"
        )
        grant = _procs.work_event(0, "grant-b", sandbox.issue_token(bulk_orcid))
        grant["type"] = "researcher.authorized"
        bulk = _phase(database_url, sandbox, "b", n, lambda: _procs.post(url, [grant]))

        # Single: the grant first, then the works, each placed on its own.
        single_orcid = sandbox.add_researcher("Single", "Researcher")
        grant = _procs.work_event(0, "grant-s", sandbox.issue_token(single_orcid))
        grant["type"] = "researcher.authorized"
        _procs.post(url, [grant])
        _procs.wait_until(
            lambda: _procs.scalar(database_url, "SELECT count(*) FROM orcid_grants") == 2,
            60,
            "the second grant stored",
        )
        time.sleep(1)  # its (empty) backfill done
        events = [_procs.work_event(i, "s", _work(i, "s", single_orcid)) for i in range(n)]
        single = _phase(database_url, sandbox, "s", n, lambda: _procs.post_all(url, events))
        records = sandbox.state()["orcid"]["records"]
        return {
            "scenario": "backfill",
            "quick": quick,
            "works": n,
            "latency_ms": LATENCY_MS,
            "bulk_seconds": bulk["seconds"],
            "single_seconds": single["seconds"],
            "ratio": round(single["seconds"] / bulk["seconds"], 1),
            "bulk_orcid_calls": bulk["orcid_calls"],
            "single_orcid_calls": single["orcid_calls"],
            "bulk_notifications": bulk["notifications"],
            "single_notifications": single["notifications"],
            "bulk_sandbox_cpu_s": bulk["sandbox_cpu_s"],
            "single_sandbox_cpu_s": single["sandbox_cpu_s"],
            "bulk_works_on_record": len(records[bulk_orcid]["works"]),
            "single_works_on_record": len(records[single_orcid]["works"]),
        }


if __name__ == "__main__":
    json.dump(run("--quick" in sys.argv), sys.stdout, indent=2)
    sys.stdout.write("\n")
