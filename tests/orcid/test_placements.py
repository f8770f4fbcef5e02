"""Placing works on ORCID records exactly once: every branch, counted at the sandbox."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.helpers import SOURCE
from tests.orcid.helpers import (
    authorize,
    notifications,
    place_pending,
    placement,
    publish,
    receive,
    record_works,
    researcher,
    throttled,
)
from worker.models import ApiCall, OrcidPlacement, PlacementState
from worker.ops.status import work_status
from worker.orcid import backfill, payload, placements


def _orcid_calls(session, method: str | None = None) -> list[ApiCall]:
    """The ORCID calls placing made (not the record read that proved the grant's token)."""
    query = (
        select(ApiCall)
        .where(ApiCall.service == "orcid", ~ApiCall.url.endswith("/record"))
        .order_by(ApiCall.id)
    )
    if method:
        query = query.where(ApiCall.method == method)
    return list(session.execute(query).scalars())


def test_publish_places_once_and_an_unchanged_update_sends_nothing(
    session, sandbox, cipher, deps, client_id
):
    # Given a researcher who authorised us
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)

    # When a work naming them is published and the placement runs
    work_row = publish(session, "w-1", orcid, doi="10.5072/abc")
    results = place_pending(session, deps)

    # Then the work is on the record once, with both self external ids, and we were told
    row = placement(session, work_row, orcid)
    assert [r.note for r in results] == [f"added (put-code {row.put_code})"]
    assert row.state == PlacementState.PLACED and row.client_id == client_id
    works = record_works(sandbox, orcid)
    assert [w["put_code"] for w in works] == [row.put_code]
    assert {(e["type"], e["relationship"]) for e in works[0]["external_ids"]} == {
        ("doi", "self"),
        ("source-work-id", "self"),
    }
    assert f"{SOURCE}:w-1" in {e["value"] for e in works[0]["external_ids"]}
    placed = notifications(session, "orcid.placed")
    assert placed[-1].payload["put_code"] == row.put_code
    assert placed[-1].client_id == "cris"

    # When the same metadata arrives again with a new version number only in the event...
    before = len(_orcid_calls(session))
    row.state = PlacementState.PENDING
    session.flush()
    results = place_pending(session, deps)

    # Then nothing is sent at all
    assert results[0].note == "unchanged: nothing sent"
    assert len(_orcid_calls(session)) == before
    assert placement(session, work_row, orcid).state == PlacementState.PLACED


def test_changed_metadata_is_put_with_the_stored_put_code(
    session, sandbox, cipher, deps, client_id
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    place_pending(session, deps)
    put_code = placement(session, work_row, orcid).put_code

    publish(session, "w-1", orcid, event_type="work.updated", title="A better title")
    results = place_pending(session, deps)

    assert results[0].note == f"updated (put-code {put_code})"
    works = record_works(sandbox, orcid)
    assert [(w["put_code"], w["title"]) for w in works] == [(put_code, "A better title")]
    assert [c.method for c in _orcid_calls(session)] == ["POST", "PUT"]


def test_lost_answer_to_a_post_leaves_exactly_one_work(session, sandbox, cipher, deps, client_id):
    # Given the network loses ORCID's answer to the POST (ORCID did create the work)
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    sandbox.set_faults("orcid", lost_response_rate=1.0)
    first = place_pending(session, deps)[0]
    sandbox.set_faults("orcid", lost_response_rate=0)

    # Then the try is recorded and the message postponed by the first step of the backoff
    # (no Retry-After from a lost answer); the placement knows its POST is in doubt
    assert first.delay == deps.settings.orcid.retry_backoff[0]
    row = placement(session, work_row, orcid)
    assert row.in_doubt and row.put_code is None and row.state == PlacementState.PENDING
    assert row.attempts == 1 and row.next_attempt_at is not None
    assert len(record_works(sandbox, orcid)) == 1

    # When the retry runs: it reads the record first and adopts our work, never POSTs again
    second = place_pending(session, deps)[0]

    row = placement(session, work_row, orcid)
    works = record_works(sandbox, orcid)
    assert len(works) == 1
    assert row.put_code == works[0]["put_code"] and row.state == PlacementState.PLACED
    assert second.delay is None and row.next_attempt_at is None
    assert [c.method for c in _orcid_calls(session)] == ["POST", "GET", "PUT"]


def test_409_duplicate_adopts_the_named_put_code_and_puts(
    session, sandbox, cipher, deps, client_id
):
    # Given our work already on the record (a worker died after its POST, before its commit)
    orcid = researcher(sandbox)
    _grant, token = authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid, title="Old title")
    body = payload.orcid_work(work_row)
    answer = requests.post(
        f"{sandbox.info()['orcid_api_url']}/v3.0/{orcid}/work",
        json=body,
        headers={
            "Authorization": f"Bearer {token['access_token']}",
            "Content-Type": "application/vnd.orcid+json",
            "Accept": "application/vnd.orcid+json",
        },
        timeout=5,
    )
    existing = int(answer.headers["Location"].rsplit("/", 1)[1])
    publish(session, "w-1", orcid, event_type="work.updated", title="New title")

    # When the placement runs
    place_pending(session, deps)

    # Then ORCID's 409 names our put-code; we adopt it and PUT: one work, updated
    row = placement(session, work_row, orcid)
    assert row.put_code == existing and row.state == PlacementState.PLACED
    assert [(w["put_code"], w["title"]) for w in record_works(sandbox, orcid)] == [
        (existing, "New title")
    ]
    calls = _orcid_calls(session)
    assert [(c.method, c.status) for c in calls] == [("POST", 409), ("PUT", 200)]


