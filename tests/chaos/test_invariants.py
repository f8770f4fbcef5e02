"""The chaos suite's traffic and checks against a small real stack (the sandbox, a fresh
database, a private Redis, ``pidsync web`` and a worker as child processes): a clean run of a
few dozen events reports every invariant at 0, and each check reports the violation it is
there for once it is put in place (through the sandbox's own API, or a row as a crash would
leave it), then 0 again once it is gone."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests
import sqlalchemy

from worker.bench.stack import Sandbox, Stack, spawn, stop_process
from worker.chaos import invariants
from worker.chaos.invariants import check, pending, quiescent
from worker.chaos.run import sessions_in_transaction
from worker.chaos.traffic import Target, Traffic, intake_clients, two_tenants

SEED = 17
EVENTS = 40


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[Stack, Sandbox, Target]]:
    run = os.environ.get("PIDSYNC_TEST_RUN", "") + os.environ.get("PYTEST_XDIST_WORKER", "")
    tenants = two_tenants()
    with Stack(f"chaos_{run}".rstrip("_")) as servers:
        sandbox = servers.sandbox()
        env = servers.env(sandbox, PIDSYNC_INTAKE_CLIENTS=intake_clients(tenants))
        url = servers.web(env)
        servers.workers(env, processes=1, threads=4)
        scheduler = spawn([sys.executable, "-m", "worker.cli", "scheduler"], env,
                          stdout=subprocess.DEVNULL)  # fmt: skip
        servers.callback(stop_process, scheduler)
        target = Target(url, sandbox.info["control_url"], servers.database_url, tenants,
                        broker_url=servers.redis_url)  # fmt: skip
        yield servers, sandbox, target


def _clean_run(target: Target) -> tuple[Traffic, dict[str, int]]:
    """A seeded run of a few dozen events (with the researchers' own actions at ORCID) until
    the system is quiet, and what the checks found."""
    traffic = Traffic(target, events=EVENTS, seed=SEED)
    rounds = 0
    while traffic.step():
        rounds += 1
        if rounds % 4 == 0:
            traffic.researcher_actions()
    _wait_quiet(target)
    found = invariants.violations(target, traffic)
    # Shown when the test fails: which rows and items broke an invariant.
    print({name: lines for name, lines in found.items() if lines})
    return traffic, {name: len(lines) for name, lines in found.items()}


def _wait_quiet(target: Target, timeout: float = 120.0) -> None:
    """Bounded: the test fails naming what is still pending rather than hanging."""
    deadline = time.monotonic() + timeout
    while not quiescent(target):
        if time.monotonic() > deadline:
            rows = "\n".join(invariants.waiting(target))
            sessions = "\n".join(sessions_in_transaction(target.database_url))
            pytest.fail(
                f"not quiet after {timeout:.0f}s: {pending(target)}\n{rows}\n"
                f"sessions in a transaction:\n{sessions}\nbroker: {_broker_keys(target)}"
            )
        time.sleep(0.5)


def _broker_keys(target: Target) -> dict[str, int]:
    """Where the broker's messages are (queue, delay queue, a worker's ack set)."""
    client = redis.Redis.from_url(target.broker_url)
    try:
        return {
            key.decode(): client.hlen(key)
            if key.endswith(b".msgs")
            else client.zcard(key)
            if client.type(key) == b"zset"
            else client.llen(key)
            if client.type(key) == b"list"
            else client.scard(key)
            if client.type(key) == b"set"
            else -1
            for key in client.scan_iter(match="pidsync:*")
        }
    finally:
        client.close()


@contextlib.contextmanager
def _sql(target: Target, do: str, undo: str, **params: Any) -> Iterator[None]:
    """A row as a crash or a bug would leave it, committed (the checks read with their own
    connection), and put back afterwards."""
    engine = sqlalchemy.create_engine(target.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(do), params)
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(undo), params)
        engine.dispose()


def _one(target: Target, sql: str) -> Any:
    engine = sqlalchemy.create_engine(target.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text(sql)).first()
    finally:
        engine.dispose()


def _placed(sandbox: Sandbox, traffic: Traffic) -> tuple[str, dict[str, Any]]:
    """A work pidsync placed on the record of a researcher who can still be written to."""
    usable = invariants._usable(sandbox.state(), traffic)
    for orcid, record in sorted(sandbox.state()["orcid"]["records"].items()):
        if orcid in usable and record["works"]:
            return orcid, record["works"][0]
    pytest.fail("the clean run placed no work for a researcher with a usable grant")


# --- the traffic ----------------------------------------------------------------------------------


def _offline() -> Target:
    return Target("http://127.0.0.1:9", "http://127.0.0.1:9", "", two_tenants())


def test_a_seed_replays_the_same_traffic_and_another_seed_does_not():
    # Given the same seed twice and another one (nothing is sent: planning is pure)
    first = Traffic(_offline(), events=300, seed=5).schedule()
    again = Traffic(_offline(), events=300, seed=5).schedule()
    other = Traffic(_offline(), events=300, seed=6).schedule()
    # Then the first two plan the same sends in the same order, the third does not
    assert first == again
    assert first != other


def test_the_traffic_plans_every_event_type_from_both_tenants_with_races():
    schedule = Traffic(_offline(), events=300, seed=5).schedule()
    sends = [event for send in schedule for event in send]
    types = {event.split()[1] for event in sends}
    assert types >= {
        "work.published", "work.updated", "work.withdrawn",
        "affiliation.published", "affiliation.updated", "affiliation.withdrawn",
        "funding.published", "funding.updated", "funding.withdrawn",
        "researcher.authorized", "researcher.revoked",
    }  # fmt: skip
    assert {event.split()[0] for event in sends} == {"tenant0", "tenant1"}
    assert any("duplicate" in event for event in sends)
    assert any("out-of-order" in event for event in sends)
    assert any(len(send) > 1 for send in schedule)  # sent at once from threads
    assert any("cross" in event for event in sends)


# --- a clean run ---------------------------------------------------------------------------------


def test_a_clean_run_holds_every_invariant_and_each_check_catches_its_violation(stack):
    # One stack for the whole story (a test per check would start one per xdist worker).
    _servers, sandbox, target = stack
    traffic, found = _clean_run(target)
    # The traffic did what it says: races, duplicates, both tenants, researchers at ORCID
    assert traffic.sent >= EVENTS
    assert traffic.duplicates > 0
    assert traffic.concurrent > 0
    assert traffic.cross_tenant_refused > 0
    assert traffic.researcher_actions_done > 0
    # And nothing was lost, duplicated, stranded or left unconverged
    assert found == dict.fromkeys(found, 0), found
    assert set(found) >= {
        "duplicate_dois", "duplicate_orcid_works", "lost_events", "looping_messages",
        "unconverged_works", "stranded_placements", "orcid_dois_unknown_to_agency",
    }  # fmt: skip
    # Then each violation, put in place on its own, is counted once (and gone once undone)
    for catches in (
        _a_second_copy_of_a_work_on_a_record_is_a_duplicate,
        _a_withdrawn_work_still_on_a_record_is_unconverged,
        _a_doi_on_orcid_the_agency_does_not_hold_is_reported,
        _a_second_doi_for_a_landing_page_is_a_duplicate_doi,
        _an_event_left_waiting_is_lost,
        _a_placement_waiting_for_consent_that_was_given_is_stranded,
        _a_row_tried_without_end_and_a_message_retried_past_its_bound_are_looping,
        _a_row_of_one_tenant_owned_by_the_other_is_a_cross_tenant_write,
    ):
        catches(sandbox, target, traffic)
        assert check(target, traffic) == found, catches.__name__


# --- each check catches its violation -------------------------------------------------------------


def _a_second_copy_of_a_work_on_a_record_is_a_duplicate(sandbox, target, traffic):
    orcid, work = _placed(sandbox, traffic)
    # Given a second work from pidsync's client carrying the same self ids
    body = {k: v for k, v in work["work"].items() if k != "put-code"}
    added = sandbox.control("POST", f"/orcid/researchers/{orcid}/works",
                            {"client_id": work["source_client_id"], "work": body})  # fmt: skip
    try:
        assert check(target, traffic)["duplicate_orcid_works"] == 1
    finally:
        sandbox.control("DELETE", f"/orcid/researchers/{orcid}/works/{added['put_code']}")
    assert check(target, traffic)["duplicate_orcid_works"] == 0


def _a_withdrawn_work_still_on_a_record_is_unconverged(sandbox, target, traffic):
    usable = invariants._usable(sandbox.state(), traffic)
    withdrawn = [
        (e, orcid) for e in traffic.expected() if e.kind == "work" and e.withdrawn
        for orcid in e.orcids if orcid in usable
    ]  # fmt: skip
    assert withdrawn, "the seed withdraws no work of a researcher with a usable grant"
    expected, orcid = withdrawn[0]
    _, placed = _placed(sandbox, traffic)
    # Given a work with the withdrawn item's source-work-id back on the record
    ids = {"external-id": [{"external-id-type": "source-work-id", "external-id-value":
                            expected.source_work_id, "external-id-relationship": "self"}]}  # fmt: skip
    body = {"title": {"title": {"value": "Withdrawn yet here"}}, "type": "data-set",
            "external-ids": ids}  # fmt: skip
    added = sandbox.control("POST", f"/orcid/researchers/{orcid}/works",
                            {"client_id": placed["source_client_id"], "work": body})  # fmt: skip
    try:
        assert check(target, traffic)["unconverged_works"] == 1
    finally:
        sandbox.control("DELETE", f"/orcid/researchers/{orcid}/works/{added['put_code']}")


def _a_doi_on_orcid_the_agency_does_not_hold_is_reported(sandbox, target, traffic):
    orcid, placed = _placed(sandbox, traffic)
    prefix = sandbox.info["env"]["PIDSYNC_DATACITE_PREFIX"]
    ids = {"external-id": [{"external-id-type": "doi", "external-id-value": f"{prefix}/nowhere",
                            "external-id-relationship": "self"}]}  # fmt: skip
    body = {"title": {"title": {"value": "Nowhere"}}, "type": "data-set", "external-ids": ids}
    added = sandbox.control("POST", f"/orcid/researchers/{orcid}/works",
                            {"client_id": placed["source_client_id"], "work": body})  # fmt: skip
    try:
        assert check(target, traffic)["orcid_dois_unknown_to_agency"] == 1
    finally:
        sandbox.control("DELETE", f"/orcid/researchers/{orcid}/works/{added['put_code']}")


def _a_second_doi_for_a_landing_page_is_a_duplicate_doi(sandbox, target, traffic):
    env = sandbox.info["env"]
    registered = _one(target, "SELECT w.metadata->>'url' FROM works w "
                      "JOIN doi_registrations r ON r.work_id = w.id LIMIT 1")  # fmt: skip
    assert registered is not None, "the clean run registered no DOI"
    # Given a second DOI at DataCite for a page that already has one, minted outside the DB
    doi = f"{env['PIDSYNC_DATACITE_PREFIX']}/chaos-twin"
    attributes = {"doi": doi, "url": registered[0]}
    auth = (env["PIDSYNC_DATACITE_REPOSITORY_ID"], env["PIDSYNC_DATACITE_PASSWORD"])
    answer = requests.put(
        f"{env['PIDSYNC_DATACITE_URL'].rstrip('/')}/dois/{doi}",
        json={"data": {"type": "dois", "attributes": attributes}},
        auth=auth,
        headers={"Content-Type": "application/vnd.api+json"},
        timeout=30,
    )
    assert answer.status_code in (200, 201), answer.text
    try:
        assert check(target, traffic)["duplicate_dois"] == 1
    finally:
        requests.delete(answer.url, auth=auth, timeout=30).raise_for_status()


def _an_event_left_waiting_is_lost(sandbox, target, traffic):
    source = target.tenants[0].source
    # Given an accepted event whose message was lost and that nothing picked up again
    with _sql(
        target,
        "INSERT INTO received_events (receipt, source, event_id, type, client_id,"
        " correlation_id, data, options, status, attempts)"
        " VALUES (gen_random_uuid(), :source, 'chaos-left', 'work.published', 'cris-a', 'c',"
        " '{}', '{}', 'received', 0)",
        "DELETE FROM received_events WHERE event_id = 'chaos-left'",
        source=source,
    ):
        assert check(target, traffic)["lost_events"] == 1
        # And the system is not quiet while it waits
        assert pending(target)["events"] == 1
        assert not quiescent(target)
    assert quiescent(target)


def _a_placement_waiting_for_consent_that_was_given_is_stranded(sandbox, target, traffic):
    _orcid, placed = _placed(sandbox, traffic)
    row = _one(target, f"SELECT id FROM orcid_placements WHERE put_code = {placed['put_code']}")
    assert row is not None
    with _sql(
        target,
        "UPDATE orcid_placements SET state = 'awaiting_consent' WHERE id = :id",
        "UPDATE orcid_placements SET state = 'placed' WHERE id = :id",
        id=row[0],
    ):
        assert check(target, traffic)["stranded_placements"] == 1
    assert check(target, traffic)["stranded_placements"] == 0


def _a_row_tried_without_end_and_a_message_retried_past_its_bound_are_looping(
    sandbox, target, traffic
):
    with _sql(
        target,
        "UPDATE received_events SET attempts = attempts + 100 WHERE id = (SELECT min(id) FROM"
        " received_events)",
        "UPDATE received_events SET attempts = attempts - 100 WHERE id = (SELECT min(id) FROM"
        " received_events)",
    ):
        assert check(target, traffic)["looping_messages"] == 1
    # A message going round the broker (kept off the queue the workers read)
    client = redis.Redis.from_url(target.broker_url)
    message = {"actor_name": "orcid.place", "args": [1], "options": {"retries": 40}}
    client.hset("pidsync:chaos-test.msgs", "m-1", json.dumps(message))
    try:
        assert check(target, traffic)["looping_messages"] == 1
    finally:
        client.delete("pidsync:chaos-test.msgs")
    assert check(target, traffic)["looping_messages"] == 0


def _a_row_of_one_tenant_owned_by_the_other_is_a_cross_tenant_write(sandbox, target, traffic):
    a, b = target.tenants
    with _sql(
        target,
        "UPDATE works SET client_id = :b WHERE id = (SELECT min(id) FROM works WHERE source = :s)",
        "UPDATE works SET client_id = :a WHERE id = (SELECT min(id) FROM works WHERE source = :s)",
        a=a.client_id, b=b.client_id, s=a.source,
    ):  # fmt: skip
        assert check(target, traffic)["cross_tenant_writes"] == 1
