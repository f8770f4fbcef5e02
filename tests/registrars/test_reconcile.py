"""Reconciliation and the scheduler's sweeps: read back, repair drift, re-send lost work."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner

from tests.registrars.flow import (
    crossref_dois,
    crossref_work,
    datacite_dois,
    datacite_work,
    deposit,
    event,
    finish,
    registration,
    sync,
)
from worker.broker import EFFECTS_QUEUE
from worker.clock import utcnow
from worker.models import CrossrefDeposit, DoiState
from worker.registrars import reconcile, sweep
from worker.registrars.datacite.client import DataCiteEvent


def _findable(session, deps, work_id="w-1", **fields):
    event(session, "work.published", datacite_work(work_id, **fields))
    reg = registration(session, work_id)
    assert sync(session, deps, reg) is None
    return registration(session, work_id)


def _crossref_registered(session, deps, work_id="a-1"):
    event(session, "work.published", crossref_work(work_id))
    (deposit_id,) = deposit(session, deps)
    finish(session, deps, deposit_id)
    reg = registration(session, work_id)
    assert reg.state == DoiState.REGISTERED
    return reg, session.get(CrossrefDeposit, deposit_id)


def test_doi_unknown_at_datacite_is_registered_again(session, deps, sandbox):
    reg = _findable(session, deps)
    sandbox.reset()  # DataCite lost it (or never had it: the peers' failure 1)
    finding = reconcile.reconcile_registration(session, deps, reg.id)
    assert (finding.kind, finding.action) == ("unknown_at_agency", "re-register")
    reg = registration(session, "w-1")
    assert reg.pending_hash is not None and reg.confirmed_hash is None
    assert reg.last_error == "reconciliation: DataCite does not know the DOI; sending again"
    assert sync(session, deps, reg) is None
    assert registration(session, "w-1").state == DoiState.FINDABLE
    assert datacite_dois(sandbox)[reg.doi]["state"] == "findable"


def test_metadata_changed_at_datacite_is_updated(session, deps, sandbox):
    reg = _findable(session, deps)
    account = deps.datacite_account("default")
    deps.datacite(account).put_doi(reg.doi, {"titles": [{"title": "Tampered"}]}, None)
    finding = reconcile.reconcile_registration(session, deps, reg.id)
    assert (finding.kind, finding.detail) == ("metadata_differs", "DataCite holds different titles")
    assert sync(session, deps, registration(session, "w-1")) is None
    held = datacite_dois(sandbox)[reg.doi]["metadata"]["titles"]
    assert held == [{"title": "Ocean temperatures 2020"}]


def test_state_changed_at_datacite_is_repaired(session, deps, sandbox):
    reg = _findable(session, deps)
    deps.datacite(deps.datacite_account("default")).put_doi(reg.doi, {}, DataCiteEvent.HIDE)
    finding = reconcile.reconcile_registration(session, deps, reg.id)
    assert finding.kind == "state_differs"
    assert "DataCite has state 'registered', pidsync expects 'findable'" in finding.detail
    sync(session, deps, registration(session, "w-1"))
    assert datacite_dois(sandbox)[reg.doi]["state"] == "findable"


def test_doi_in_sync_is_left_alone(session, deps, sandbox):
    reg = _findable(session, deps)
    finding = reconcile.reconcile_registration(session, deps, reg.id)
    assert finding.kind == "in_sync" and finding.action == "none"
    reg = registration(session, "w-1")
    assert reg.pending_hash is None and reg.reconciled_at is not None


def test_doi_unknown_at_crossref_is_deposited_again(session, deps, sandbox):
    reg, _ = _crossref_registered(session, deps)
    sandbox.reset()
    finding = reconcile.reconcile_registration(session, deps, reg.id)
    assert finding.kind == "unknown_at_agency"
    (again,) = deposit(session, deps)
    finish(session, deps, again)
    assert registration(session, "a-1").state == DoiState.REGISTERED
    assert list(crossref_dois(sandbox)) == [reg.doi]


def test_landing_page_changed_at_crossref_is_deposited_again(session, deps, sandbox):
    reg, first = _crossref_registered(session, deps)
    # Someone deposits the DOI elsewhere with another landing page (and a newer timestamp)
    tampered = re.sub(
        r"<timestamp>\d+</timestamp>",
        f"<timestamp>{reg.last_timestamp + 1}</timestamp>",
        first.content,
    ).replace("https://journal.example.edu/a-1", "https://elsewhere.example.org/a-1")
    client = deps.crossref(deps.crossref_account("default"))
    client.deposit("tampered.xml", tampered.encode())
    deadline = time.monotonic() + 10
    while not client.submission_result("tampered.xml").completed:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert crossref_dois(sandbox)[reg.doi]["url"] == "https://elsewhere.example.org/a-1"
    finding = reconcile.reconcile_registration(session, deps, reg.id)
    assert finding.detail == "Crossref holds a different landing page URL"
    (again,) = deposit(session, deps)
    finish(session, deps, again)
    assert registration(session, "a-1").state == DoiState.REGISTERED
    assert crossref_dois(sandbox)[reg.doi]["url"] == "https://journal.example.edu/a-1"


def test_stuck_deposit_is_polled_again(session, database, deps, sandbox, redis_client):
    event(session, "work.published", crossref_work())
    (deposit_id,) = deposit(session, deps)
    row = session.get(CrossrefDeposit, deposit_id)
    session.commit()
    redis_client.flushdb()  # its poll message was lost
    row.next_poll_at = utcnow() - timedelta(hours=2)
    session.flush()
    assert sweep.deposit_upkeep(database, settings=deps.settings) == 1
    session.refresh(row)
    assert row.next_poll_at > utcnow() - timedelta(seconds=5)
    assert sweep.deposit_upkeep(database, settings=deps.settings) == 0  # not again at once
    messages = redis_client.hvals(f"pidsync:{EFFECTS_QUEUE}.msgs")
    assert len(messages) == 1 and b"registrars.crossref.poll" in messages[0]


def test_lost_messages_are_sent_again_after_the_grace_period(session, database, deps, redis_client):
    event(session, "work.published", datacite_work("w-1"))
    event(session, "work.published", crossref_work("a-1"))
    session.commit()
    redis_client.flushdb()  # Redis restarted without persistence: the messages are gone
    now = utcnow()
    assert sweep.resend_stalled(database, settings=deps.settings, now=now) == 0  # within grace
    later = now + timedelta(seconds=deps.settings.doi.resend_grace_seconds + 60)
    assert sweep.resend_stalled(database, settings=deps.settings, now=later) == 2
    assert sweep.resend_stalled(database, settings=deps.settings, now=later) == 0
    messages = sorted(redis_client.hvals(f"pidsync:{EFFECTS_QUEUE}.msgs"))
    assert len(messages) == 2
    assert (
        b"registrars.crossref.batch" in messages[0] or b"registrars.crossref.batch" in messages[1]
    )
    assert any(b"registrars.datacite.sync" in m for m in messages)


def test_scheduled_reconciliation_takes_due_dois_once(session, database, deps):
    _findable(session, deps, "w-1")
    _findable(session, deps, "w-2")
    session.commit()
    assert sweep.schedule_reconciliation(database, settings=deps.settings) == 2
    assert sweep.schedule_reconciliation(database, settings=deps.settings) == 0
    session.expire_all()
    assert registration(session, "w-1").reconciled_at is not None


def test_reconcile_command_reports_each_doi(session, deps, sandbox, runtime, monkeypatch):
    reg = _findable(session, deps, "w-1")
    _findable(session, deps, "w-2")
    sandbox.reset()
    session.commit()
    from worker.cli import doi as cli

    monkeypatch.setattr(cli, "boot", lambda: runtime)
    runtime.registrars = deps
    result = CliRunner().invoke(cli.reconcile_dois, ["--since", "2000-01-01"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 2 and reg.doi in result.stdout
    assert "unknown_at_agency" in lines[0]
    assert "reconciled 2 DOIs (2 unknown_at_agency)" in result.stderr
    assert "reconciling DOIs: 2/2" in result.stderr  # progress, plain lines off a terminal


def test_an_agency_not_answering_is_read_back_again_after_the_backoff(session, deps, sandbox, logs):
    reg = _findable(session, deps)
    sandbox.set_faults("datacite", error_rate=1)
    finding = reconcile.reconcile_registration(session, deps, reg.id)
    # Then the try is on the row, with the next one, and one warning line says so
    assert finding.kind == "error" and finding.retry_in == pytest.approx(0.01)
    assert finding.as_dict()["retry_in"] == finding.retry_in
    reg = registration(session, "w-1")
    assert reg.retry_count == 1 and reg.next_attempt_at is not None
    assert reg.last_error.startswith("reconciliation: DataCite did not answer usably (try 1)")
    (line,) = [e for e in logs if e["log_level"] in ("warning", "error", "critical")]
    assert line["event"] == "doi_reconcile_retry_scheduled"
    assert not any("exc_info" in e for e in logs)
    # When DataCite answers again, the read-back completes and the row is clean
    sandbox.set_faults("datacite", error_rate=0)
    finding = reconcile.reconcile_registration(session, deps, reg.id)
    assert finding.kind == "in_sync" and finding.retry_in is None
    assert "retry_in" not in finding.as_dict()
    reg = registration(session, "w-1")
    assert (reg.retry_count, reg.last_error, reg.next_attempt_at) == (0, None, None)


def test_read_backs_that_keep_failing_give_up_until_the_next_pass(session, deps, sandbox, tune):
    tune(doi={"max_retries": 2})
    reg = _findable(session, deps)
    sandbox.set_faults("datacite", error_rate=1)
    assert reconcile.reconcile_registration(session, deps, reg.id).retry_in is not None
    finding = reconcile.reconcile_registration(session, deps, reg.id)
    assert finding.kind == "error" and finding.retry_in is None
    reg = registration(session, "w-1")
    assert reg.last_error.startswith("reconciliation gave up after 2 tries")
    assert reg.retry_count == 0 and reg.next_attempt_at is None
    assert reg.state == DoiState.FINDABLE and reg.pending_hash is None


def test_a_refused_read_back_is_not_tried_again(session, deps, sandbox):
    reg = _findable(session, deps)
    deps.settings = deps.settings.model_copy(update={"datacite_password": "wrong-password"})
    finding = reconcile.reconcile_registration(session, deps, reg.id)
    assert finding.kind == "error" and finding.retry_in is None
    reg = registration(session, "w-1")
    assert reg.retry_count == 0 and reg.next_attempt_at is None