def test_work_deleted_by_the_researcher_is_not_added_back(
    session, sandbox, cipher, deps, client_id
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    place_pending(session, deps)
    put_code = placement(session, work_row, orcid).put_code

    # When the researcher deletes it, then the work is updated
    sandbox.delete_work(orcid, put_code)
    publish(session, "w-1", orcid, event_type="work.updated", title="Changed")
    place_pending(session, deps)

    # Then the 404 is recorded as the researcher's choice and the emitting system told
    row = placement(session, work_row, orcid)
    assert row.state == PlacementState.REMOVED_BY_RESEARCHER
    assert "not added again" in row.last_error
    assert notifications(session, "orcid.removed_by_researcher")[-1].payload["put_code"] == put_code

    # And later updates leave it alone
    publish(session, "w-1", orcid, event_type="work.updated", title="Changed again")
    assert place_pending(session, deps) == []
    assert record_works(sandbox, orcid) == []

    # Unless an operator asks: then it is placed again, once
    assert placements.readd(session, placement(session, work_row, orcid))
    place_pending(session, deps)
    assert placement(session, work_row, orcid).state == PlacementState.PLACED
    assert len(record_works(sandbox, orcid)) == 1


def test_a_work_of_another_source_is_recorded_as_not_ours(
    session, sandbox, cipher, deps, client_id
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    place_pending(session, deps)
    # Given the stored put-code points at a work another client added
    other = sandbox.ctx.accounts.orcid_clients[1].client_id
    foreign = sandbox.control(
        "POST",
        f"/orcid/researchers/{orcid}/works",
        {
            "client_id": other,
            "work": payload.orcid_work(work_row)
            | {
                "external-ids": {
                    "external-id": [
                        {
                            "external-id-type": "doi",
                            "external-id-value": "10.5072/other",
                            "external-id-relationship": "self",
                        }
                    ]
                }
            },
        },
    )["put_code"]
    row = placement(session, work_row, orcid)
    row.put_code = foreign
    publish(session, "w-1", orcid, event_type="work.updated", title="Changed")

    place_pending(session, deps)

    row = placement(session, work_row, orcid)
    assert row.state == PlacementState.NOT_OURS
    assert "9010" in row.last_error


def test_validation_error_fails_with_orcid_message_and_no_retry(
    session, sandbox, cipher, deps, client_id, monkeypatch
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    render = payload.render_orcid_work  # what every ORCID rendering of a stored work calls

    def without_title(work, **kwargs):
        return {k: v for k, v in render(work, **kwargs).items() if k != "title"}

    monkeypatch.setattr(payload, "render_orcid_work", without_title)

    result = place_pending(session, deps)[0]

    row = placement(session, work_row, orcid)
    assert result.delay is None
    assert row.state == PlacementState.FAILED
    assert row.last_error.startswith("ORCID 400/9022: 400 Bad Request: Invalid activity")
    failed = notifications(session, "orcid.failed")[-1]
    assert "title is required" in failed.payload["error"]
    assert record_works(sandbox, orcid) == []


def test_transient_failures_are_retried_later_then_given_up_with_a_reason(
    session, sandbox, cipher, deps, client_id
):
    from worker.clock import utcnow

    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    sandbox.set_faults("orcid", outage_seconds=30)  # 503s with Retry-After: the time left

    # When ORCID is down for every try the settings allow (PIDSYNC_ORCID_MAX_RETRIES=4)
    first = place_pending(session, deps)[0]
    row = placement(session, work_row, orcid)

    # Then each try is recorded on the placement, and its message postponed by ORCID's
    # Retry-After (not by a dramatiq retry)
    assert first.delay is not None and 25 <= first.delay <= 30
    assert row.state == PlacementState.PENDING and row.attempts == 1
    assert "503" in row.last_error
    due = (row.next_attempt_at - utcnow()).total_seconds()
    assert first.delay - 5 <= due <= first.delay
    later = [place_pending(session, deps)[0] for _ in range(deps.settings.orcid.max_retries - 1)]
    assert all(r.delay is not None for r in later[:-1])

    # And the last try gives up: failed, with the reason, and the emitting system told
    assert later[-1].delay is None and later[-1].note == "failed: retries exhausted"
    row = placement(session, work_row, orcid)
    assert row.state == PlacementState.FAILED and row.next_attempt_at is None
    assert "gave up after 4 attempts" in row.last_error and "503" in row.last_error
    assert "503" in notifications(session, "orcid.failed")[-1].payload["error"]


def test_orcids_rate_limit_503_is_a_wait_not_a_failed_try(
    session, sandbox, cipher, deps, client_id
):
    # Given a placement, and ORCID's nginx refusing every request past a burst of one
    # (its rate-limit answer: 503 "Service Temporarily Unavailable", no Retry-After)
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    allowed = deps.settings.orcid.max_retries
    with throttled(sandbox, orcid, client_id):
        # When the placement is tried twice as often as the tries settings allow
        results = [place_pending(session, deps)[0] for _ in range(2 * allowed)]

    # Then no try was spent: each is a wait, with the reason on the row, and nothing failed
    assert all(r.delay is not None for r in results), [r.note for r in results]
    row = placement(session, work_row, orcid)
    assert row.state == PlacementState.PENDING and row.attempts == 0
    assert "503" in row.last_error
    assert notifications(session, "orcid.failed") == []
    # And once ORCID lets requests through, the work is placed once
    place_pending(session, deps)
    row = placement(session, work_row, orcid)
    assert row.state == PlacementState.PLACED
    assert [w["put_code"] for w in record_works(sandbox, orcid)] == [row.put_code]


def test_a_transient_retry_logs_one_warning_and_postpones_the_message(
    session, sandbox, cipher, deps, client_id, runtime
):
    import structlog

    from worker.errors import Postpone
    from worker.orcid import actors

    # Given a placement, and ORCID failing with a 5xx (no Retry-After)
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    pid = placement(session, work_row, orcid).id
    sandbox.set_faults("orcid", error_rate=1.0)

    # When the orcid.place actor runs it (in the process's runtime)
    with structlog.testing.capture_logs() as logs, pytest.raises(Postpone) as postponed:
        actors.place_work.fn(pid)

    # Then its message is postponed by the first step of the backoff, recorded on the row,
    assert postponed.value.delay == deps.settings.orcid.retry_backoff[0]
    row = placement(session, work_row, orcid)
    assert row.attempts == 1 and row.next_attempt_at is not None
    assert re.search(r"\b50[023]\b", row.last_error)
    # and exactly one WARNING line says so, with no traceback and nothing logged as an error
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [e["event"] for e in warnings] == ["orcid_retry_scheduled"]
    assert warnings[0]["effect"] == "orcid.place" and warnings[0]["attempt"] == 1
    assert not any("exc_info" in e or "exception" in e for e in logs)
    assert not any(e["log_level"] in ("error", "critical") for e in logs)


def test_withdrawal_deletes_and_removing_a_contributor_takes_it_off_their_record(
    session, sandbox, cipher, deps, client_id
):
    first, second = researcher(sandbox), researcher(sandbox)
    authorize(session, sandbox, cipher, first, client_id)
    authorize(session, sandbox, cipher, second, client_id)
    work_row = publish(session, "w-1", first, second, version=1)
    place_pending(session, deps)
    assert len(record_works(sandbox, first)) == len(record_works(sandbox, second)) == 1

    # The second contributor is dropped from the work: off their record only
    publish(session, "w-1", first, event_type="work.updated", version=2)
    place_pending(session, deps)
    assert len(record_works(sandbox, first)) == 1
    assert record_works(sandbox, second) == []
    assert placement(session, work_row, second).state == PlacementState.DELETED

    # The work is withdrawn: off every record
    receive(session, "work.withdrawn", {"id": "w-1", "version": 3})
    place_pending(session, deps)
    assert record_works(sandbox, first) == []
    assert placement(session, work_row, first).state == PlacementState.DELETED
    assert placement(session, work_row, first).put_code is None

    # A higher version brings it back
    publish(session, "w-1", first, event_type="work.updated", version=4)
    place_pending(session, deps)
    assert len(record_works(sandbox, first)) == 1


def test_contributor_without_grant_waits_then_grant_backfills(
    session, sandbox, cipher, deps, client_id
):
    orcid = researcher(sandbox)
    work_row = publish(session, "w-1", orcid)
    row = placement(session, work_row, orcid)
    assert row.state == PlacementState.AWAITING_CONSENT and row.client_id is None
    status = work_status(session, SOURCE, "w-1")
    assert status["orcid"][0]["state"] == "awaiting_consent"
    assert status["orcid"][0]["client_id"] is None

    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    assert placement(session, work_row, orcid).state == PlacementState.PENDING
    result = backfill.backfill(session, deps, grant.id)

    assert result.note == "bulk: 1 placed, 0 adopted, 0 failed"
    row = placement(session, work_row, orcid)
    assert row.state == PlacementState.PLACED and row.client_id == client_id
    shown = work_status(session, SOURCE, "w-1")["orcid"][0]
    assert shown["state"] == "placed" and shown["put_code"] == row.put_code


def test_status_api_shows_no_client_for_a_placement_awaiting_consent(client, session, sandbox):
    publish(session, "w-1", researcher(sandbox))
    session.commit()
    from tests.conftest import INTAKE_SECRET
    from tests.helpers import signed_get

    answer = signed_get(client, f"/works/{quote(SOURCE, safe='')}/w-1", secret=INTAKE_SECRET)
    assert answer.status_code == 200
    (shown,) = answer.json()["orcid"]
    assert shown["state"] == "awaiting_consent"
    assert "client_id" in shown and shown["client_id"] is None


def test_one_placement_per_work_record_and_client_and_one_awaiting_consent(session, sandbox):
    # Given a work whose contributor has not authorised us: one placement awaits consent
    orcid = researcher(sandbox)
    work_row = publish(session, "w-1", orcid)
    assert placement(session, work_row, orcid).client_id is None

    def add(client: str | None) -> None:
        session.add(
            OrcidPlacement(
                work_id=work_row.id,
                orcid=orcid,
                client_id=client,
                state=PlacementState.AWAITING_CONSENT if client is None else PlacementState.PENDING,
            )
        )
        session.flush()

    # Then a second one awaiting consent for the same work and record is refused
    with (
        pytest.raises(IntegrityError, match="uq_orcid_placements_work_orcid"),
        session.begin_nested(),
    ):
        add(None)
    # While one per ORCID client may sit beside it, once
    add("APP-SECOND000001")
    with (
        pytest.raises(IntegrityError, match="uq_orcid_placements_work_orcid"),
        session.begin_nested(),
    ):
        add("APP-SECOND000001")


def test_read_only_grant_places_nothing(session, sandbox, cipher, deps, client_id):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id, scope="/read-limited")
    work_row = publish(session, "w-1", orcid)
    assert placement(session, work_row, orcid).state == PlacementState.AWAITING_CONSENT
    assert place_pending(session, deps) == []


def test_a_second_client_places_with_its_own_grant(
    session, sandbox, cipher, tmp_path, redis_client, database
):
    from tests.orcid.conftest import orcid_settings, sandbox_clients
    from worker.orcid.deps import build

    settings = orcid_settings(sandbox, tmp_path, orcid_clients=sandbox_clients(sandbox))
    deps = build(settings, cipher, redis_client)
    from tests.orcid import helpers
    from worker.events.service import Context

    helpers.CONTEXT[-1] = Context(settings, orcid=deps)  # the token is proven with client 2
    second = sandbox.ctx.accounts.orcid_clients[1].client_id
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, second)
    work_row = publish(session, "w-1", orcid)

    place_pending(session, deps)

    row = placement(session, work_row, orcid)
    assert row.client_id == second and row.state == PlacementState.PLACED
    assert [w["source_client_id"] for w in record_works(sandbox, orcid)] == [second]


@pytest.mark.parametrize("message", ["put-code 1234.", "please see element with put-code 77 "])
def test_named_put_code_is_read_from_the_developer_message(message):
    from worker.orcid.client import OrcidError

    error = OrcidError("x", service="orcid", status=409, body={"developer-message": message})
    assert error.named_put_code() == int(message.split("put-code ")[1].strip(" ."))


def test_waiting_for_a_rate_limit_slot_spends_no_attempt(
    session, sandbox, cipher, deps, client_id, monkeypatch
):
    from worker.errors import Postpone

    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)

    def busy(limit, key="", *, max_sleep=2.0):
        assert limit.name == "orcid" and key == client_id  # the client's shared budget
        raise Postpone(3.0, "orcid rate limit: next slot in 3.0s")

    monkeypatch.setattr(deps.limiter, "acquire", busy)
    pid = placement(session, work_row, orcid).id
    unit_of_work = session.begin_nested()
    with pytest.raises(Postpone):
        placements.place(session, deps, pid)
    unit_of_work.rollback()  # what the unit of work does with a Postpone
    row = placement(session, work_row, orcid)
    assert row.state == PlacementState.PENDING and row.attempts == 0 and not row.in_doubt
    assert record_works(sandbox, orcid) == []


