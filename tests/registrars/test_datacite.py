"""DataCite: every event type, every error class, lost answers and crashes, against the sandbox
over HTTP. Counted at the sandbox, not assumed."""

from __future__ import annotations

import time

import pytest

from tests.registrars.flow import (
    calls,
    datacite_dois,
    datacite_work,
    event,
    registration,
    sync,
    webhooks,
)
from worker.models import DoiState, EventStatus
from worker.registrars.datacite import service as datacite
from worker.registrars.datacite.client import DataCiteClient


def _published(session, deps, work_id="w-1", **fields):
    outcome = event(session, "work.published", datacite_work(work_id, **fields))
    assert outcome.status == EventStatus.DONE, outcome.message
    reg = registration(session, work_id)
    assert sync(session, deps, reg) is None
    session.refresh(reg)
    return reg


def test_publish_registers_a_findable_doi_once(session, deps, sandbox):
    # Given a work that asks for a DataCite DOI
    outcome = event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    # Then the DOI is reserved in the event's commit, before any call, and reported at once
    assert outcome.status == EventStatus.DONE
    assert f"DOI {reg.doi} reserved" in outcome.message
    assert reg.state == DoiState.RESERVED
    assert reg.work.doi == reg.doi
    assert reg.doi.startswith("10.5072/")
    assert calls(session, "datacite") == []
    assert [w.payload["doi"] for w in webhooks(session, "doi.reserved")] == [reg.doi]
    # When the worker sends it
    assert sync(session, deps, reg) is None
    session.refresh(reg)
    # Then DataCite holds one findable DOI with the rendered metadata, and it is reported
    held = datacite_dois(sandbox)
    assert list(held) == [reg.doi]
    assert held[reg.doi]["state"] == "findable"
    assert held[reg.doi]["metadata"]["titles"] == [{"title": "Ocean temperatures 2020"}]
    assert reg.state == DoiState.FINDABLE
    assert reg.pending_hash is None and reg.confirmed_hash is not None
    assert reg.registered_at is not None and reg.attempts == 1
    assert [(c.method, c.work_id) for c in calls(session, "datacite")] == [("PUT", reg.work_id)]
    registered = webhooks(session, "doi.registered")
    assert [(w.client_id, w.payload["state"], w.payload["change"]) for w in registered] == [
        ("cris", "findable", "registered")
    ]


def test_registered_state_is_asked_with_the_register_event(session, deps, sandbox):
    reg = _published(session, deps, registration={"registrar": "datacite", "state": "registered"})
    assert reg.state == DoiState.REGISTERED
    assert datacite_dois(sandbox)[reg.doi]["state"] == "registered"


def test_named_account_and_its_prefix_are_used(session, deps, sandbox):
    reg = _published(session, deps, registration={"registrar": "datacite", "account": "other"})
    assert reg.account == "other"
    assert reg.doi.startswith("10.80001/")
    assert datacite_dois(sandbox)[reg.doi]["client"] == "OTHER.REPO"


def test_unknown_account_fails_the_event_with_that_reason(session):
    outcome = event(
        session,
        "work.published",
        datacite_work(registration={"registrar": "datacite", "account": "nope"}),
    )
    assert outcome.status == EventStatus.FAILED
    assert "unknown datacite account 'nope'" in outcome.message
    assert "'default', 'other'" in outcome.message


def test_unknown_registrar_fails_the_event_with_that_reason(session, deps, sandbox):
    # Given an event whose work asks for a registrar pidsync does not know (stored without the
    # intake's check, e.g. by an older version)
    outcome = event(session, "work.published", datacite_work(registration={"registrar": "medra"}))
    # Then the event fails naming it, and nothing is reserved
    assert outcome.status == EventStatus.FAILED
    assert outcome.message == "unknown registrar 'medra' (known: datacite, crossref)"
    assert webhooks(session, "doi.reserved") == []
    # And a registered DOI is not moved by an update asking for it either
    reg = _published(session, deps, "w-2")
    moved = event(
        session, "work.updated", datacite_work("w-2", title="t2", registration={"registrar": 7})
    )
    assert moved.status == EventStatus.FAILED
    assert moved.message == "unknown registrar 7 (known: datacite, crossref)"
    session.refresh(reg)
    assert reg.registrar == "datacite" and reg.pending_hash is None


