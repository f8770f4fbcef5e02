"""`pidsync retry` and POST /ops/retry: an operator brings forward what waits and revives what
failed, through the same exactly-once paths (a DOI PUT again, a placement read back before any
POST), against the sandbox."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from sqlalchemy import select

from tests.conftest import INTAKE_SECRET
from tests.helpers import SOURCE
from tests.ops.flows import fail_placement, fail_with_401
from tests.orcid.helpers import place_pending, record_works
from tests.registrars.flow import (
    calls,
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
from worker.cli import retry as cli
from worker.config import IntakeClient
from worker.events.signature import sign
from worker.models import (
    DoiState,
    EventStatus,
    PlacementState,
    ReceivedEvent,
)
from worker.registrars.crossref import service as crossref
from worker.registrars.datacite.service import sync_registration


@pytest.fixture
def booted(runtime, monkeypatch):
    monkeypatch.setattr(cli, "boot", lambda: runtime)
    return runtime


def _retry(*args: str) -> tuple[int, dict[str, Any] | None, str]:
    result = CliRunner().invoke(cli.retry, list(args))
    body = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, body, result.stderr


def test_a_doi_failed_with_401_is_registered_after_retry_by_reason(
    session, registrars, sandbox, booted
):
    # Given a DOI refused with the account's 401, and the password fixed since
    reg = fail_with_401(session, registrars)
    # When the operator retries everything that failed with 401
    code, body, _ = _retry("--reason", "401")
    # Then that DOI is revived: pending again with its tries reset, its message queued
    assert code == 0
    assert [(i["kind"], i["action"], i["doi"]) for i in body["items"]] == [
        ("doi", "revive", reg.doi)
    ]
    session.refresh(reg)
    assert reg.state == DoiState.SUBMITTED
    assert reg.retry_count == 0 and reg.last_error is None and reg.pending_hash is not None
    # ... and sending it (as the worker does) registers the same DOI with a PUT
    assert sync(session, registrars, reg) is None
    session.refresh(reg)
    assert reg.state == DoiState.FINDABLE
    assert list(datacite_dois(sandbox)) == [reg.doi]
    assert {c.method for c in calls(session, "datacite")} == {"PUT"}


def test_a_waiting_doi_is_brought_forward(session, registrars, sandbox, booted, tune):
    # Given a DOI whose last try met a DataCite outage, next try in an hour
    tune(doi={"retry_backoff": [3600.0]})
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    sandbox.set_faults("datacite", error_rate=1)
    assert sync(session, registrars, reg) == 3600.0
    sandbox.set_faults("datacite", error_rate=0)
    # (a message now is a duplicate of the scheduled one: it does nothing)
    assert sync_registration(session, registrars, reg.id) is None
    session.refresh(reg)
    assert reg.state != DoiState.FINDABLE
    # When the operator retries it by DOI (in the form a person pastes)
    code, body, _ = _retry("--doi", f"https://doi.org/{reg.doi.upper()}")
    assert code == 0
    assert [(i["kind"], i["action"]) for i in body["items"]] == [("doi", "bring_forward")]
    assert body["items"][0]["attempts"] == 1
    # Then the next message is due now and registers it
    session.refresh(reg)
    assert sync_registration(session, registrars, reg.id) is None
    session.refresh(reg)
    assert reg.state == DoiState.FINDABLE


def test_a_failed_placement_is_read_back_before_any_post_and_placed_once(
    session, sandbox, orcid_deps, cipher, client_id, booted
):
    # Given a failed placement whose first POST landed at ORCID (answer lost)
    row = fail_placement(session, sandbox, orcid_deps, cipher, client_id)
    posts_before = len(calls(session, "orcid", "POST"))
    # When the operator retries the researcher's placements
    code, body, _ = _retry("--orcid", f"https://orcid.org/{row.orcid}")
    assert code == 0
    assert [(i["kind"], i["action"], i["orcid"]) for i in body["items"]] == [
        ("placement", "revive", row.orcid)
    ]
    session.refresh(row)
    assert row.state == PlacementState.PENDING and row.attempts == 0 and row.in_doubt
    # Then placing it adopts the work already on the record: no second POST, one work
    place_pending(session, orcid_deps)
    session.refresh(row)
    assert row.state == PlacementState.PLACED, row.last_error
    assert row.put_code is not None
    assert len(calls(session, "orcid", "POST")) == posts_before
    assert len(record_works(sandbox, row.orcid)) == 1


def _queued(redis_client) -> int:
    """Messages waiting in the broker (Redis), every queue."""
    return sum(redis_client.hlen(key) for key in redis_client.scan_iter("*.msgs"))


def _messages(redis_client) -> list[dict[str, Any]]:
    return [
        json.loads(raw)
        for key in redis_client.scan_iter("*.msgs")
        for raw in redis_client.hvals(key)
    ]


def test_dry_run_lists_both_and_changes_nothing(
    session, registrars, sandbox, orcid_deps, cipher, client_id, booted, redis_client
):
    reg = fail_with_401(session, registrars)
    row = fail_placement(session, sandbox, orcid_deps, cipher, client_id)
    session.commit()  # into the test's savepoint: what the CLI's own session sees
    queued = _queued(redis_client)
    before = (reg.state, reg.last_error, reg.pending_hash, row.state, row.attempts, row.in_doubt)
    # When the operator asks for both in a dry run
    listed = [_retry("--reason", "401", "--dry-run"), _retry("--orcid", row.orcid, "--dry-run")]
    # Then both are listed as they would be retried
    assert [code for code, _, _ in listed] == [0, 0]
    assert all(body["dry_run"] is True for _, body, _ in listed)
    assert [(i["kind"], i["action"]) for _, body, _ in listed for i in body["items"]] == [
        ("doi", "revive"),
        ("placement", "revive"),
    ]
    session.expire_all()
    after = (reg.state, reg.last_error, reg.pending_hash, row.state, row.attempts, row.in_doubt)
    assert after == before
    assert _queued(redis_client) == queued
    # (the check can fail: the same call without --dry-run sends two messages)
    earlier = {m["message_id"] for m in _messages(redis_client)}
    by_reason, by_orcid = _retry("--reason", "401")[1], _retry("--orcid", row.orcid)[1]
    assert _queued(redis_client) == queued + 2
    # ... each carrying its retry's correlation id, for the operator to follow in the logs
    sent = {
        m["actor_name"]: m["options"].get("correlation_id")
        for m in _messages(redis_client)
        if m["message_id"] not in earlier
    }
    assert sent == {
        "registrars.datacite.sync": by_reason["correlation_id"],
        "orcid.place": by_orcid["correlation_id"],
    }
    assert by_reason["correlation_id"].startswith("retry-")


def test_exit_codes_a_script_can_use(session, booted):
    code, body, err = _retry("--doi", "10.5072/nothing-here")
    assert code == cli.NOTHING_MATCHED and body["items"] == []
    assert "nothing failed or waiting matches" in err
    code, _, err = _retry()
    assert code == 2 and "say what to retry" in err
    code, _, err = _retry("--orcid", "0000-0002-1825-0098")
    assert code == 2 and "invalid check digit" in err
    code, _, err = _retry("--doi", "not-a-doi")
    assert code == 2 and "invalid doi" in err


def test_a_failed_event_is_processed_again_with_its_effects(session, runtime, booted):
    # Given a work event that failed because no DataCite account was configured yet
    configured = runtime.settings
    runtime.settings = configured.model_copy(
        update={"datacite_repository_id": None, "datacite_accounts": []}
    )
    outcome = event(session, "work.published", datacite_work())
    assert outcome.status == EventStatus.FAILED
    runtime.settings = configured  # ... then the account is configured
    # When the operator retries the work
    code, body, _ = _retry("--work", SOURCE, "w-1")
    assert code == 0
    assert [(i["kind"], i["action"]) for i in body["items"]] == [("event", "revive")]
    # Then the event is received again and, processed, reserves the DOI (the Work is unchanged)
    from tests.helpers import process_event

    row = session.execute(select(ReceivedEvent)).scalar_one()
    assert row.status == EventStatus.RECEIVED and row.attempts == 0
    again = process_event(session, row.id)
    assert again.status == EventStatus.DONE, again.message
    assert registration(session, "w-1").state == DoiState.RESERVED


# --- the API ------------------------------------------------------------------------------


def _post(client, body: dict[str, Any], *, client_id: str = "cris", secret: str = INTAKE_SECRET):
    raw = json.dumps(body).encode()
    return client.post(
        "/ops/retry",
        content=raw,
        headers={
            "Content-Type": "application/json",
            "Pidsync-Client": client_id,
            "Pidsync-Signature": sign(secret, raw),
        },
    )


def test_the_api_retries_the_callers_own_works_only(session, registrars, runtime, client):
    reg = fail_with_401(session, registrars)
    runtime.settings = runtime.settings.model_copy(
        update={
            "intake_clients": {
                **runtime.settings.intake_clients,
                "other": IntakeClient(
                    id="other",
                    secrets=[SecretStr("other-secret")],
                    sources=["https://other.example/*"],
                ),
            }
        }
    )
    # Another client sees nothing of cris's works
    other = _post(client, {"reason": "401"}, client_id="other", secret="other-secret")
    assert other.status_code == 200 and other.json()["items"] == []
    # Unsigned, or signed with the wrong secret: 401, nothing done
    assert client.post("/ops/retry", json={"reason": "401"}).status_code == 401
    assert _post(client, {"reason": "401"}, secret="wrong").status_code == 401
    # A bad selector: 422 naming it
    bad = _post(client, {"orcid": "0000-0000-0000-0000X"})
    assert bad.status_code == 422 and "invalid orcid" in bad.text
    assert _post(client, {"dry_run": True}).status_code == 422
    assert _post(client, {"color": "blue"}).status_code == 422
    session.refresh(reg)
    assert reg.state == DoiState.FAILED
    # A dry run lists; the real call revives
    dry = _post(client, {"work": {"source": SOURCE, "id": "w-1"}, "dry_run": True})
    assert dry.status_code == 200 and dry.json()["retried"] == 1
    session.refresh(reg)
    assert reg.state == DoiState.FAILED
    done = _post(client, {"doi": reg.doi})
    assert done.status_code == 200 and done.json()["items"][0]["action"] == "revive"
    session.refresh(reg)
    assert reg.state == DoiState.SUBMITTED


def test_a_crossref_doi_refused_at_upload_is_deposited_again_after_retry(
    session, registrars, sandbox, booted
):
    # Given a Crossref deposit refused with 401 (a wrong password at the time), since fixed
    event(session, "work.published", crossref_work())
    good = registrars.settings
    registrars.settings = good.model_copy(update={"crossref_password": "wrong"})
    (refused,) = crossref.prepare_batches(session, registrars, "default", "10.32013")
    assert crossref.upload_deposit(session, registrars, refused) is None
    registrars.settings = good
    reg = registration(session, "a-1")
    assert reg.state == DoiState.FAILED
    # When the operator retries by the reason
    code, body, _ = _retry("--reason", "refused the upload (401)")
    assert code == 0
    assert [(i["doi"], i["action"]) for i in body["items"]] == [(reg.doi, "revive")]
    # Then a new deposit carries the same DOI with a newer timestamp and Crossref registers it
    first_timestamp = reg.last_timestamp
    (deposit_id,) = deposit(session, registrars)
    assert deposit_id != refused
    finish(session, registrars, deposit_id)
    reg = registration(session, "a-1")
    assert reg.state == DoiState.REGISTERED, reg.last_error
    assert reg.last_timestamp > first_timestamp
    assert list(crossref_dois(sandbox)) == [reg.doi]