def test_sweep_resends_stalled_placements_grouping_new_works_into_one_backfill(
    broker, session, database, sandbox, cipher, deps, client_id, redis_client
):
    from datetime import UTC, datetime, timedelta

    from worker.orcid.sweep import resend_stalled_placements

    settings = deps.settings
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    rows = [placement(session, publish(session, f"w-{i}", orcid), orcid) for i in range(3)]
    session.commit()
    assert resend_stalled_placements(database, settings) == 0  # just queued: not stalled
    redis_client.flushdb()
    for row in rows:
        row.enqueued_at = datetime.now(UTC) - timedelta(hours=1)
    session.commit()

    assert resend_stalled_placements(database, settings) == 3
    assert resend_stalled_placements(database, settings) == 0
    from tests.helpers import queued_messages

    assert [name for name, _args in queued_messages(redis_client)] == ["orcid.backfill"]


def test_the_placement_sweep_takes_its_grace_and_batch_from_settings(
    broker, session, database, sandbox, cipher, deps, client_id
):
    from datetime import timedelta

    from worker.clock import utcnow
    from worker.orcid.sweep import resend_stalled_placements

    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    rows = [placement(session, publish(session, f"w-{i}", orcid), orcid) for i in range(3)]
    for row in rows:
        row.enqueued_at = utcnow() - timedelta(seconds=90)
    session.commit()
    settings = deps.settings.model_copy(update={"sweep_batch": 2})
    patient = settings.model_copy(
        update={"orcid": settings.orcid.model_copy(update={"resend_grace_seconds": 120.0})}
    )
    hasty = settings.model_copy(
        update={"orcid": settings.orcid.model_copy(update={"resend_grace_seconds": 60.0})}
    )

    assert resend_stalled_placements(database, patient) == 0  # 90 s is within a 120 s grace
    assert resend_stalled_placements(database, hasty) == 2  # one batch of two
    assert resend_stalled_placements(database, hasty) == 1