def test_unknown_datacite_state_fails_the_event_naming_the_field(session):
    data = datacite_work(registration={"registrar": "datacite", "state": "draft"})
    outcome = event(session, "work.published", data)
    assert outcome.status == EventStatus.FAILED
    assert "registration.state" in outcome.message
    assert webhooks(session, "doi.reserved") == []


def test_missing_fields_fail_the_event_naming_them_and_reserve_nothing(session):
    data = datacite_work()
    del data["url"]
    del data["publisher"]
    outcome = event(session, "work.published", data)
    assert outcome.status == EventStatus.FAILED
    assert "url: missing" in outcome.message and "publisher: missing" in outcome.message
    assert webhooks(session, "doi.reserved") == []


def test_changed_update_is_sent_and_unchanged_update_sends_nothing(session, deps, sandbox):
    reg = _published(session, deps, version=1)
    # When the work is updated with a new title
    outcome = event(session, "work.updated", datacite_work(version=2, title="Ocean temps v2"))
    assert "update queued" in outcome.message
    assert sync(session, deps, reg) is None
    session.refresh(reg)
    # Then DataCite holds the new title
    assert datacite_dois(sandbox)[reg.doi]["metadata"]["titles"] == [{"title": "Ocean temps v2"}]
    assert [w.payload["change"] for w in webhooks(session, "doi.registered")] == [
        "registered",
        "updated",
    ]
    # When a newer version changes nothing DataCite sees
    outcome = event(session, "work.updated", datacite_work(version=3, title="Ocean temps v2"))
    # Then nothing is sent
    assert outcome.status == EventStatus.DONE
    assert "unchanged at datacite" in outcome.message and "nothing sent" in outcome.message
    assert sync(session, deps, reg) is None
    assert [c.method for c in calls(session, "datacite")] == ["PUT", "PUT"]


def test_withdrawal_hides_the_doi_and_points_it_at_the_tombstone(session, deps, sandbox):
    reg = _published(session, deps, version=1)
    outcome = event(
        session,
        "work.withdrawn",
        {"id": "w-1", "version": 2, "tombstone_url": "https://repo.example.edu/gone/w-1"},
    )
    assert "withdrawal of DOI" in outcome.message and "hide" in outcome.message
    assert sync(session, deps, reg) is None
    session.refresh(reg)
    held = datacite_dois(sandbox)[reg.doi]
    assert held["state"] == "registered"  # hidden: resolves, not findable
    assert held["url"] == "https://repo.example.edu/gone/w-1"
    assert reg.state == DoiState.WITHDRAWN
    assert [w.payload["doi"] for w in webhooks(session, "doi.withdrawn")] == [reg.doi]
    # A higher version brings it back
    event(session, "work.updated", datacite_work(version=3))
    assert sync(session, deps, reg) is None
    session.refresh(reg)
    assert reg.state == DoiState.FINDABLE
    assert datacite_dois(sandbox)[reg.doi]["url"] == "https://repo.example.edu/w-1"
    assert webhooks(session, "doi.registered")[-1].payload["change"] == "restored"


def test_withdrawal_without_tombstone_hides_and_keeps_the_url(session, deps, sandbox):
    reg = _published(session, deps)
    event(session, "work.withdrawn", {"id": "w-1"})
    assert sync(session, deps, reg) is None
    held = datacite_dois(sandbox)[reg.doi]
    assert held["state"] == "registered"
    assert held["url"] == "https://repo.example.edu/w-1"


def test_withdrawal_before_anything_was_sent_only_asks_datacite(session, deps, sandbox):
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    outcome = event(session, "work.withdrawn", {"id": "w-1"})
    assert "withdrawal of DOI" in outcome.message
    assert sync(session, deps, reg) is None
    session.refresh(reg)
    assert reg.state == DoiState.WITHDRAWN
    # One look-up (no attempt recorded does not prove nothing reached DataCite), no write
    assert [c.method for c in calls(session, "datacite")] == ["GET"]
    assert datacite_dois(sandbox) == {}


