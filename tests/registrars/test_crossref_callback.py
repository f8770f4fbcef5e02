"""Crossref's notification callback: the fast path to a registered DOI, with polling as the
fallback. The route trusts a call only as "poll this submission now": the outcome is always
read from Crossref with pidsync's own credentials, so a forged or early call changes nothing
but when the poll runs."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import timedelta
from typing import Any

import dramatiq
import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from tests.conftest import INTAKE_SECRET, make_runtime
from tests.helpers import event as cloud_event
from tests.helpers import queued_messages, session_database, signed_post
from tests.registrars.flow import calls, crossref_work, deposit, registration
from worker.broker import queue_for
from worker.clock import utcnow
from worker.config import ConfigError, CrossrefSettings, Settings, dump_json, load_settings
from worker.models import CrossrefDeposit, DepositStatus, DoiState
from worker.registrars import sweep
from worker.registrars.crossref import service as crossref

SECRET = "cb-" + "k" * 29
ENDPOINT = "pidsync.test.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _headers(batch_id: str | None, endpoint: str = ENDPOINT, **extra: str) -> dict[str, str]:
    headers = {"CROSSREF-NOTIFY-ENDPOINT": endpoint, **extra}
    if batch_id is not None:
        headers["CROSSREF-EXTERNAL-ID"] = batch_id
    return headers


def _queued(redis_client, actor: str) -> list[list[Any]]:
    """The arguments of ``actor``'s messages waiting in the broker (not delayed)."""
    raw = redis_client.hvals(f"pidsync:{queue_for(actor)}.msgs")  # the broker's namespace
    messages = [json.loads(value) for value in raw]
    return [m["args"] for m in messages if m["actor_name"] == actor]


@pytest.fixture
def callbacks_on(tune):
    return tune(
        crossref={
            "notify_url": SecretStr(f"https://pidsync.example.edu/webhooks/crossref/{SECRET}"),
            "notify_endpoint": ENDPOINT,
        }
    )


def _submitted(session, deps) -> CrossrefDeposit:
    """A work deposited at the sandbox, its first poll ten minutes away."""
    from tests.registrars.flow import event

    event(session, "work.published", crossref_work())
    (deposit_id,) = deposit(session, deps)
    row = session.get(CrossrefDeposit, deposit_id)
    row.next_poll_at = utcnow() + timedelta(minutes=10)
    session.flush()
    return row


# --- the route, as an adversary would call it ---------------------------------------------


def test_a_callback_brings_the_poll_forward_and_is_recorded(
    client, session, deps, sandbox, callbacks_on, redis_client
):
    row = _submitted(session, deps)
    answer = client.post(f"/webhooks/crossref/{SECRET}", headers=_headers(row.doi_batch_id))
    assert answer.status_code == 204, answer.text
    session.refresh(row)
    assert row.notified_at is not None
    assert row.next_poll_at <= utcnow()
    assert _queued(redis_client, "registrars.crossref.poll") == [[row.id]]


@pytest.mark.parametrize(
    ("path_secret", "headers", "status"),
    [
        ("k" * 32, _headers("BATCH"), 404),  # a guessed secret
        (SECRET, _headers("BATCH", endpoint="someone.else"), 403),  # not our endpoint
        (SECRET, {"CROSSREF-EXTERNAL-ID": "BATCH"}, 403),  # no endpoint at all
        (SECRET, _headers(None), 400),  # no batch id
        (SECRET, _headers("x" * 301), 400),  # a batch id no deposit can have
        (SECRET, _headers("pidsync-never-deposited"), 404),  # not one of ours
    ],
)
def test_a_bad_callback_changes_nothing(
    client, session, deps, sandbox, callbacks_on, redis_client, path_secret, headers, status
):
    row = _submitted(session, deps)
    headers = {k: (row.doi_batch_id if v == "BATCH" else v) for k, v in headers.items()}
    answer = client.post(f"/webhooks/crossref/{path_secret}", headers=headers)
    assert answer.status_code == status, answer.text
    session.refresh(row)
    assert row.notified_at is None and row.next_poll_at > utcnow()
    assert _queued(redis_client, "registrars.crossref.poll") == []


def test_callbacks_are_off_unless_configured(client, session, deps, sandbox, redis_client):
    row = _submitted(session, deps)
    answer = client.post(f"/webhooks/crossref/{SECRET}", headers=_headers(row.doi_batch_id))
    assert answer.status_code == 404
    assert _queued(redis_client, "registrars.crossref.poll") == []


