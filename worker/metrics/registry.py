"""The metrics each process counts itself (all prefixed ``pidsync_``).

Counters and histograms live in :data:`REGISTRY`. In a worker, whose dramatiq processes each
count their share, ``PROMETHEUS_MULTIPROC_DIR`` is set before Python starts
(:func:`worker.metrics.exposition.multiprocess_env`), so prometheus_client writes every value to
a file there and one endpoint adds the processes up. Everything that is a state rather than a
count (queue depths, grants, deposits) is read at scrape time instead (``state.py``).
"""

from __future__ import annotations

from functools import cache

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

#: Seconds from an accepted change to its effect: a few seconds normally, up to hours when an
#: agency is slow (Crossref queues) or a researcher has still to consent.
LATENCY_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

INTAKE_REQUESTS = Counter(
    "pidsync_intake_requests", "Intake requests by HTTP status", ["status"], registry=REGISTRY
)
INTAKE_EVENTS = Counter(
    "pidsync_intake_events",
    "Events received, by type and duplicate",
    ["type", "duplicate"],
    registry=REGISTRY,
)
EVENTS_HANDLED = Counter(
    "pidsync_events_handled",
    "Events whose processing ended, by type and outcome (done, stale, failed)",
    ["type", "outcome"],
    registry=REGISTRY,
)
EVENT_DELAY = Histogram(
    "pidsync_event_handling_seconds",
    "From an event's receipt to the end of its processing, by outcome",
    ["outcome"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
EFFECT_LATENCY = Histogram(
    "pidsync_effect_latency_seconds",
    "From the change an event asked for to its effect confirmed: effect=doi_registered (the "
    "registrar confirmed the DOI's change) or work_placed (the work is on the ORCID record)",
    ["effect", "service"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
DOI_OUTCOMES = Counter(
    "pidsync_doi_outcomes",
    "DOI state changes (reserved, submitted, findable, failed, ...), by registrar and new state",
    ["registrar", "state"],
    registry=REGISTRY,
)
PLACEMENT_OUTCOMES = Counter(
    "pidsync_orcid_placement_outcomes",
    "ORCID placements reaching a state (placed, failed, awaiting_consent, ...)",
    ["state"],
    registry=REGISTRY,
)
OUTBOUND_CALLS = Counter(
    "pidsync_outbound_calls",
    "Calls to the agencies and webhooks, by service and HTTP status ('error' = no answer)",
    ["service", "status"],
    registry=REGISTRY,
)
OUTBOUND_SECONDS = Histogram(
    "pidsync_outbound_call_seconds",
    "Duration of outbound calls, by service",
    ["service"],
    buckets=CALL_BUCKETS,
    registry=REGISTRY,
)
RATELIMIT_WAITS = Counter(
    "pidsync_ratelimit_waits",
    "Times a call had to wait for its rate limit: slept (short) or postponed (message re-run)",
    ["limit", "action"],
    registry=REGISTRY,
)
RATELIMIT_WAIT_SECONDS = Counter(
    "pidsync_ratelimit_wait_seconds",
    "Seconds spent waiting for rate-limit slots (slept or postponed), by limit",
    ["limit"],
    registry=REGISTRY,
)
MESSAGES = Counter(
    "pidsync_messages",
    "Messages handled by the worker, by actor and outcome (ok, postponed, error)",
    ["actor", "outcome"],
    registry=REGISTRY,
)
MESSAGE_SECONDS = Histogram(
    "pidsync_message_seconds",
    "Time actors spent on one message, by actor",
    ["actor"],
    buckets=CALL_BUCKETS,
    registry=REGISTRY,
)
DEAD_LETTERED = Counter(
    "pidsync_messages_dead_lettered",
    "Messages parked as dead letters by this process, by actor",
    ["actor"],
    registry=REGISTRY,
)
SCHEDULER_JOBS = Counter(
    "pidsync_scheduler_job_runs",
    "Scheduler job runs by job and outcome (ok, error)",
    ["job", "outcome"],
    registry=REGISTRY,
)
SCHEDULER_ROWS = Counter(
    "pidsync_scheduler_job_rows",
    "Rows the scheduler's jobs handled, by job",
    ["job"],
    registry=REGISTRY,
)


@cache
def scheduler_leader() -> Gauge:
    """Made by the scheduler on first use: made at import, every process (web, each worker)
    would report a leader gauge of 0 of its own."""
    return Gauge(
        "pidsync_scheduler_leader",
        "1 while this scheduler holds the leader lock, else 0",
        registry=REGISTRY,
        multiprocess_mode="max",
    )