def test_withdrawal_after_a_worker_killed_past_acceptance_hides_the_doi(
    session, database, deps, sandbox
):
    # Given DataCite accepted the DOI but the worker died before its commit (no attempt kept)
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    with pytest.raises(Killed), database.session() as doomed:
        assert datacite.sync_registration(doomed, deps, reg.id) is None
        raise Killed
    session.expire_all()
    assert registration(session, "w-1").attempts == 0
    assert datacite_dois(sandbox)[reg.doi]["state"] == "findable"
    # When the work is withdrawn before the message is delivered again
    event(session, "work.withdrawn", {"id": "w-1"})
    assert sync(session, deps, reg) is None
    # Then the DOI DataCite holds is hidden, not left findable (found by `pidsync chaos`)
    assert datacite_dois(sandbox)[reg.doi]["state"] == "registered"
    assert registration(session, "w-1").state == DoiState.WITHDRAWN


def test_422_is_failed_with_datacite_field_messages_and_not_retried(session, deps, sandbox):
    # Given a work carrying a DOI DataCite refuses to create (a character outside its pattern)
    event(session, "work.published", datacite_work(doi="10.5072/bad<doi>"))
    reg = registration(session, "w-1")
    # When it is sent
    assert sync(session, deps, reg) is None
    session.refresh(reg)
    # Then it failed with DataCite's own message per field, reported, with nothing left to retry
    assert reg.state == DoiState.FAILED
    assert reg.last_error == "DataCite refused the metadata (422): doi: Is invalid"
    assert reg.error_details == [{"source": "doi", "title": "Is invalid"}]
    assert reg.pending_hash is None and reg.retry_count == 0
    failed = webhooks(session, "doi.failed")
    assert [w.payload["errors"] for w in failed] == [[{"source": "doi", "title": "Is invalid"}]]
    assert sync(session, deps, reg) is None
    assert len(calls(session, "datacite")) == 1


@pytest.mark.parametrize(
    ("repository", "password", "status", "expect"),
    [
        ("SANDBOX.REPO", "wrong-password", 401, "check its repository id and password"),
        ("OTHER.REPO", "other-datacite-password", 403, "prefix may not belong"),
    ],
)
def test_account_refusals_fail_as_account_problems(
    session, deps, sandbox, repository, password, status, expect
):
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    # Given the account's credentials are wrong (401) or not the prefix owner's (403)
    default = deps.settings.datacite_account_list()[0]
    deps.settings = deps.settings.model_copy(
        update={"datacite_repository_id": repository, "datacite_password": password}
    )
    assert deps.datacite_account("default").repository_id == repository
    assert sync(session, deps, reg) is None
    session.refresh(reg)
    assert reg.state == DoiState.FAILED
    assert f"({status} " in reg.last_error and expect in reg.last_error
    assert f"account {default.name!r}" in reg.last_error
    assert webhooks(session, "doi.failed")[0].payload["message"] == reg.last_error
    assert datacite_dois(sandbox) == {}


def test_server_errors_are_retried_with_backoff_then_confirmed(session, deps, sandbox, tune):
    tune(doi={"retry_backoff": [30.0]})
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    sandbox.set_faults("datacite", error_rate=1)
    delay = sync(session, deps, reg)
    session.refresh(reg)
    # Then a retry is scheduled, visible in the status, and nothing is marked registered
    assert delay == 30.0
    assert reg.state == DoiState.RESERVED
    assert reg.retry_count == 1 and "try 1" in reg.last_error
    assert reg.next_attempt_at is not None and reg.pending_hash is not None
    # A message arriving before the scheduled retry is a duplicate and does nothing
    assert datacite.sync_registration(session, deps, reg.id) is None
    assert len(calls(session, "datacite")) == 1
    sandbox.set_faults("datacite", error_rate=0)
    assert sync(session, deps, reg) is None
    session.refresh(reg)
    assert reg.state == DoiState.FINDABLE and reg.last_error is None and reg.retry_count == 0


def test_429_waits_for_retry_after_without_spending_a_try(session, deps, sandbox):
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    # Given someone else used the only slot of DataCite's window
    sandbox.set_limits(datacite={"limit": 1, "window_seconds": 2})
    account = deps.datacite_account("default")
    assert DataCiteClient(account).get_doi("10.5072/elsewhere") is None
    delay = sync(session, deps, reg)
    session.refresh(reg)
    assert delay is not None and 1 <= delay <= 2  # DataCite's Retry-After
    assert reg.retry_count == 0 and "429" in reg.last_error
    time.sleep(delay)
    assert sync(session, deps, reg) is None
    session.refresh(reg)
    assert reg.state == DoiState.FINDABLE


