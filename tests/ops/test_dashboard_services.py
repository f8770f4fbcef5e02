"""The ops query services behind /ops and the CLI: a failed DOI is found by its id, DOI and
tenant, its timeline shows the agency's answer and each call, problems group it by the
agency's reason, and each operator action is recorded — against the sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.ops.flows import fail_with_401
from tests.registrars.flow import datacite_work, event, registration, sync
from worker.clock import utcnow
from worker.models import DoiState, EventStatus, OpsAction, OpsActionKind, ReceivedEvent, Work
from worker.ops import dead_letters as letters
from worker.ops import overview, problems, works


def test_a_failed_doi_is_found_by_id_doi_and_tenant_and_not_by_another(session, registrars):
    reg = fail_with_401(session, registrars)
    for query in ("w-1", reg.doi, f"https://doi.org/{reg.doi.upper()}"):
        page = works.search(session, query=query)
        assert [row["id"] for row in page.items] == ["w-1"], query
    assert works.search(session, query="w-1", tenant="cris").items
    assert works.search(session, query="w-1", tenant="another-client").items == []
    assert [r["id"] for r in works.search(session, state="failed").items] == ["w-1"]
    assert works.search(session, state="held").items == []


def test_search_pages_do_not_overlap_and_say_when_more_follow(session, registrars):
    for n in range(5):
        event(session, "work.published", datacite_work(f"w-{n}"))
    first = works.search(session, limit=2)
    second = works.search(session, limit=2, offset=2)
    third = works.search(session, limit=2, offset=4)
    ids = [r["id"] for page in (first, second, third) for r in page.items]
    assert sorted(ids) == [f"w-{n}" for n in range(5)]
    assert first.more and second.more and not third.more


def test_a_bad_state_is_refused_by_name(session):
    with pytest.raises(ValueError, match="unknown state 'stuck'"):
        works.search(session, state="stuck")


def test_the_timeline_shows_the_refusal_and_every_call_with_status_and_latency(session, registrars):
    reg = fail_with_401(session, registrars)
    work = works.find(session, reg.doi)
    assert work is not None and work.external_id == "w-1"
    shown = works.timeline(session, work)
    kinds = {entry["kind"] for entry in shown["timeline"]}
    assert {"event", "doi", "call"} <= kinds
    calls = [e for e in shown["timeline"] if e["kind"] == "call"]
    assert any(c["detail"]["status"] == 401 for c in calls)
    assert all(isinstance(c["detail"]["latency_ms"], int) for c in calls)
    assert shown["work"]["doi"]["state"] == "failed"
    assert "wrong-password" not in repr(shown)


def test_a_receipt_and_a_source_id_pair_find_the_same_work(session, registrars):
    event(session, "work.published", datacite_work("w-9"))
    row = session.execute(select(ReceivedEvent)).scalars().first()
    assert row is not None
    by_receipt = works.find(session, str(row.receipt))
    by_pair = works.find(session, f"{row.source} w-9")
    assert by_receipt is not None and by_receipt.id == by_pair.id


def test_problems_group_by_reason_and_retry_all_of_a_reason_registers_the_doi(
    session, registrars, sandbox, settings
):
    # Given two DOIs refused with the account's 401 (fixed since) and one registered
    fail_with_401(session, registrars)
    event(session, "work.published", datacite_work("w-ok"))
    assert sync(session, registrars, registration(session, "w-ok")) is None
    groups = problems.groups(session, settings)
    assert len(groups) == 1 and groups[0]["count"] == 1 and "401" in groups[0]["reason"]
    listed = problems.items(session, settings, groups[0]["reason"])
    assert [(i["kind"], i["work"]["id"]) for i in listed] == [("doi", "w-1")]

    # When the operator retries everything of that reason
    done = problems.retry_reason(session, settings, "ann", groups[0]["reason"])

    # Then the DOI is sent again, registered, and the action recorded with its outcome
    reg = registration(session, "w-1")
    assert sync(session, registrars, reg) is None
    session.refresh(reg)
    assert reg.state in (DoiState.FINDABLE, DoiState.REGISTERED)
    assert done.action.actor == "ann" and done.action.result["retried"] == 1
    assert problems.groups(session, settings) == []


def test_discard_needs_a_note_hides_the_problem_and_is_audited(session, registrars, settings):
    reg = fail_with_401(session, registrars)
    with pytest.raises(problems.ActionRefused, match="note"):
        problems.discard(session, "ann", "doi", reg.id, "  ")
    problems.discard(session, "ann", "doi", reg.id, "account closed; the CRIS re-sends")
    assert problems.groups(session, settings) == []
    audit = session.execute(select(OpsAction)).scalars().all()
    assert [(a.action, a.actor, a.note) for a in audit] == [
        (OpsActionKind.DISCARD, "ann", "account closed; the CRIS re-sends")
    ]


def test_retry_one_of_something_not_failed_is_refused_and_not_recorded(session, settings):
    with pytest.raises(problems.ActionRefused, match="no failed or waiting DOI"):
        problems.retry_one(session, settings, "ann", "doi", 999_999)
    assert session.execute(select(OpsAction)).first() is None


def test_an_unhandled_event_becomes_stale_after_the_threshold(session, settings):
    row = ReceivedEvent(
        source="urn:x",
        event_id="e-1",
        type="work.published",
        client_id="cris",
        correlation_id="c",
        data={"id": "x"},
        received_at=utcnow() - timedelta(seconds=settings.dashboard.stale_after_seconds + 60),
        enqueued_at=utcnow() - timedelta(seconds=settings.dashboard.stale_after_seconds + 60),
    )
    session.add(row)
    session.flush()
    stale = problems.items(session, settings, problems.UNHANDLED)
    assert [(i["kind"], i["row_id"], i["stale"]) for i in stale] == [("event", row.id, True)]
    assert works.search(session, state="stale", stale_before=utcnow()).items == []  # no work yet


def test_overview_counts_the_failure_and_the_calls(session, registrars, broker):
    fail_with_401(session, registrars)
    shown = overview.overview(session, broker)
    assert shown["events"]["hour"]["received"] == 1
    assert shown["problems"]["failed_dois"] == 1
    datacite = next(c for c in shown["calls"]["hour"] if c["service"] == "datacite")
    assert datacite["errors"] >= 1 and datacite["calls"] >= datacite["errors"]
    assert len(shown["chart"]) == 24 and sum(h["received"] for h in shown["chart"]) == 1
    assert {q["kind"] for q in shown["queues"]} == {"ready", "delayed", "dead"}


def test_queue_depth_and_oldest_age_are_read_from_the_broker(session, broker):
    from worker.broker import send

    send("events.process", 1, delay=None)
    send("events.process", 2, delay=None)
    ready = next(q for q in overview.overview(session, broker)["queues"] if q["kind"] == "ready")
    assert ready["depth"] == 2 and ready["oldest_age_seconds"] is not None


def test_dead_letters_show_redacted_replay_once_and_purge_audited(session):
    from worker.models import DeadLetter

    letter = DeadLetter(
        queue="pidsync",
        actor="events.process",
        message_id="m-1",
        args=[7],
        reason="GET https://user:hunter2@example.org/x?access_token=abc failed",
    )
    session.add(letter)
    session.flush()
    shown = letters.shown(letter)
    assert "hunter2" not in shown["reason"] and "abc" not in shown["reason"]
    letters.replay(session, letter.id, "ann")
    with pytest.raises(LookupError, match="already requeued"):
        letters.replay(session, letter.id, "ann")
    assert letters.parked_ids(session) == []
    assert letters.purge(session, [letter.id], "ann", "cleaned") == 1
    actions = session.execute(select(OpsAction.action).order_by(OpsAction.id)).scalars().all()
    assert actions == [OpsActionKind.REPLAY, OpsActionKind.PURGE]


def test_ops_is_cross_tenant(session, registrars):
    event(session, "work.published", datacite_work("w-a"), client_id="cris")
    work = session.execute(select(Work).where(Work.external_id == "w-a")).scalar_one()
    work.client_id = "another"
    session.flush()
    assert [r["tenant"] for r in works.search(session, query="w-a").items] == ["another"]
    assert session.execute(select(ReceivedEvent.status)).scalar_one() == EventStatus.DONE


def test_waits_for_a_shared_rate_limit_are_counted_per_limit(session, broker, runtime):
    from worker.ratelimit import Limit

    limit = Limit("test-agency", rate=50, burst=1)
    runtime.limiter.acquire(limit)  # a free slot: no wait
    runtime.limiter.acquire(limit)  # the next one waits about 20 ms
    shown = overview.overview(session, broker, runtime.limiter)
    waits = {w["limit"]: w for w in shown["rate_limit_waits"]["hour"]}
    assert waits["test-agency"]["waits"] == 1
    assert waits["test-agency"]["seconds"] >= 0
    assert shown["rate_limit_waits"]["day"] == shown["rate_limit_waits"]["hour"]


def _failed_event(session, n: int, outcome: str, **fields) -> ReceivedEvent:
    row = ReceivedEvent(
        source="urn:x",
        event_id=f"e-{n}",
        type="work.published",
        client_id="cris",
        correlation_id="c",
        data={"id": f"x-{n}"},
        status=EventStatus.FAILED,
        outcome=outcome,
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def test_failures_differing_only_by_doi_or_try_count_form_one_group(session, settings, broker):
    a = _failed_event(session, 1, "DataCite refused 10.5072/abc (try 2): schema error")
    b = _failed_event(session, 2, "DataCite refused 10.5072/XYZ-9 (try 7): schema error")
    _failed_event(session, 3, "ORCID answered 500 for 0000-0002-1825-0097")
    found = {g["reason"]: g["count"] for g in problems.groups(session, settings)}
    assert found == {
        "DataCite refused <DOI> (try N): schema error": 2,
        "ORCID answered 500 for <ORCID iD>": 1,
    }
    # Retrying the group retries each of its items, and nothing else
    done = problems.retry_reason(
        session, settings, "ann", "DataCite refused <DOI> (try N): schema error"
    )
    assert done.action.result == {"retried": 2, "skipped": 0}
    assert {a.status, b.status} == {EventStatus.RECEIVED}
    assert [g["count"] for g in problems.groups(session, settings)] == [1]


def test_a_stale_group_is_retried_by_bringing_it_forward(session, settings, broker):
    old = utcnow() - timedelta(seconds=settings.dashboard.stale_after_seconds + 60)
    row = ReceivedEvent(
        source="urn:x",
        event_id="e-s",
        type="work.published",
        client_id="cris",
        correlation_id="c",
        data={"id": "x"},
        received_at=old,
        enqueued_at=old,
    )
    session.add(row)
    session.flush()
    done = problems.retry_reason(session, settings, "ann", problems.UNHANDLED)
    assert done.action.result == {"retried": 1, "skipped": 0}
    assert row.enqueued_at is not None and row.status == EventStatus.RECEIVED
    assert problems.groups(session, settings) == []  # just sent again: not stale for now
    with pytest.raises(problems.ActionRefused, match="nothing is listed"):
        problems.retry_reason(session, settings, "ann", "no such reason")


def test_grants_by_state_and_tenant_with_revoked_and_expiring(session):
    from worker.models import GrantStatus, OrcidGrant, Researcher
    from worker.ops import grants

    now = utcnow()
    for n, (status, owner, expires) in enumerate(
        [
            (GrantStatus.ACTIVE, "cris", now + timedelta(days=3650)),
            (GrantStatus.ACTIVE, "cris", now + timedelta(days=5)),
            (GrantStatus.REVOKED, "other", None),
        ]
    ):
        person = Researcher(orcid=f"0000-0002-0000-000{n}")
        session.add(person)
        session.flush()
        session.add(
            OrcidGrant(
                researcher_id=person.id,
                client_id="APP-1",
                scope="/activities/update",
                access_token_enc=b"ciphertext",
                status=status,
                owner=owner,
                expires_at=expires,
                last_checked_at=now - timedelta(hours=n),
                revoked_at=now if status == GrantStatus.REVOKED else None,
                revoked_reason="revoked at ORCID" if status == GrantStatus.REVOKED else None,
            )
        )
    session.flush()
    shown = grants.summary(session, now=now)
    assert {(r["tenant"], r["state"], r["count"]) for r in shown["by_state"]} == {
        ("cris", "active", 2),
        ("other", "revoked", 1),
    }
    assert [r["orcid"] for r in shown["revoked"]] == ["0000-0002-0000-0002"]
    assert [r["orcid"] for r in shown["expiring"]] == ["0000-0002-0000-0001"]
    assert shown["last_checked_at"] == now.isoformat()
    assert "ciphertext" not in repr(shown)


def test_deposits_by_state_with_crossrefs_diagnostics(session, registrars):
    from worker.models import CrossrefDeposit, CrossrefDepositRecord, DepositStatus, RecordOutcome
    from worker.ops import deposits

    event(session, "work.published", datacite_work("w-d"))
    reg = registration(session, "w-d")
    done = CrossrefDeposit(
        account="default",
        prefix="10.32013",
        file_name="f-1.xml",
        doi_batch_id="b-1",
        content="<x/>",
        status=DepositStatus.COMPLETED,
    )
    waiting = CrossrefDeposit(
        account="default",
        prefix="10.32013",
        file_name="f-2.xml",
        doi_batch_id="b-2",
        content="<x/>",
        status=DepositStatus.SUBMITTED,
        stale=True,
    )
    session.add_all([done, waiting])
    session.flush()
    session.add(
        CrossrefDepositRecord(
            deposit_id=done.id,
            registration_id=reg.id,
            doi=reg.doi,
            timestamp=1,
            payload_hash="h",
            status=RecordOutcome.FAILURE,
            message="title is missing",
        )
    )
    session.flush()
    counts = deposits.counts(session)
    assert counts["completed"] == 1 and counts["submitted"] == 1 and counts["stale"] == 1
    failed = deposits.page(session, status="completed")
    assert [(r["doi"], r["outcome"], r["diagnostic"]) for r in failed[0]["records"]] == [
        (reg.doi, "Failure", "title is missing")
    ]
    with pytest.raises(ValueError, match="unknown deposit state"):
        deposits.page(session, status="lost")