def test_a_callback_for_a_finished_deposit_is_acknowledged_without_a_poll(
    client, session, deps, sandbox, callbacks_on, redis_client
):
    row = _submitted(session, deps)
    row.status = DepositStatus.COMPLETED
    row.next_poll_at = None
    session.flush()
    answer = client.post(f"/webhooks/crossref/{SECRET}", headers=_headers(row.doi_batch_id))
    assert answer.status_code == 204
    session.refresh(row)
    assert row.notified_at is not None and row.status == DepositStatus.COMPLETED
    assert _queued(redis_client, "registrars.crossref.poll") == []


def test_an_early_or_forged_callback_only_moves_the_poll(
    client, session, deps, sandbox, callbacks_on
):
    # Given a submission Crossref has not processed yet (and a hostile retrieve URL)
    sandbox.set_crossref_processing(queued_seconds=600)
    row = _submitted(session, deps)
    headers = _headers(row.doi_batch_id, **{"CROSSREF-RETRIEVE-URL": "http://127.0.0.1:9/x"})
    assert client.post(f"/webhooks/crossref/{SECRET}", headers=headers).status_code == 204
    # When the poll it brought forward runs (in its own unit of work, as in a worker)
    session.expire_all()
    assert crossref.poll_deposit(session, deps, row.id) == deps.settings.crossref.poll_delay(1)
    # Then it asked Crossref itself, saw the truth, and went back to its schedule
    session.refresh(row)
    reg = registration(session, "a-1")
    assert row.status == DepositStatus.QUEUED and reg.state == DoiState.SUBMITTED
    polled = [c.url for c in calls(session, "crossref", "GET")]
    assert len(polled) == 1 and "/servlet/submissionDownload?" in polled[0]
    assert "127.0.0.1:9" not in polled[0]


def test_a_repeated_callback_costs_one_poll(client, session, deps, sandbox, callbacks_on):
    # Given Crossref calling back twice for one submission it has finished (a retry of its own)
    row = _submitted(session, deps)
    deadline = time.monotonic() + 30
    while sandbox.state()["crossref"]["submissions"][0]["status"] != "completed":
        assert time.monotonic() < deadline, "the sandbox did not process the deposit"
        time.sleep(0.05)
    for _ in range(2):
        answer = client.post(f"/webhooks/crossref/{SECRET}", headers=_headers(row.doi_batch_id))
        assert answer.status_code == 204
    # When both poll messages run
    for _ in range(2):
        session.expire_all()
        crossref.poll_deposit(session, deps, row.id)
    # Then Crossref was asked once, and the DOI is registered
    assert len(calls(session, "crossref", "GET")) == 1
    assert registration(session, "a-1").state == DoiState.REGISTERED


def test_a_callback_whose_message_is_lost_is_polled_by_the_sweep(
    client, session, deps, sandbox, callbacks_on, redis_client, settings
):
    # Given a callback recorded, and its poll message lost (the broker lost it)
    row = _submitted(session, deps)
    assert (
        client.post(f"/webhooks/crossref/{SECRET}", headers=_headers(row.doi_batch_id)).status_code
        == 204
    )
    redis_client.flushdb()
    # When the sweep runs after the resend grace
    later = utcnow() + timedelta(seconds=settings.doi.resend_grace_seconds + 1)
    session.expire_all()
    assert sweep.deposit_upkeep(session_database(session), settings=deps.settings, now=later) == 1
    # Then the poll is sent again
    assert ("registrars.crossref.poll", (row.id,)) in queued_messages(redis_client)


def test_deposits_carry_the_callback_and_secrets_stay_out_of_the_record(
    session, deps, sandbox, callbacks_on
):
    _submitted(session, deps)
    (submission,) = sandbox.state()["crossref"]["submissions"]
    assert submission["notify"] == {
        "endpoint": ENDPOINT,
        "url": f"https://pidsync.example.edu/webhooks/crossref/{SECRET}",
    }
    recorded = calls(session, "crossref")
    assert recorded and not any(SECRET in c.url + (c.excerpt or "") for c in recorded)


