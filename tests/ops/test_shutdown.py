"""Graceful shutdown of every process, and the scheduler's leader replaced when it dies: SIGTERM
(what Kubernetes, compose and systemd send) in the middle of work loses nothing and does
nothing twice."""

from __future__ import annotations

import http.client
import json
import signal
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from tests.conftest import INTAKE_SECRET
from tests.ops.hosts import (
    Cluster,
    datacite_state,
    findable,
    post_events,
    sample,
    wait_for,
    work_event,
)
from tests.ops.hosts import cluster as cluster  # noqa: PLC0414 - the fixture, re-exported
from worker.events.signature import sign
from worker.models import DeadLetter, EventStatus, ReceivedEvent

pytestmark = pytest.mark.slow


def test_a_worker_stopped_mid_work_finishes_what_it_runs_and_hands_back_the_rest(
    cluster: Cluster, committed_database: Any, sandbox
):
    # Given DataCite answering slowly, and one worker of two threads busy with six DOIs
    sandbox.set_faults("datacite", latency_ms=1500)
    web = cluster.start("web", "web")
    first = cluster.start("worker", "worker-1", "--processes", "1", "--threads", "2")
    cluster.wait_serving(web)
    cluster.wait_serving(first)
    assert post_events(web, [work_event(f"s-{n}") for n in range(6)]).status_code == 202
    wait_for(lambda: findable(committed_database) >= 1, 60, "a first DOI", cluster.logs)

    # When it gets SIGTERM while two registrations are in flight at DataCite
    at_signal = findable(committed_database)
    assert first.terminate(signal.SIGTERM, timeout=60) == 0, first.output()

    # Then it finished the calls it had started rather than dropping them
    stopped_with = findable(committed_database)
    assert stopped_with > at_signal, first.output()
    assert "Killing" not in first.output()
    assert stopped_with < 6, "the test needs work left over for the second worker"

    # And another worker does the rest: every DOI registered, each created once at DataCite
    cluster.start("worker", "worker-2", "--processes", "1", "--threads", "2")
    wait_for(lambda: findable(committed_database) == 6, 60, "all six DOIs", cluster.logs)
    dois, by_status = datacite_state(sandbox)
    assert len(dois) == len(set(dois)) == 6
    assert by_status == {"201": 6}
    with committed_database.session() as session:
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0
        statuses = session.scalars(select(ReceivedEvent.status)).all()
    assert statuses == [EventStatus.DONE] * 6


def test_the_web_app_answers_the_request_in_flight_before_it_stops(
    cluster: Cluster, committed_database: Any
):
    # Given a client halfway through sending a batch of events
    web = cluster.start("web", "web")
    cluster.wait_serving(web)
    body = json.dumps([work_event(f"h-{n}") for n in range(3)]).encode()
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
    conn.putrequest("POST", "/events")
    for name, value in {
        "Content-Type": "application/cloudevents-batch+json",
        "Content-Length": str(len(body)),
        "Pidsync-Client": "cris",
        "Pidsync-Signature": sign(INTAKE_SECRET, body),
    }.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(body[: len(body) // 2])
    # (the server has read the request's start: its reply is owed. Signalled before it read
    # them, the server rightly just closes a connection with no request on it: the test's race,
    # seen as a reset on a loaded machine)
    client_port = conn.sock.getsockname()[1]
    wait_for(lambda: _read_by_server(web.port, client_port), 10, "the request read", cluster.logs)

    # When the web app gets SIGTERM
    web.process.send_signal(signal.SIGTERM)
    # Then it takes no new connection...
    wait_for(lambda: _refused(web.url), 10, "new connections refused", cluster.logs)
    assert web.process.poll() is None, "it must still be finishing the request in flight"
    # ...and answers the one in flight: the events are stored, then it exits cleanly
    conn.send(body[len(body) // 2 :])
    response = conn.getresponse()
    assert response.status == 202, response.read()
    assert web.process.wait(timeout=30) == 0, web.output()
    with committed_database.session() as session:
        assert session.scalar(select(func.count()).select_from(ReceivedEvent)) == 3


def _read_by_server(server_port: int, client_port: int) -> bool:
    """Whether the server's end of the connection has nothing left unread (its receive queue
    in /proc/net/tcp is empty): asyncio hands the bytes to uvicorn as it reads them."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, queues = fields[1], fields[2], fields[4]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            return int(queues.split(":")[1], 16) == 0
    return False


def _refused(url: str) -> bool:
    try:
        requests.get(url + "/healthz", timeout=1)
    except requests.ConnectionError:
        return True
    return False


def _leads(host: Any) -> bool:
    try:
        return sample(host.metrics(), "pidsync_scheduler_leader") == 1
    except requests.RequestException:
        return False


def _sweeps(host: Any) -> float:
    text = host.metrics()
    return sample(text, "pidsync_scheduler_job_runs_total", job="resend_stalled_events",
                  outcome="ok") or 0.0  # fmt: skip


@pytest.mark.parametrize("death", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_a_standby_scheduler_takes_over_when_the_leader_goes(cluster: Cluster, death):
    # Given two schedulers on two hosts: one leads, the other stands by
    one = cluster.start("scheduler", "scheduler-1")
    cluster.wait_serving(one)
    wait_for(lambda: _leads(one), 20, "the first scheduler leads", cluster.logs)
    two = cluster.start("scheduler", "scheduler-2")
    cluster.wait_serving(two)
    assert not _leads(two)
    assert _sweeps(two) == 0

    # When the leader is stopped (SIGTERM) or dies (kill -9: no chance to release anything)
    one.terminate(death, timeout=30)

    # Then the standby leads within the lock timeout (at once: the dead session's lock goes
    # with its connection) and the sweeps go on
    wait_for(lambda: _leads(two), 10, "the standby leads", cluster.logs)
    wait_for(lambda: _sweeps(two) >= 2, 10, "the standby sweeps", cluster.logs)
    if death == signal.SIGTERM:
        assert "scheduler_leader_released" in one.output()
