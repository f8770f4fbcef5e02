"""Every process exports the series an operator graphs: scraped from the real web, worker and
scheduler processes after real work reached the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import INTAKE_SECRET
from tests.ops.hosts import Cluster, findable, post_events, sample, wait_for, work_event
from tests.ops.hosts import cluster as cluster  # noqa: PLC0414 - the fixture, re-exported

pytestmark = pytest.mark.slow


def test_each_process_exports_what_it_did(cluster: Cluster, committed_database: Any, sandbox):
    # Given a web app, a worker of two processes and a scheduler, each its own "host"
    web = cluster.start("web", "web")
    worker = cluster.start("worker", "worker", "--processes", "2", "--threads", "2")
    scheduler = cluster.start("scheduler", "scheduler")
    for host in (web, worker, scheduler):
        cluster.wait_serving(host)

    # When three datasets are published and their DOIs registered at DataCite
    assert post_events(web, [work_event(f"m-{n}") for n in range(3)]).status_code == 202
    wait_for(lambda: findable(committed_database) == 3, 60, "3 DOIs findable", cluster.logs)

    # Then the worker's endpoint adds up its processes' counts
    def worker_counted() -> bool:
        text = worker.metrics()
        handled = sample(text, "pidsync_events_handled_total", type="work.published",
                         outcome="done")  # fmt: skip
        return handled == 3

    wait_for(worker_counted, 20, "worker counted 3 handled events", cluster.logs)
    text = worker.metrics()
    assert sample(text, "pidsync_outbound_calls_total", service="datacite", status="201") == 3
    assert sample(text, "pidsync_outbound_call_seconds_count", service="datacite") >= 3
    assert sample(text, "pidsync_doi_outcomes_total", registrar="datacite", state="findable") == 3
    latency = sample(text, "pidsync_effect_latency_seconds_count", effect="doi_registered",
                     service="datacite")  # fmt: skip
    assert latency == 3
    assert sample(text, "pidsync_effect_latency_seconds_bucket", effect="doi_registered",
                  service="datacite", le="+Inf") == 3  # fmt: skip
    assert sample(text, "pidsync_event_handling_seconds_count", outcome="done") == 3
    assert sample(text, "pidsync_messages_total", actor="events.process", outcome="ok") == 3
    # And the web reports the state it reads from Postgres and the broker
    state = web.metrics()
    assert sample(state, "pidsync_intake_events_total", type="work.published",
                  duplicate="false") == 3  # fmt: skip
    # ...where nothing waits any more: the state gauges count only what is not settled
    assert "# TYPE pidsync_events gauge" in state
    assert sample(state, "pidsync_events", type="work.published") is None
    assert sample(state, "pidsync_doi_registrations", registrar="datacite") is None
    assert sample(state, "pidsync_events_oldest_unhandled_age_seconds") == 0
    assert sample(state, "pidsync_dead_letters") == 0
    for queue in ("pidsync", "pidsync.DQ", "pidsync.XQ"):
        assert sample(state, "pidsync_queue_messages", queue=queue) is not None, queue
        assert sample(state, "pidsync_queue_oldest_message_age_seconds", queue=queue) is not None
    assert sample(state, "pidsync_state_scrape_error", source="database") == 0
    assert sample(state, "pidsync_state_scrape_error", source="broker") == 0
    # And the scheduler says it leads and which sweeps ran
    sched = scheduler.metrics()
    assert sample(sched, "pidsync_scheduler_leader") == 1
    assert sample(sched, "pidsync_scheduler_job_runs_total", job="resend_stalled_events",
                  outcome="ok") >= 1  # fmt: skip
    # And no endpoint shows a secret (the worker's and scheduler's have no credential)
    secrets = [v for k, v in worker.env.items() if k.endswith(("PASSWORD", "SECRET", "KEYS"))]
    secrets.append(INTAKE_SECRET)
    for scraped in (text, state, sched):
        assert [s for s in secrets if s and s in scraped] == []


def test_queue_depth_and_age_show_work_nobody_takes(cluster: Cluster, redis_client):
    # Given a web app and no worker at all
    web = cluster.start("web", "web")
    cluster.wait_serving(web)
    # When events arrive, their messages wait in the queue
    assert post_events(web, [work_event("q-1"), work_event("q-2")]).status_code == 202
    wait_for(
        lambda: (sample(web.metrics(), "pidsync_queue_messages", queue="pidsync") or 0) >= 2,
        10, "two messages queued", cluster.logs,
    )  # fmt: skip
    # Then the oldest message's age grows while nobody takes it: what the alert watches
    first = sample(web.metrics(), "pidsync_queue_oldest_message_age_seconds", queue="pidsync")
    wait_for(
        lambda: sample(web.metrics(), "pidsync_queue_oldest_message_age_seconds",
                       queue="pidsync") > (first or 0) + 1,
        10, "the oldest message ages", cluster.logs,
    )  # fmt: skip
    assert sample(web.metrics(), "pidsync_events_oldest_unhandled_age_seconds") > 1
