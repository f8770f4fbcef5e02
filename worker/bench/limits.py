"""orcid-limit and datacite-limit: does pidsync use an agency's whole rate limit, and never
more? The sandbox enforces the real limit; pidsync runs with its default limiter settings.

- **orcid-limit**: ORCID's 24 requests/s, burst 40, 50 ms latency on every call; 2 worker
  processes x 8 threads; R researchers authorise pidsync, then N works naming one of them
  each are published. The workers process the events and place the works at the same time
  (each on its own queue); ``achieved_rps`` is the rate at which ORCID (the sandbox) created
  works over the seconds that began with at least a second's worth of placements ready and not
  yet placed (``backlogged_s`` of them: the supply was there, so the limit, or pidsync, set the
  pace). It was the rate once every event had been processed; placements now keep pace with
  the events, and as few as 11 were left for that rate (``placed_after_events_processed``),
  which then said nothing (0.19 in a CI run where the whole run went at 21.6/s).
  ``overall_rps``: from the first placement on, the events' processing included;
  ``recorded_rps`` the backlogged rate from pidsync's own record of its calls (``api_calls``);
  ``rejected`` counts the sandbox's 503s.
- **datacite-limit**: DataCite's 3,000 requests per 5 minutes (a fixed window per repository
  account); ``--quick`` scales the window to 30 s (300 requests: the same 10/s) and pidsync's
  limiter with it. Enough DataCite works to keep it busy past the window are published;
  ``achieved_rps`` is the requests the sandbox received in its first full window over the
  window; ``rejected`` counts its 429s, read a little into the next window.

``series``: requests in each second (ORCID: as the sandbox created the works; DataCite: as
pidsync recorded its calls), for the plot of the rate against the limit.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

import requests

from worker.bench.measure import backlogged_rate, per_second, sustained_rate, wait_until
from worker.bench.stack import Stack
from worker.bench.traffic import authorize, event, post, work

ORCID_RATE = 24.0
ORCID_BURST = 40
ORCID_LATENCY_MS = 50
#: Seconds after the first placement left out of the rate: the bucket's burst (40 at once).
BURST_SECONDS = 2.0
DATACITE_COUNT = 3000
DATACITE_WINDOW = 300.0
BATCH = 100


def _epochs(stack: Stack, sql: str, **params: Any) -> list[float]:
    """The scenario database's answer to ``sql`` (one timestamp column read as epoch
    seconds), in order."""
    return [float(row[0]) for row in stack.rows(sql, **params)]


def _call_times(stack: Stack, service: str, since: datetime) -> list[float]:
    """Epoch seconds of pidsync's recorded calls to ``service`` since ``since``."""
    return _epochs(
        stack,
        "SELECT extract(epoch FROM created_at) FROM api_calls "
        "WHERE service = :service AND created_at >= :since ORDER BY created_at",
        service=service,
        since=since,
    )


def _handled_times(stack: Stack, since: datetime) -> list[float]:
    """Epoch seconds at which each work event since ``since`` was handled: its placement
    was ready from then on."""
    return _epochs(
        stack,
        "SELECT extract(epoch FROM handled_at) FROM received_events "
        "WHERE type = 'work.published' AND handled_at >= :since ORDER BY handled_at",
        since=since,
    )


def _db_now(stack: Stack) -> datetime:
    now: datetime = stack.rows("SELECT now()")[0][0]
    return now


def _publish(http: requests.Session, url: str, works: list[dict[str, Any]]) -> None:
    for first in range(0, len(works), BATCH):
        batch = works[first : first + BATCH]
        post(http, url, [event("work.published", f"e-{w['id']}", w) for w in batch])


