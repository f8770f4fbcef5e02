"""The multi-machine claim of DEPLOY.md, proved on one machine: a web app, a scheduler and three
workers started as separate hosts (their own environment, home and data directory; nothing
shared but the Postgres and Redis URLs and the sandbox). The agencies' rate limits hold across
them (the sandbox answers no 429 or 503) and every effect happens exactly once at the sandbox."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from tests.ops.hosts import (
    SOURCE,
    Cluster,
    datacite_state,
    dataset,
    findable,
    post_events,
    sample,
    wait_for,
)
from tests.ops.hosts import cluster as cluster  # noqa: PLC0414 - the fixture, re-exported
from worker.models import OrcidPlacement, PlacementState

pytestmark = pytest.mark.slow

WORKS = 16
#: DataCite's window, shrunk so that three workers would overrun it within seconds if each
#: kept its own count: 10 requests per 3 s, the same at the sandbox and in pidsync's settings.
DATACITE_LIMIT = {
    "PIDSYNC_DATACITE_LIMIT_COUNT": "10",
    "PIDSYNC_DATACITE_LIMIT_WINDOW_SECONDS": "3",
}


def _event(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0", "id": uuid.uuid4().hex, "source": SOURCE, "type": event_type,
        "datacontenttype": "application/json", "data": data,
    }  # fmt: skip


def _placed(database: Any) -> int:
    with database.session() as session:
        states = session.scalars(select(OrcidPlacement.state)).all()
    return sum(1 for s in states if s == PlacementState.PLACED)


def test_hosts_sharing_only_postgres_and_redis_do_each_effect_once_within_the_limits(
    cluster: Cluster, committed_database: Any, sandbox
):
    # Given three researchers who consented, and DataCite's tight window at the sandbox
    sandbox.set_limits(datacite={"limit": 10, "window_seconds": 3})
    researchers = [
        sandbox.add_researcher(given_names=f"R{n}", family_name="Hopper") for n in range(3)
    ]
    web = cluster.start("web", "web-a", **DATACITE_LIMIT)
    scheduler = cluster.start("scheduler", "scheduler-b", **DATACITE_LIMIT)
    workers = [
        cluster.start("worker", f"worker-{host}", "--processes", "1", "--threads", "3",
                      **DATACITE_LIMIT)
        for host in "cde"
    ]  # fmt: skip
    for host in (web, scheduler, *workers):
        cluster.wait_serving(host)
    # Every host has its own data directory and home; only the shared URLs are the same.
    assert len({h.env["PIDSYNC_DATA_DIR"] for h in cluster.hosts}) == len(cluster.hosts)
    assert len({h.env["HOME"] for h in cluster.hosts}) == len(cluster.hosts)
    grants = [_event("researcher.authorized", sandbox.issue_token(orcid)) for orcid in researchers]
    assert post_events(web, grants).status_code == 202

    # When sixteen datasets arrive, each naming one to three of them, in two batches
    expected: Counter[str] = Counter()
    events = []
    for n in range(WORKS):
        authors = researchers[: 1 + n % 3]
        expected.update(authors)
        data = dataset(f"mh-{n}", title=f"Multi-host dataset {n}")
        data["contributors"] = [
            {"given": f"R{i}", "family": "Hopper", "orcid": orcid}
            for i, orcid in enumerate(authors)
        ]
        events.append(_event("work.published", data))
    for half in (events[: WORKS // 2], events[WORKS // 2 :]):
        assert post_events(web, half).status_code == 202

    # Then every DOI is registered and every work placed on each author's record
    wait_for(lambda: findable(committed_database) == WORKS, 120, "all DOIs", cluster.logs)
    wait_for(
        lambda: _placed(committed_database) == sum(expected.values()), 120,
        "all placements", cluster.logs,
    )  # fmt: skip
    # ...exactly once at the agencies: one DOI each, one ORCID work per (work, researcher)
    dois, datacite_status = datacite_state(sandbox)
    assert len(dois) == len(set(dois)) == WORKS
    assert datacite_status.get("201") == WORKS
    state = sandbox.state()
    for orcid in researchers:
        works = state["orcid"]["records"][orcid]["works"]
        titles = [str(w) for w in works]
        assert len(works) == expected[orcid], orcid
        assert len(set(titles)) == len(titles), orcid
    # ...and within the limits: no agency ever had to refuse a call
    for service in ("datacite", "orcid"):
        by_status = state["requests"][service]["by_status"]
        assert not {"429", "503"} & set(by_status), (service, by_status)
        assert state["requests"][service]["rate_limited"] == 0, service
    # The limit was reached, and honoured by waiting: the hosts shared one count.
    waits = [
        sample(w.metrics(), "pidsync_ratelimit_waits_total", limit="datacite", action=action) or 0
        for w in workers
        for action in ("slept", "postponed")
    ]
    assert sum(waits) > 0
    # And the work was spread over the hosts, not done by one of them.
    handled = [
        sample(w.metrics(), "pidsync_messages_total", actor="registrars.datacite.sync",
               outcome="ok") or 0
        for w in workers
    ]  # fmt: skip
    assert sum(1 for n in handled if n > 0) >= 2, handled
    # And the workers' metrics add up to what happened: each placement's latency observed once.
    placed = sum(
        sample(w.metrics(), "pidsync_effect_latency_seconds_count", effect="work_placed",
               service="orcid") or 0
        for w in workers
    )  # fmt: skip
    assert placed == sum(expected.values())
