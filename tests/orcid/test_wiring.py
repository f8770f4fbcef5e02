"""Across threads and processes: the per-record lock, real dramatiq workers running the ORCID
actors, ORCID's webhook reaching a real pidsync web server, dead letters, and tokens kept out of
every log line and table."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import structlog
import uvicorn
from sqlalchemy import select, text

from tests.conftest import make_runtime
from tests.orcid.conftest import orcid_settings
from tests.orcid.helpers import authorize, place_pending, publish, researcher
from worker.http import CallRecord, DatabaseRecorder
from worker.models import DeadLetter, OrcidGrant, OrcidPlacement, PlacementState
from worker.orcid import backfill, placements, revocation
from worker.orcid.deps import build
from worker.queues import join_all


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


@pytest.fixture
def port() -> int:
    return _free_port()


@pytest.fixture
def live(sandbox, tmp_path, cipher, committed_database, broker, database_url, redis_url, port):
    """A booted pidsync: web server on ``port`` (ORCID's webhooks reach it), two worker threads."""
    settings = orcid_settings(
        sandbox,
        tmp_path,
        orcid_webhook_base_url=f"http://127.0.0.1:{port}",
        max_retries=2,
        orcid={"max_retries": 4, "retry_backoff": [0.2]},
    )
    runtime = make_runtime(settings, committed_database, broker, cipher, database_url, redis_url)
    from worker.web.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait(lambda: server.started)
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    yield runtime
    worker.stop()
    server.should_exit = True
    thread.join(5)


class Timeline:
    """A recorder that also keeps when each ORCID call ran."""

    def __init__(self, database) -> None:
        self.inner = DatabaseRecorder(database)
        self.calls: list[tuple[str, int | None, float, float]] = []
        self.lock = threading.Lock()

    def __call__(self, record: CallRecord) -> None:
        end = time.monotonic()
        with self.lock:
            self.calls.append((record.method, record.status, end - record.latency_ms / 1000, end))
        self.inner(record)


def test_two_workers_placing_on_one_record_take_turns(
    sandbox, settings, cipher, redis_client, committed_database, broker, client_id
):
    # Given two works for one researcher, and ORCID answering slowly
    with committed_database.session() as session:
        orcid = researcher(sandbox)
        authorize(session, sandbox, cipher, orcid, client_id)
        first, second = publish(session, "w-1", orcid), publish(session, "w-2", orcid)
        ids = [
            session.execute(
                select(OrcidPlacement.id).where(OrcidPlacement.work_id == w.id)
            ).scalar_one()
            for w in (first, second)
        ]
    timeline = Timeline(committed_database)
    deps = build(settings, cipher, redis_client, recorder=timeline)
    sandbox.set_faults("orcid", latency_ms=150)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(placement_id: int) -> None:
        try:
            barrier.wait()
            with committed_database.session() as session:
                placements.place(session, deps, placement_id)
        except BaseException as exc:
            errors.append(exc)

    # When two workers place them at the same moment
    threads = [threading.Thread(target=run, args=(pid,)) for pid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Then both are placed, one write at a time, with no 409 storm
    assert errors == []
    with committed_database.session() as session:
        states = session.execute(select(OrcidPlacement.state)).scalars().all()
    assert states == [PlacementState.PLACED, PlacementState.PLACED]
    posts = sorted((start, end) for method, _s, start, end in timeline.calls if method == "POST")
    assert [s for m, s, *_ in timeline.calls] == [201, 201]
    assert posts[1][0] >= posts[0][1] - 0.01  # the second began after the first ended
    assert len(sandbox.state()["orcid"]["records"][orcid]["works"]) == 2


def test_lock_wait_postpones_instead_of_spending_a_retry(redis_client):
    from worker.errors import Postpone
    from worker.orcid.locks import RecordLocks

    locks = RecordLocks(redis_client, wait=0.1)
    with locks.hold("0000-0002-1825-0097"):
        with pytest.raises(Postpone) as waited, locks.hold("0000-0002-1825-0097"):
            pass
        with locks.hold("0000-0001-5109-3700"):  # another record is free
            pass
    assert "being written by another worker" in waited.value.reason
    with locks.hold("0000-0002-1825-0097"):  # released
        pass


def test_a_record_lock_is_kept_while_held_and_frees_itself_when_its_holder_dies(
    redis_client, redis_url
):
    import subprocess
    import sys
    import time

    from worker.orcid.locks import RecordLocks

    orcid = "0000-0002-1825-0097"
    ours, others = (RecordLocks(redis_client, ttl=0.6, wait=0.05) for _ in range(2))
    # Given a worker holding a record's lock for over three times its expiry (a slow call)
    with ours.hold(orcid):
        time.sleep(2.0)
        # Then no other worker could take it meanwhile: the holder kept renewing it
        assert others.try_acquire(orcid) is None
    token = others.try_acquire(orcid)  # released at the end
    assert token is not None
    others.release(orcid, token)

    # When a worker process holding it is SIGKILLed
    script = (
        "import sys, time, redis\n"
        "from worker.orcid.locks import RecordLocks\n"
        "locks = RecordLocks(redis.Redis.from_url(sys.argv[1]), ttl=0.6)\n"
        "assert locks.try_acquire(sys.argv[2])\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, redis_url, orcid], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        time.sleep(1.0)  # renewed past its first expiry while alive
        assert others.try_acquire(orcid) is None
        holder.kill()
        holder.wait(timeout=10)
        killed = time.monotonic()
        # Then the record is free again within the expiry, not minutes later
        while (token := others.try_acquire(orcid)) is None and time.monotonic() - killed < 5:
            time.sleep(0.05)
        assert token is not None and time.monotonic() - killed < 1.5
    finally:
        holder.kill()


def test_grant_backfill_webhook_and_reconciliation_through_real_workers(
    live, sandbox, committed_database, client_id
):
    sandbox.control("POST", "/orcid/settings", {"webhook_delay": 0.05, "webhook_retry": 0.05})
    # Given a work published before its contributor authorised us
    with committed_database.session() as session:
        orcid = researcher(sandbox)
        work_row = publish(session, "w-1", orcid)
        work_id = work_row.id
    # When the researcher authorises: the workers backfill and register the webhook
    with committed_database.session() as session:
        authorize(session, sandbox, live.cipher, orcid, client_id)

    def placed() -> OrcidPlacement | None:
        with committed_database.session() as session:
            row = session.execute(
                select(OrcidPlacement).where(OrcidPlacement.work_id == work_id)
            ).scalar_one()
            grant = session.execute(select(OrcidGrant)).scalar_one()
            done = row.state == PlacementState.PLACED and grant.webhook_registered_at
            return row if done else None

    row = _wait(placed)
    assert len(sandbox.state()["orcid"]["webhooks"]) == 1

    # When the researcher deletes the work on ORCID: ORCID calls our webhook, a worker
    # reconciles the record
    sandbox.delete_work(orcid, row.put_code)

    def removed() -> bool:
        with committed_database.session() as session:
            state = session.execute(
                select(OrcidPlacement.state).where(OrcidPlacement.work_id == work_id)
            ).scalar_one()
        return state == PlacementState.REMOVED_BY_RESEARCHER

    _wait(removed)
    calls = sandbox.state()["orcid"]["webhook_calls"]
    assert calls and all(c["status"] == 204 for c in calls)


def test_a_transient_failure_postpones_the_message_in_a_real_worker(
    live, sandbox, committed_database, client_id, caplog
):
    # Given an authorised researcher (the token proven), then ORCID answering every call
    # with a 5xx
    with committed_database.session() as session:
        orcid = researcher(sandbox)
        authorize(session, sandbox, live.cipher, orcid, client_id)
    sandbox.set_faults("orcid", error_rate=1.0)
    with committed_database.session() as session:
        work_id = publish(session, "w-1", orcid).id

    def row() -> OrcidPlacement:
        with committed_database.session() as session:
            return session.execute(
                select(OrcidPlacement).where(OrcidPlacement.work_id == work_id)
            ).scalar_one()

    # When a worker's try fails: the try is on the row, the message postponed
    failed = _wait(lambda: (r := row()).attempts >= 1 and r.next_attempt_at and r)
    assert failed.state == PlacementState.PENDING and failed.last_error
    sandbox.set_faults("orcid", error_rate=0)

    # Then the postponed message places the work, with no dead letter and no error logged
    _wait(lambda: row().state == PlacementState.PLACED)
    assert len(sandbox.state()["orcid"]["records"][orcid]["works"]) == 1
    with committed_database.session() as session:
        assert session.execute(select(DeadLetter)).scalars().all() == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_dead_letters_hold_no_token(
    live, sandbox, committed_database, client_id, broker, monkeypatch
):
    from worker.orcid import actors
    from worker.orcid.client import OrcidError

    with committed_database.session() as session:
        orcid = researcher(sandbox)
        _grant, token = authorize(session, sandbox, live.cipher, orcid, client_id)
        row = publish(session, "w-1", orcid)
        pid = session.execute(
            select(OrcidPlacement.id).where(OrcidPlacement.work_id == row.id)
        ).scalar_one()

    def echoing(session, deps, placement_id):
        live.cipher.decrypt(live.cipher.encrypt(token["access_token"]))
        raise OrcidError(
            f"orcid answered 418: Invalid access token: {token['access_token']} "
            f"(refresh {token['refresh_token']})",
            service="orcid",
            status=418,
        )

    monkeypatch.setattr(actors.placements, "place", echoing)
    actors.place_work.send(pid)
    join_all(broker, timeout_ms=10_000)

    with committed_database.session() as session:
        letters = session.execute(select(DeadLetter)).scalars().all()
    assert letters
    for letter in letters:
        assert "Invalid access token" in letter.reason
        assert token["access_token"] not in letter.reason
        assert token["refresh_token"] not in letter.reason


def _all_tables_text(session) -> str:
    tables = (
        "received_events", "orcid_placements", "orcid_grants", "oauth_states", "api_calls",
        "outbound_notifications", "dead_letters", "researchers",
    )  # fmt: skip
    return "\n".join(
        str(row[0])
        for table in tables
        for row in session.execute(text(f"SELECT row_to_json(t)::text FROM {table} t"))
    )


@pytest.fixture
def debug_logging() -> Iterator[None]:
    from worker.logging import configure_logging

    configure_logging("DEBUG", "console")
    yield
    configure_logging("INFO", "console")


def test_no_token_in_any_log_line_or_table(
    sandbox, session, database, cipher, deps, client_id, client, capsys, debug_logging
):
    from tests.orcid.test_consent import callback_path, consent_at_orcid

    orcid = researcher(sandbox)
    with structlog.testing.capture_logs() as captured:
        # Consent through our own routes (token exchange), placements, a lost answer,
        # a revocation detected at ORCID, revocation at ORCID, reconciliation.
        start = client.get("/orcid/connect", follow_redirects=False).headers["location"]
        client.get(callback_path(consent_at_orcid(start, orcid)))
        grant = session.execute(select(OrcidGrant)).scalar_one()
        token = cipher.decrypt(grant.access_token_enc)
        publish(session, "w-1", orcid)
        publish(session, "w-2", orcid)
        backfill.backfill(session, deps, grant.id)
        sandbox.set_faults("orcid", lost_response_rate=1.0)
        publish(session, "w-3", orcid)
        place_pending(session, deps)
        sandbox.set_faults("orcid", lost_response_rate=0)
        sandbox.revoke_token(token)
        publish(session, "w-1", orcid, event_type="work.updated", title="New")
        place_pending(session, deps)
        revocation.revoke_at_orcid(session, deps, grant.id)
        from worker.orcid import reconcile

        reconcile.reconcile_record(session, deps, orcid)
    session.flush()
    refresh = next(
        t["refresh_token"] for t in sandbox.state()["orcid"]["tokens"] if t["access_token"] == token
    )
    output = capsys.readouterr()
    # capture_logs sees loggers first used inside it; the rest reach stderr (DEBUG, rendered)
    logged = repr(captured) + output.out + output.err
    for expected in ("orcid_consent_finished", "orcid_placed", "orcid_grant_revoked", "http_call"):
        assert expected in logged, f"{expected} not logged: the test would prove nothing"
    for secret in (token, refresh):
        assert secret not in logged
        assert secret not in _all_tables_text(session)