def test_notify_settings_go_together_and_need_a_secret_path():
    with pytest.raises(ValueError, match="go together"):
        CrossrefSettings(notify_endpoint="x")
    with pytest.raises(ValueError, match="secret path segment"):
        CrossrefSettings(notify_url="https://pidsync.example.edu/webhooks/crossref/short")
    with pytest.raises(ValueError, match="https"):
        CrossrefSettings(notify_url=f"http://pidsync.example.edu/webhooks/crossref/{SECRET}")
    section = CrossrefSettings(
        notify_url=f"https://pidsync.example.edu/webhooks/crossref/{SECRET}/",
        notify_endpoint=ENDPOINT,
    )
    assert section.notify_secret == SECRET
    assert SECRET not in repr(section)


def test_the_callback_and_the_schedule_are_read_from_the_environment(monkeypatch):
    assert load_settings(_env_file=None).crossref.poll_schedule[:2] == [5.0, 10.0]
    assert load_settings(_env_file=None).crossref.poll_schedule[-1] == 3600.0
    url = f"https://pidsync.example.edu/webhooks/crossref/{SECRET}"
    monkeypatch.setenv("PIDSYNC_CROSSREF_NOTIFY_URL", url)
    monkeypatch.setenv("PIDSYNC_CROSSREF_NOTIFY_ENDPOINT", ENDPOINT)
    section = load_settings(_env_file=None).crossref
    assert (section.notify_secret, section.notify_endpoint) == (SECRET, ENDPOINT)
    assert SECRET not in dump_json(load_settings(_env_file=None))
    monkeypatch.setenv("PIDSYNC_CROSSREF_NOTIFY_URL", "https://pidsync.example.edu/cb/x")
    with pytest.raises(ConfigError, match=r"^invalid configuration: PIDSYNC_CROSSREF_NOTIFY_URL: "):
        load_settings(_env_file=None)


# --- a live pidsync: the sandbox calls back over HTTP -------------------------------------


@pytest.fixture
def _booted():
    """Overrides the package's rolled-back runtime: the live test commits."""


@pytest.fixture
def live(settings: Settings, committed_database, broker, database_url, redis_url, cipher):
    """pidsync's web server on a free port (Crossref's callbacks reach it) and a worker, with a
    first poll ten minutes after each upload: only a callback can register a DOI sooner."""
    port = _free_port()
    settings = settings.model_copy(
        update={
            "crossref": CrossrefSettings(
                batch_window_seconds=0,
                poll_schedule=[600],
                requests_per_second=1000,
                notify_url=f"http://127.0.0.1:{port}/webhooks/crossref/{SECRET}",
                notify_endpoint=ENDPOINT,
            )
        }
    )
    runtime = make_runtime(settings, committed_database, broker, cipher, database_url, redis_url)
    from worker.web.app import create_app

    app = create_app(runtime)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "pidsync's web server did not start"
        time.sleep(0.02)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    with TestClient(app) as client:
        yield runtime, client
    worker.stop()
    server.should_exit = True
    thread.join(5)


def test_the_callback_registers_the_doi_before_the_first_poll_is_due(live, sandbox):
    runtime, client = live
    # Given Crossref (the sandbox) processing deposits in a moment
    answer = signed_post(
        client, cloud_event("work.published", crossref_work("a-1")), secret=INTAKE_SECRET
    )
    assert answer.status_code == 202, answer.text
    # When Crossref has processed the file and called back
    deadline = time.monotonic() + 30
    while True:
        with runtime.database.session() as session:
            reg = registration_or_none(session, "a-1")
            if reg is not None and reg.state == DoiState.REGISTERED:
                break
        assert time.monotonic() < deadline, "the DOI was not registered"
        time.sleep(0.05)
    # Then the DOI is registered by the one poll the callback brought forward, long before
    # the scheduled one (ten minutes after the upload) was due
    with runtime.database.session() as session:
        (row,) = session.scalars(select(CrossrefDeposit)).all()
        assert row.status == DepositStatus.COMPLETED and row.notified_at is not None
        assert row.completed_at < row.submitted_at + timedelta(minutes=10)
        assert row.poll_count == 1
        assert len(calls(session, "crossref", "GET")) == 1
    made = sandbox.state()["crossref"]["notifications"]
    assert [(n["doi_batch_id"], n["status"]) for n in made] == [(row.doi_batch_id, 204)]


def registration_or_none(session, work_id: str):
    from tests.helpers import SOURCE
    from worker.models import DoiRegistration, Work

    return session.scalars(
        select(DoiRegistration)
        .join(Work, DoiRegistration.work_id == Work.id)
        .where(Work.source == SOURCE, Work.external_id == work_id)
    ).one_or_none()