def test_outage_waits_for_the_agencys_retry_after_then_confirms(session, deps, sandbox):
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    sandbox.set_faults("datacite", outage_seconds=1)
    delay = sync(session, deps, reg)
    session.refresh(reg)
    assert delay == 1.0  # DataCite's Retry-After, not the backoff schedule
    assert "503" in reg.last_error and reg.state == DoiState.RESERVED
    time.sleep(1.1)
    assert sync(session, deps, reg) is None
    assert registration(session, "w-1").state == DoiState.FINDABLE


def test_registration_none_later_leaves_the_doi_as_it_is(session, deps):
    reg = _published(session, deps)
    outcome = event(
        session, "work.updated", datacite_work(title="t2", registration={"registrar": "none"})
    )
    assert outcome.status == EventStatus.DONE
    assert f"DOI {reg.doi} at datacite is left as it is" in outcome.message
    assert registration(session, "w-1").pending_hash is None


def test_retries_give_up_with_a_reason_and_a_report(session, deps, sandbox, tune):
    tune(doi={"max_retries": 2})
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    sandbox.set_faults("datacite", error_rate=1)
    assert sync(session, deps, reg) is not None
    assert sync(session, deps, reg) is None
    session.refresh(reg)
    assert reg.state == DoiState.FAILED
    assert reg.last_error.startswith("gave up after 2 tries")
    assert len(webhooks(session, "doi.failed")) == 1


def test_lost_answer_on_the_put_still_makes_exactly_one_doi(session, deps, sandbox):
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    # Given DataCite applies the PUT but the answer never arrives
    sandbox.set_faults("datacite", lost_response_rate=1)
    assert sync(session, deps, reg) is not None
    session.refresh(reg)
    assert reg.state == DoiState.RESERVED  # not confirmed: no answer
    sandbox.set_faults("datacite", lost_response_rate=0)
    # When the retry runs
    assert sync(session, deps, reg) is None
    session.refresh(reg)
    # Then the upsert to the same DOI confirmed it, and DataCite holds one DOI
    assert reg.state == DoiState.FINDABLE
    assert list(datacite_dois(sandbox)) == [reg.doi]
    assert sandbox.state()["requests"]["datacite"]["by_status"] == {"200": 1, "dropped": 1}


class Killed(Exception):
    """The worker died after DataCite accepted, before the local commit."""


def test_worker_killed_after_acceptance_catches_up_without_a_second_doi(
    session, database, deps, sandbox
):
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    with pytest.raises(Killed), database.session() as doomed:
        assert datacite.sync_registration(doomed, deps, reg.id) is None
        assert datacite_dois(sandbox)[reg.doi]["state"] == "findable"
        raise Killed
    session.expire_all()
    assert registration(session, "w-1").state == DoiState.RESERVED  # the commit never happened
    # When the message is delivered again
    assert sync(session, deps, reg) is None
    # Then the state catches up and DataCite still holds exactly one DOI
    assert registration(session, "w-1").state == DoiState.FINDABLE
    assert list(datacite_dois(sandbox)) == [reg.doi]


def test_duplicate_event_and_duplicate_message_send_once(session, deps, sandbox):
    first = event(session, "work.published", datacite_work(), event_id="same")
    reg = registration(session, "w-1")
    from tests.helpers import process_event
    from worker.models import ReceivedEvent

    received = session.query(ReceivedEvent).filter_by(event_id="same").one()
    assert first.status == EventStatus.DONE
    assert process_event(session, received.id) is None  # a redelivered events message
    assert sync(session, deps, reg) is None
    assert sync(session, deps, reg) is None  # a second sync message for the same change
    assert len(calls(session, "datacite")) == 1
    assert len(webhooks(session, "doi.reserved")) == 1


