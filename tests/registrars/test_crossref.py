"""Crossref: deposits coalesced into batch files, followed to their outcome record by record,
with growing timestamps, stale flags, lost answers and crashes, against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.helpers import session_database
from tests.registrars.flow import (
    calls,
    crossref_dois,
    crossref_work,
    deposit,
    event,
    finish,
    registration,
    upload,
    webhooks,
)
from worker.models import (
    CrossrefDeposit,
    CrossrefDepositRecord,
    DepositStatus,
    DoiState,
    RecordOutcome,
)
from worker.registrars import sweep
from worker.registrars.crossref import service as crossref
from worker.registrars.crossref.client import SubmissionStatus, parse_result
from worker.registrars.service import release


def _registered(session, deps, work_id="a-1", **fields):
    event(session, "work.published", crossref_work(work_id, **fields))
    (deposit_id,) = deposit(session, deps)
    finish(session, deps, deposit_id)
    reg = registration(session, work_id)
    assert reg.state == DoiState.REGISTERED, reg.last_error
    return reg


def _records(session, reg):
    return list(
        session.execute(
            select(CrossrefDepositRecord)
            .where(CrossrefDepositRecord.registration_id == reg.id)
            .order_by(CrossrefDepositRecord.id)
        ).scalars()
    )


def test_publish_deposits_polls_and_registers(session, deps, sandbox):
    outcome = event(session, "work.published", crossref_work())
    reg = registration(session, "a-1")
    assert f"DOI {reg.doi} reserved" in outcome.message and reg.doi.startswith("10.32013/")
    # When the batch is built and uploaded
    (deposit_id,) = deposit(session, deps)
    reg = registration(session, "a-1")
    row = session.get(CrossrefDeposit, deposit_id)
    # Then the DOI is submitted, not registered, until Crossref has processed the file
    assert reg.state == DoiState.SUBMITTED
    assert row.status == DepositStatus.SUBMITTED and row.file_name.startswith("pidsync-default-")
    assert webhooks(session, "doi.registered") == []
    # When polling finds the submission completed
    row = finish(session, deps, deposit_id)
    reg = registration(session, "a-1")
    assert row.status == DepositStatus.COMPLETED and row.poll_count >= 1
    assert reg.state == DoiState.REGISTERED and reg.warning is None
    held = crossref_dois(sandbox)
    assert list(held) == [reg.doi]
    assert held[reg.doi]["url"] == "https://journal.example.edu/a-1"
    assert held[reg.doi]["timestamp"] == reg.last_timestamp
    assert [r.status for r in _records(session, reg)] == ["Success"]
    assert [w.payload["state"] for w in webhooks(session, "doi.registered")] == ["registered"]


def test_credentials_never_reach_the_call_record(session, deps, sandbox, settings):
    _registered(session, deps)
    password = settings.crossref_password.get_secret_value()
    recorded = calls(session, "crossref")
    assert recorded[0].method == "POST" and recorded[0].url.endswith("/servlet/deposit")
    polled = [c.url for c in recorded if c.method == "GET"]
    assert polled and all("pwd=[REDACTED]" in url and "file_name=pidsync-" in url for url in polled)
    assert not any(password in (c.url + (c.excerpt or "")) for c in recorded)


def test_update_redeposits_with_a_newer_timestamp_and_unchanged_sends_nothing(
    session, deps, sandbox
):
    reg = _registered(session, deps, version=1)
    first = reg.last_timestamp
    outcome = event(session, "work.updated", crossref_work(version=2, title="Renamed"))
    assert "update queued" in outcome.message
    (deposit_id,) = deposit(session, deps)
    finish(session, deps, deposit_id)
    reg = registration(session, "a-1")
    assert reg.state == DoiState.REGISTERED and reg.last_timestamp > first
    assert crossref_dois(sandbox)[reg.doi]["title"] == ["Renamed"]
    # A newer version that changes nothing Crossref sees is not deposited
    outcome = event(session, "work.updated", crossref_work(version=3, title="Renamed"))
    assert "nothing sent" in outcome.message
    assert deposit(session, deps) == []
    assert len(sandbox.state()["crossref"]["submissions"]) == 2


def test_withdrawal_redeposits_pointing_at_the_tombstone(session, deps, sandbox):
    reg = _registered(session, deps, version=1)
    tombstone = "https://journal.example.edu/withdrawn/a-1"
    event(session, "work.withdrawn", {"id": "a-1", "version": 2, "tombstone_url": tombstone})
    (deposit_id,) = deposit(session, deps)
    finish(session, deps, deposit_id)
    reg = registration(session, "a-1")
    assert reg.state == DoiState.WITHDRAWN
    assert crossref_dois(sandbox)[reg.doi]["url"] == tombstone
    assert [r.intent for r in _records(session, reg)] == ["register", "withdraw"]
    assert [w.payload["doi"] for w in webhooks(session, "doi.withdrawn")] == [reg.doi]


def test_withdrawal_without_tombstone_is_reported_not_deposited(session, deps, sandbox):
    reg = _registered(session, deps)
    outcome = event(session, "work.withdrawn", {"id": "a-1"})
    assert "needs tombstone_url" in outcome.message
    reg = registration(session, "a-1")
    assert reg.state == DoiState.REGISTERED  # the truth: it still resolves
    assert "still points at the landing page" in reg.warning
    assert deposit(session, deps) == []


def test_one_failing_and_one_warning_record_fail_only_that_record(session, deps, sandbox):
    for work_id in ("a-1", "a-2", "a-3"):
        event(session, "work.published", crossref_work(work_id))
    ok, warned, failed = (registration(session, w) for w in ("a-1", "a-2", "a-3"))
    sandbox.crossref_force_outcome(warned.doi, "Warning", "Added with conflict")
    sandbox.crossref_force_outcome(failed.doi, "Failure", "Title is not unique in journal")
    (deposit_id,) = deposit(session, deps)  # one file for all three
    finish(session, deps, deposit_id)
    ok, warned, failed = (registration(session, w) for w in ("a-1", "a-2", "a-3"))
    assert ok.state == DoiState.REGISTERED and ok.warning is None
    assert warned.state == DoiState.REGISTERED
    assert warned.warning == "Crossref: Added with conflict"  # kept and shown
    assert failed.state == DoiState.FAILED
    assert failed.last_error == "Crossref refused the record: Title is not unique in journal"
    assert failed.error_details == [{"status": "Failure", "msg": "Title is not unique in journal"}]
    assert set(crossref_dois(sandbox)) == {ok.doi, warned.doi}
    assert [w.payload["doi"] for w in webhooks(session, "doi.failed")] == [failed.doi]
    registered = {w.payload["doi"]: w.payload for w in webhooks(session, "doi.registered")}
    assert registered[warned.doi]["warning"] == "Crossref: Added with conflict"


def test_deposits_close_together_are_coalesced_per_account_prefix_and_kind(
    session, deps, sandbox, tune
):
    tune(crossref={"batch_max_records": 2})
    for work_id in ("a-1", "a-2", "a-3"):
        event(session, "work.published", crossref_work(work_id))
    event(session, "work.published", crossref_work("d-1", type="dataset", container=None))
    event(
        session,
        "work.published",
        crossref_work("o-1", registration={"registrar": "crossref", "account": "other"}),
    )
    first = crossref.prepare_batches(session, deps, "default", "10.32013")
    second = crossref.prepare_batches(session, deps, "default", "10.32013")
    other = crossref.prepare_batches(session, deps, "other", "10.80002")
    files = {
        d.id: sorted(r.doi.split("/")[0] + ":" + r.intent for r in d.records)
        for d in session.execute(select(CrossrefDeposit)).scalars()
    }
    assert len(first) == 1 and len(second) == 2 and len(other) == 1
    assert sorted(len(records) for records in files.values()) == [1, 1, 1, 2]
    assert crossref.prepare_batches(session, deps, "default", "10.32013") == []
    for deposit_id in [*first, *second, *other]:
        upload(session, deps, deposit_id)
        finish(session, deps, deposit_id)
    assert len(crossref_dois(sandbox)) == 5
    journal = session.get(CrossrefDeposit, first[0]).content
    assert journal.count("<journal_article") == 2


def test_timestamps_only_grow_per_doi_even_when_the_clock_goes_back(session, deps, sandbox):
    event(session, "work.published", crossref_work(version=1))
    later = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    (first,) = crossref.prepare_batches(session, deps, "default", "10.32013", now=later)
    reg = registration(session, "a-1")
    assert reg.last_timestamp == 20300102030405678
    assert (
        f"<timestamp>{reg.last_timestamp}</timestamp>"
        in session.get(CrossrefDeposit, first).content
    )
    upload(session, deps, first)
    finish(session, deps, first)
    # When the next deposit is built with an earlier clock (a skewed machine)
    event(session, "work.updated", crossref_work(version=2, title="again"))
    (second,) = crossref.prepare_batches(
        session, deps, "default", "10.32013", now=later - timedelta(days=1)
    )
    reg = registration(session, "a-1")
    # Then the timestamp is last + 1, and Crossref accepts it
    assert reg.last_timestamp == 20300102030405679
    upload(session, deps, second)
    finish(session, deps, second)
    assert registration(session, "a-1").state == DoiState.REGISTERED
    assert crossref.next_timestamp(later, None) == 20300102030405678
    assert crossref.next_timestamp(later, 20990101000000000) == 20990101000000001


def test_not_newer_failure_for_an_accepted_payload_counts_as_done(session, deps, sandbox):
    # Given Crossref accepted the record with a timestamp far in the future
    event(session, "work.published", crossref_work())
    future = datetime(2090, 1, 1, tzinfo=UTC)
    (first,) = crossref.prepare_batches(session, deps, "default", "10.32013", now=future)
    upload(session, deps, first)
    finish(session, deps, first)
    # And pidsync lost its record of that timestamp (restored from a backup), then re-sends
    reg = registration(session, "a-1")
    reg.last_timestamp = None
    session.flush()
    release(session, reg.work.source, "a-1", force=True, settings=deps.settings)
    (again,) = deposit(session, deps)
    finish(session, deps, again)
    reg = registration(session, "a-1")
    # Then Crossref's "not newer" refusal of the same payload is treated as already done
    assert _records(session, reg)[-1].status == "Failure"
    assert "less or equal to previously submitted version" in _records(session, reg)[-1].message
    assert reg.state == DoiState.REGISTERED and reg.last_error is None
    # But a changed payload refused as not newer is a failure a person must see
    reg.last_timestamp = None
    session.flush()
    event(session, "work.updated", crossref_work(title="changed"))
    (changed,) = deposit(session, deps)
    finish(session, deps, changed)
    reg = registration(session, "a-1")
    assert reg.state == DoiState.FAILED
    assert "less or equal to previously submitted version" in reg.last_error


def test_stale_submission_is_flagged_and_polling_goes_on(session, deps, sandbox, tune):
    tune(crossref={"stale_after_seconds": 0.001})
    sandbox.set_crossref_processing(queued_seconds=3600)
    event(session, "work.published", crossref_work())
    (deposit_id,) = deposit(session, deps)
    row = session.get(CrossrefDeposit, deposit_id)
    row.next_poll_at = None
    delay = crossref.poll_deposit(session, deps, deposit_id)
    session.refresh(row)
    reg = registration(session, "a-1")
    assert delay == 0.05  # still polling
    assert row.status == DepositStatus.QUEUED and row.stale and row.stale_at is not None
    assert "still queued after" in reg.warning and reg.state == DoiState.SUBMITTED
    assert [w.payload["deposit"] for w in webhooks(session, "doi.stale")] == [row.file_name]
    # Flagged once, however often it is polled
    row.next_poll_at = None
    crossref.poll_deposit(session, deps, deposit_id)
    assert len(webhooks(session, "doi.stale")) == 1
    # When Crossref gets to it, the outcome applies as usual
    sandbox.set_crossref_processing(queued_seconds=0)
    finish(session, deps, deposit_id)
    reg = registration(session, "a-1")
    assert reg.state == DoiState.REGISTERED and reg.warning is None


def test_lost_upload_answer_reuploads_the_same_file_and_registers_once(session, deps, sandbox):
    event(session, "work.published", crossref_work())
    (deposit_id,) = crossref.prepare_batches(session, deps, "default", "10.32013")
    sandbox.set_faults("crossref", lost_response_rate=1)
    assert crossref.upload_deposit(session, deps, deposit_id) == pytest.approx(0.01)
    row = session.get(CrossrefDeposit, deposit_id)
    assert row.status == DepositStatus.PREPARED and "upload try 1" in row.last_error
    sandbox.set_faults("crossref", lost_response_rate=0)
    row.next_poll_at = None
    assert crossref.upload_deposit(session, deps, deposit_id) is None
    finish(session, deps, deposit_id)
    submissions = sandbox.state()["crossref"]["submissions"]
    assert [s["file_name"] for s in submissions] == [row.file_name, row.file_name]
    assert registration(session, "a-1").state == DoiState.REGISTERED
    assert len(crossref_dois(sandbox)) == 1


class Killed(Exception):
    """The worker died after Crossref queued the file, before the local commit."""


def test_worker_killed_after_upload_catches_up_without_a_second_doi(
    session, database, deps, sandbox
):
    event(session, "work.published", crossref_work())
    (deposit_id,) = crossref.prepare_batches(session, deps, "default", "10.32013")
    with pytest.raises(Killed), database.session() as doomed:
        assert crossref.upload_deposit(doomed, deps, deposit_id) is None
        raise Killed
    session.expire_all()
    assert session.get(CrossrefDeposit, deposit_id).status == DepositStatus.PREPARED
    assert crossref.upload_deposit(session, deps, deposit_id) is None
    finish(session, deps, deposit_id)
    assert registration(session, "a-1").state == DoiState.REGISTERED
    assert len(crossref_dois(sandbox)) == 1


def test_refused_upload_fails_each_doi_with_the_reason(session, deps, sandbox):
    event(session, "work.published", crossref_work())
    deps.settings = deps.settings.model_copy(update={"crossref_password": "wrong"})
    (deposit_id,) = crossref.prepare_batches(session, deps, "default", "10.32013")
    assert crossref.upload_deposit(session, deps, deposit_id) is None
    row = session.get(CrossrefDeposit, deposit_id)
    reg = registration(session, "a-1")
    assert row.status == DepositStatus.FAILED
    assert reg.state == DoiState.FAILED and "Crossref refused the upload (401)" in reg.last_error
    assert "Wrong credentials" in reg.last_error
    assert len(webhooks(session, "doi.failed")) == 1


def test_polling_errors_are_retried(session, deps, sandbox):
    event(session, "work.published", crossref_work())
    (deposit_id,) = deposit(session, deps)
    sandbox.set_faults("crossref", error_rate=1)
    row = session.get(CrossrefDeposit, deposit_id)
    row.next_poll_at = None
    assert crossref.poll_deposit(session, deps, deposit_id) == 0.05
    assert "poll try 1 failed" in row.last_error and row.status == DepositStatus.SUBMITTED
    sandbox.set_faults("crossref", error_rate=0)
    finish(session, deps, deposit_id)
    assert registration(session, "a-1").state == DoiState.REGISTERED


def test_uploads_wait_while_the_crossref_queue_budget_is_spent(session, deps, sandbox, tune):
    tune(crossref={"max_pending_submissions": 1})
    sandbox.set_crossref_processing(queued_seconds=3600)
    event(session, "work.published", crossref_work("a-1"))
    deposit(session, deps)
    event(session, "work.published", crossref_work("a-2"))
    (waiting,) = crossref.prepare_batches(session, deps, "default", "10.32013")
    assert crossref.upload_deposit(session, deps, waiting) == 0.05
    row = session.get(CrossrefDeposit, waiting)
    assert row.status == DepositStatus.PREPARED and "budget 1" in row.last_error
    assert len(sandbox.state()["crossref"]["submissions"]) == 1


def test_change_during_a_deposit_in_flight_is_deposited_after_it(session, deps, sandbox):
    event(session, "work.published", crossref_work(version=1))
    (first,) = deposit(session, deps)
    event(session, "work.updated", crossref_work(version=2, title="Second thoughts"))
    assert crossref.prepare_batches(session, deps, "default", "10.32013") == []  # waits
    finish(session, deps, first)
    reg = registration(session, "a-1")
    assert reg.state == DoiState.REGISTERED and reg.pending_hash is not None
    (second,) = deposit(session, deps)
    finish(session, deps, second)
    reg = registration(session, "a-1")
    assert reg.pending_hash is None
    assert crossref_dois(sandbox)[reg.doi]["title"] == ["Second thoughts"]


def test_a_refused_poll_fails_the_deposit_and_is_not_polled_again(session, deps, sandbox):
    event(session, "work.published", crossref_work())
    (deposit_id,) = deposit(session, deps)
    # Given the account's password changed after the upload
    deps.settings = deps.settings.model_copy(update={"crossref_password": "wrong"})
    row = session.get(CrossrefDeposit, deposit_id)
    row.next_poll_at = None
    # When the poll is refused (401)
    assert crossref.poll_deposit(session, deps, deposit_id) is None
    # Then the deposit and its DOI failed with the reason, and nothing polls it again
    reg = registration(session, "a-1")
    assert row.status == DepositStatus.FAILED and row.next_poll_at is None
    assert reg.state == DoiState.FAILED and reg.open_deposit_id is None
    assert "Crossref refused polling (401)" in reg.last_error
    assert [w.payload["doi"] for w in webhooks(session, "doi.failed")] == [reg.doi]
    session.commit()
    assert sweep.deposit_upkeep(session_database(session), settings=deps.settings) == 0
    assert crossref.poll_deposit(session, deps, deposit_id) is None
    assert len(calls(session, "crossref", "GET")) == 1


def test_polls_that_keep_failing_give_up_with_a_reason(session, deps, sandbox, tune, logs):
    tune(doi={"max_retries": 2})
    event(session, "work.published", crossref_work())
    (deposit_id,) = deposit(session, deps)
    sandbox.set_faults("crossref", error_rate=1)
    row = session.get(CrossrefDeposit, deposit_id)
    row.next_poll_at = None
    assert crossref.poll_deposit(session, deps, deposit_id) == 0.05
    # One warning line for the retry, no traceback
    (line,) = [e for e in logs if e["log_level"] in ("warning", "error", "critical")]
    assert (line["event"], line["step"], line["log_level"]) == (
        "crossref_retry_scheduled",
        "poll",
        "warning",
    )
    assert not any("exc_info" in e for e in logs)
    row.next_poll_at = None
    assert crossref.poll_deposit(session, deps, deposit_id) is None
    reg = registration(session, "a-1")
    assert row.status == DepositStatus.FAILED
    assert reg.state == DoiState.FAILED and "gave up after 2 tries to poll" in reg.last_error


def test_an_answered_poll_starts_the_count_of_failed_tries_again(session, deps, sandbox, tune):
    tune(doi={"max_retries": 2})
    sandbox.set_crossref_processing(queued_seconds=3600)
    event(session, "work.published", crossref_work())
    (deposit_id,) = deposit(session, deps)
    row = session.get(CrossrefDeposit, deposit_id)
    for faults in (1, 0, 1):
        sandbox.set_faults("crossref", error_rate=faults)
        row.next_poll_at = None
        assert crossref.poll_deposit(session, deps, deposit_id) == 0.05
    assert row.status == DepositStatus.QUEUED and row.retry_count == 1


def test_crossref_words_are_read_into_states():
    diagnostic = b"""<?xml version="1.0" encoding="UTF-8"?>
    <doi_batch_diagnostic status="completed" sp="sandbox">
      <submission_id>1</submission_id><batch_id>b-1</batch_id>
      <record_diagnostic status="Success"><doi>10.32013/A</doi><msg>Successfully added</msg>
      </record_diagnostic>
      <record_diagnostic status="Warning"><doi>10.32013/b</doi><msg>Added with conflict</msg>
      </record_diagnostic>
      <record_diagnostic status="Failure"><doi>10.32013/c</doi><msg>Record not processed
        because submitted version: 1 is less or equal to previously submitted version 2</msg>
      </record_diagnostic>
      <record_diagnostic status="Deferred"><doi>10.32013/d</doi></record_diagnostic>
    </doi_batch_diagnostic>"""
    result = parse_result(diagnostic)
    assert result.status is SubmissionStatus.COMPLETED and result.completed
    assert [(r.doi, r.status) for r in result.records] == [
        ("10.32013/a", RecordOutcome.SUCCESS),
        ("10.32013/b", RecordOutcome.WARNING),
        ("10.32013/c", RecordOutcome.FAILURE),
        ("10.32013/d", RecordOutcome.FAILURE),  # never an acceptance
    ]
    assert [r.timestamp_not_newer for r in result.records] == [False, False, True, False]
    assert result.records[3].message == "Crossref reported the record as 'Deferred'"
    for word, status in (
        ("queued", SubmissionStatus.QUEUED),
        ("in_process", SubmissionStatus.IN_PROCESS),
        ("unknown_submission", SubmissionStatus.UNKNOWN_SUBMISSION),
        ("paused", None),  # not a word Crossref documents: polled again on schedule
    ):
        unfinished = parse_result(f'<doi_batch_diagnostic status="{word}"/>'.encode())
        assert unfinished.status is status and not unfinished.completed