def test_a_token_no_configured_key_opens_fails_loudly(session, sandbox, cipher, deps, client_id):
    from dataclasses import replace

    from worker.orcid.tokens import TokenCipher, TokenKeyError, new_key

    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)
    wrong = replace(deps, cipher=TokenCipher([new_key()]))

    with pytest.raises(TokenKeyError, match="rotate-keys"):
        placements.place(session, wrong, placement(session, work_row, orcid).id)


def test_what_orcid_limits_cut_is_said_in_the_placed_notification(
    session, sandbox, cipher, deps, client_id
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    publish(session, "w-1", orcid, title="T" * 1200)

    place_pending(session, deps)

    told = notifications(session, "orcid.placed")[-1].payload
    assert told["notes"] == ["title: 1200 characters cut to 1000 (ORCID's limit)"]
    assert len(record_works(sandbox, orcid)[0]["title"]) == 1000


def test_a_works_placements_render_it_once_per_version_and_never_send_an_older_one(
    session, sandbox, cipher, deps, client_id, monkeypatch
):
    """Issue 13: the placements of one work share its rendering; a new version, or the DOI
    it gains, is rendered anew, never served from the earlier one."""
    renders: list[str] = []
    render = payload.render_orcid_work

    def counted(work, **kwargs):
        renders.append(work.title)
        return render(work, **kwargs)

    monkeypatch.setattr(payload, "render_orcid_work", counted)
    # Given three researchers who authorised us, on one work
    orcids = [researcher(sandbox) for _ in range(3)]
    for orcid in orcids:
        authorize(session, sandbox, cipher, orcid, client_id)
    publish(session, "w-shared", *orcids, title="First title")

    # When its placements run, the work is rendered once for all three
    place_pending(session, deps)
    assert renders == ["First title"]
    assert [record_works(sandbox, o)[0]["title"] for o in orcids] == ["First title"] * 3

    # When a new version changes the title, every record gets the new one
    publish(session, "w-shared", *orcids, title="Second title", event_type="work.updated")
    results = place_pending(session, deps)
    assert all(r.note.startswith("updated (put-code") for r in results), results
    assert renders == ["First title", "Second title"]
    assert [record_works(sandbox, o)[0]["title"] for o in orcids] == ["Second title"] * 3