def run_orcid(quick: bool) -> dict[str, Any]:
    researchers, placements = (20, 600) if quick else (100, 3000)
    with Stack("orcid-limit") as stack:
        sandbox = stack.sandbox(orcid_rate=ORCID_RATE, orcid_burst=ORCID_BURST)
        sandbox.set_faults("orcid", latency_ms=ORCID_LATENCY_MS)
        env = stack.env(sandbox)
        url = stack.web(env)
        stack.workers(env, processes=2, threads=8)
        http = requests.Session()
        orcids = [
            sandbox.control(
                "POST", "/orcid/researchers", {"given_names": "R", "family_name": str(n)}
            )["orcid"]
            for n in range(researchers)
        ]
        for n, orcid in enumerate(orcids):
            authorize(http, url, sandbox, orcid, f"grant-{n}")
        wait_until(
            "the grants",
            lambda: (
                stack.scalar("SELECT count(*) FROM orcid_grants") >= researchers
                and stack.queue_empty()
            ),
            120,
        )
        time.sleep(ORCID_BURST / ORCID_RATE)  # the grants' calls' burst refills
        rejected_before = sandbox.requests_to("orcid")["rate_limited"]
        since = _db_now(stack)
        works = [work(f"w-{n}", orcids=(orcids[n % researchers],)) for n in range(placements)]
        published = time.monotonic()
        _publish(http, url, works)
        # The workers take the events first (one queue, in order): the placements' steady rate
        # is measured once every event has been processed and only placements are left.
        wait_until(
            "every event processed",
            lambda: (
                stack.scalar("SELECT count(*) FROM received_events WHERE status = 'received'") == 0
            ),
            placements / 5 + 120,
        )
        drained = time.time()
        events_seconds = time.monotonic() - published
        wait_until(
            "every placement",
            lambda: (
                stack.scalar("SELECT count(*) FROM orcid_placements WHERE state = 'placed'")
                >= placements
            ),
            placements / 10 + 120,
        )
        rejected = sandbox.requests_to("orcid")["rate_limited"] - rejected_before
        recorded = _call_times(stack, "orcid", since)
        ready = _handled_times(stack, since)
        records = sandbox.state()["orcid"]["records"].values()
        # When ORCID created each work: the POSTs as the agency saw them (pidsync's own record
        # of a call is written after it, so its times bunch when the machine is busy).
        times = [w["created_ms"] / 1000 for r in records for w in r["works"]]
    steady = [t for t in times if t >= drained]
    backlog = math.ceil(ORCID_RATE)
    achieved, backlogged = backlogged_rate(times, ready, backlog=backlog, skip=BURST_SECONDS)
    return {
        "placements": placements,
        "researchers": researchers,
        "latency_ms": ORCID_LATENCY_MS,
        "limit_rps": ORCID_RATE,
        "achieved_rps": round(achieved, 2),
        "ratio": round(achieved / ORCID_RATE, 3),
        "rejected": rejected,
        "orcid_calls": len(recorded),
        "backlogged_s": backlogged,
        "recorded_rps": round(
            backlogged_rate(recorded, ready, backlog=backlog, skip=BURST_SECONDS)[0], 2
        ),
        "placed_after_events_processed": len(steady),
        "events_processed_s": round(events_seconds, 1),
        "overall_rps": round(sustained_rate(times, skip=BURST_SECONDS), 2),
        "series": per_second(times),
    }


def run_datacite(quick: bool) -> dict[str, Any]:
    window = 30.0 if quick else DATACITE_WINDOW
    limit = round(DATACITE_COUNT * window / DATACITE_WINDOW)
    events = math.ceil(limit * 1.08)
    with Stack("datacite-limit") as stack:
        sandbox = stack.sandbox(datacite_limit=DATACITE_COUNT)
        sandbox.set_limits(datacite={"limit": limit, "window_seconds": window})
        env = stack.env(
            sandbox,
            PIDSYNC_DATACITE_LIMIT_COUNT=str(limit),
            PIDSYNC_DATACITE_LIMIT_WINDOW_SECONDS=str(window),
        )
        url = stack.web(env)
        stack.workers(env, processes=2, threads=8)
        http = requests.Session()
        since = _db_now(stack)
        _publish(http, url, [work(f"ds-{n}", datacite=True) for n in range(events)])
        # The sandbox's window starts with its first request.
        wait_until(
            "the first DataCite request",
            lambda: sandbox.requests_to("datacite")["total"] > 0,
            120,
            0.005,
        )
        started = time.monotonic()
        time.sleep(max(0.0, started + window - 0.1 - time.monotonic()))
        in_window = sandbox.requests_to("datacite")["total"]
        time.sleep(min(10.0, window / 10))  # into the next window: no 429 at its boundary
        rejected = sandbox.requests_to("datacite")["rate_limited"]
        times = _call_times(stack, "datacite", since)
    achieved = in_window / window
    return {
        "events": events,
        "window_s": window,
        "limit_per_window": limit,
        "limit_rps": round(limit / window, 3),
        "requests_in_window": in_window,
        "achieved_rps": round(achieved, 3),
        "ratio": round(in_window / limit, 3),
        "rejected": rejected,
        "series": per_second(times),
    }