def test_out_of_order_versions_end_with_the_newest_at_datacite(session, deps, sandbox):
    event(session, "work.published", datacite_work(version=1, title="v1"))
    reg = registration(session, "w-1")
    event(session, "work.updated", datacite_work(version=3, title="v3"))
    late = event(session, "work.updated", datacite_work(version=2, title="v2"))
    assert late.status == EventStatus.STALE
    # The messages carry ids only: whichever runs sends the newest stored version
    assert sync(session, deps, reg) is None
    assert sync(session, deps, reg) is None
    assert datacite_dois(sandbox)[reg.doi]["metadata"]["titles"] == [{"title": "v3"}]
    assert len(calls(session, "datacite")) == 1


def test_a_different_doi_later_is_refused(session, deps):
    reg = _published(session, deps)
    outcome = event(session, "work.updated", datacite_work(doi="10.5072/other", title="changed"))
    assert outcome.status == EventStatus.FAILED
    assert f"differs from this work's DOI {reg.doi}" in outcome.message


def test_moving_to_another_registrar_is_refused(session, deps):
    _published(session, deps)
    outcome = event(
        session,
        "work.updated",
        datacite_work(title="moved", registration={"registrar": "crossref"}),
    )
    assert outcome.status == EventStatus.FAILED
    assert "cannot move to crossref" in outcome.message


def test_supplied_doi_outside_the_account_prefixes_is_refused(session):
    outcome = event(session, "work.published", datacite_work(doi="10.9999/x"))
    assert outcome.status == EventStatus.FAILED
    assert "prefix 10.9999 is not one of datacite account 'default'" in outcome.message


def test_datacite_calls_share_the_redis_limit_per_host(session, deps, redis_client, sandbox):
    _published(session, deps)
    host = sandbox.url.removeprefix("http://")
    assert redis_client.exists(f"pidsync:ratelimit:datacite:{host}")


def warnings_and_worse(logs):
    return [e for e in logs if e["log_level"] in ("warning", "error", "critical")]


def test_a_transient_failure_logs_one_warning_line_without_a_traceback(
    session, deps, sandbox, logs
):
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    sandbox.set_faults("datacite", error_rate=1)
    assert sync(session, deps, reg) == pytest.approx(0.01)
    (line,) = warnings_and_worse(logs)
    assert line["event"] == "doi_retry_scheduled" and line["doi"] == reg.doi
    assert "try 1" in line["error"] and line["delay_s"] == pytest.approx(0.01)
    assert not any("exc_info" in e or "exception" in e for e in logs)


def _withdrawn_after_a_lost_first_send(session, deps, sandbox):
    """A DOI whose first PUT may have reached DataCite (no answer) and is then withdrawn:
    withdrawing it asks DataCite first whether it holds the DOI."""
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    sandbox.set_faults("datacite", error_rate=1)
    assert sync(session, deps, reg) is not None
    sandbox.set_faults("datacite", error_rate=0)
    event(session, "work.withdrawn", {"id": "w-1"})
    return registration(session, "w-1")


def test_a_refused_look_up_before_a_withdrawal_fails_at_once(session, deps, sandbox):
    reg = _withdrawn_after_a_lost_first_send(session, deps, sandbox)
    deps.settings = deps.settings.model_copy(update={"datacite_password": "wrong-password"})
    # When the look-up is refused (401)
    assert sync(session, deps, reg) is None
    reg = registration(session, "w-1")
    # Then the registration failed with the reason, and nothing is tried again
    assert reg.state == DoiState.FAILED and "(401 " in reg.last_error
    assert reg.next_attempt_at is None and reg.pending_hash is None
    assert [c.method for c in calls(session, "datacite")] == ["PUT", "GET"]


def test_a_failed_look_up_before_a_withdrawal_is_tried_again(session, deps, sandbox):
    reg = _withdrawn_after_a_lost_first_send(session, deps, sandbox)
    sandbox.set_faults("datacite", error_rate=1)
    assert sync(session, deps, reg) == pytest.approx(0.01)
    reg = registration(session, "w-1")
    assert reg.retry_count == 1 and "(try 1): datacite GET" in reg.last_error
    assert reg.next_attempt_at is not None and reg.state == DoiState.RESERVED
    sandbox.set_faults("datacite", error_rate=0)
    assert sync(session, deps, reg) is None
    assert registration(session, "w-1").state == DoiState.WITHDRAWN
