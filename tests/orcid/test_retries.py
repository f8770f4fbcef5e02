"""The one retry model on ORCID effects: a transient failure is recorded on the row the effect is
about (a placement, or one effect about a grant), the message is postponed by the backoff (by
ORCID's Retry-After when it gave one), the sweeps re-send what a lost message left behind, and
spent tries become a failure a person can read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.helpers import queued_messages, session_database
from tests.orcid.helpers import (
    authorize,
    notifications,
    place_pending,
    placement,
    publish,
    receive,
    record_works,
    researcher,
)
from worker.clock import utcnow
from worker.db import pending_messages
from worker.models import GrantEffect, OrcidGrantAttempt, PlacementState, Researcher, Work
from worker.orcid import backfill, reconcile, revocation, suggestions, sweep
from worker.orcid import notifications as orcid_notifications


def _attempts(session) -> list[OrcidGrantAttempt]:
    session.expire_all()
    query = select(OrcidGrantAttempt).order_by(OrcidGrantAttempt.id)
    return list(session.execute(query).scalars())


def _revoked_here(session, sandbox, cipher, client_id):
    """A researcher's grant, revoked by the emitting system (its token still to revoke)."""
    orcid = researcher(sandbox)
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "researcher.revoked", {"orcid": orcid})
    return orcid, grant


def test_token_revocation_is_retried_on_its_own_row_then_forgotten(
    session, sandbox, cipher, deps, client_id
):
    _orcid, grant = _revoked_here(session, sandbox, cipher, client_id)
    sandbox.set_faults("orcid", outage_seconds=30)

    # When ORCID is down as the token is revoked there
    first = revocation.revoke_at_orcid(session, deps, grant.id)

    # Then the try is recorded on the grant's revocation row, the message postponed by
    # ORCID's Retry-After, and the token kept for the next try
    assert first.delay is not None and 25 <= first.delay <= 30
    [row] = _attempts(session)
    assert row.effect == GrantEffect.REVOKE_AT_ORCID and row.grant_id == grant.id
    assert row.attempts == 1 and "503" in row.last_error and row.failed_at is None
    assert first.delay - 5 <= (row.next_attempt_at - utcnow()).total_seconds() <= first.delay
    assert row.grant.access_token_enc != b""

    # When ORCID is back: the token is revoked and the tries forgotten
    sandbox.set_faults("orcid", outage_seconds=0)
    second = revocation.revoke_at_orcid(session, deps, grant.id)
    assert second.note == "token revoked at ORCID" and second.delay is None
    assert _attempts(session) == []


def test_spent_tries_of_a_grant_effect_are_a_recorded_failure(
    session, sandbox, cipher, deps, client_id
):
    import structlog

    orcid = researcher(sandbox)
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    sandbox.set_faults("orcid", error_rate=1.0)
    tries = deps.settings.orcid.max_retries

    with structlog.testing.capture_logs() as logs:
        results = [reconcile.check_grant(session, deps, grant.id) for _ in range(tries)]

    assert all(r.delay is not None for r in results[:-1])
    assert results[-1].delay is None and results[-1].note.startswith("failed: retries exhausted")
    [row] = _attempts(session)
    assert row.effect == GrantEffect.CHECK_GRANT and row.attempts == tries
    assert row.failed_at is not None and row.next_attempt_at is None and row.last_error
    events = [(e["event"], e["log_level"]) for e in logs if e["log_level"] == "warning"]
    assert events == [("orcid_retry_scheduled", "warning")] * (tries - 1) + [
        ("orcid_effect_failed", "warning")
    ]
    assert not any(e["log_level"] in ("error", "critical") or "exc_info" in e for e in logs)
    # A later check that works settles it
    sandbox.set_faults("orcid", error_rate=0)
    assert reconcile.check_grant(session, deps, grant.id).note == "token works"
    assert _attempts(session) == []


def test_effects_about_one_grant_count_their_tries_apart(
    session, sandbox, cipher, client_id, tmp_path, redis_client
):
    from tests.orcid.conftest import orcid_settings
    from worker.orcid.deps import build

    settings = orcid_settings(sandbox, tmp_path, orcid_premium_notifications=True)
    deps = build(settings, cipher, redis_client)
    orcid = researcher(sandbox)
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    publish(session, "w-1", orcid)
    receive(session, "researcher.revoked", {"orcid": orcid})  # the work now awaits consent
    sandbox.set_faults("orcid", outage_seconds=30)

    # When revoking the token and asking the researcher to authorise again both fail
    revocation.revoke_at_orcid(session, deps, grant.id)
    orcid_notifications.request_permission(session, deps, grant.id)
    revocation.revoke_at_orcid(session, deps, grant.id)

    # Then each effect has its own count
    tries = {row.effect: row.attempts for row in _attempts(session)}
    assert tries == {GrantEffect.REVOKE_AT_ORCID: 2, GrantEffect.REQUEST_PERMISSION: 1}


def test_reconcile_retries_a_record_it_could_not_read_and_keeps_its_snapshot(
    session, sandbox, cipher, deps, client_id
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    publish(session, "w-1", orcid)
    place_pending(session, deps)
    sandbox.set_faults("orcid", outage_seconds=30)

    failed = reconcile.reconcile_record(session, deps, orcid)

    assert failed.delay is not None and 25 <= failed.delay <= 30
    assert "503" in failed.report["errors"][0]
    [row] = _attempts(session)
    assert row.effect == GrantEffect.RECONCILE and row.attempts == 1
    snapshot = session.execute(select(Researcher.record_snapshot)).scalar_one()
    assert snapshot is None  # the first look has not happened yet

    sandbox.set_faults("orcid", outage_seconds=0)
    assert reconcile.reconcile_record(session, deps, orcid).note == "reconciled"
    assert _attempts(session) == []
    assert session.execute(select(Researcher.record_snapshot)).scalar_one() == {"foreign": []}


def test_the_sweep_resends_a_grant_effect_whose_retry_message_was_lost(
    broker, session, sandbox, cipher, deps, client_id, redis_client
):
    orcid, grant = _revoked_here(session, sandbox, cipher, client_id)
    sandbox.set_faults("orcid", outage_seconds=30)
    revocation.revoke_at_orcid(session, deps, grant.id)
    reconcile.reconcile_record(session, deps, orcid)  # no active grant: nothing to retry
    settings = deps.settings
    assert (
        sweep.resend_overdue_grant_effects(session_database(session), settings) == 0
    )  # its retry is not due

    # When the postponed message is lost: the retry is overdue by more than the grace
    [row] = _attempts(session)
    grace = timedelta(seconds=settings.orcid.resend_grace_seconds)
    row.next_attempt_at = utcnow() - grace - timedelta(seconds=1)
    session.flush()

    # Then the sweep sends the effect's message again, once per grace period
    assert sweep.resend_overdue_grant_effects(session_database(session), settings) == 1
    assert ("orcid.revoke_token", (grant.id,)) in queued_messages(redis_client)
    assert sweep.resend_overdue_grant_effects(session_database(session), settings) == 0


def test_the_sweep_sends_a_lost_reconciliation_by_the_records_id(
    broker, session, sandbox, cipher, deps, client_id, redis_client
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    sandbox.set_faults("orcid", outage_seconds=30)
    reconcile.reconcile_record(session, deps, orcid)
    [row] = _attempts(session)
    row.next_attempt_at = utcnow() - timedelta(hours=1)
    session.flush()

    assert sweep.resend_overdue_grant_effects(session_database(session), deps.settings) == 1
    assert ("orcid.reconcile", (orcid,)) in queued_messages(redis_client)


def test_the_placement_sweep_waits_for_a_scheduled_retry(
    broker, session, sandbox, cipher, deps, client_id, redis_client
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    row = placement(session, publish(session, "w-1", orcid), orcid)
    settings = deps.settings
    grace = timedelta(seconds=settings.orcid.resend_grace_seconds)

    # Given a placement last sent long ago whose retry ORCID asked to wait an hour for
    row.enqueued_at = utcnow() - 2 * grace
    row.next_attempt_at = utcnow() + timedelta(hours=1)
    session.flush()
    assert sweep.resend_stalled_placements(session_database(session), settings) == 0

    # When that retry is overdue by more than the grace, its message was lost
    row.next_attempt_at = utcnow() - grace - timedelta(seconds=1)
    session.flush()
    assert sweep.resend_stalled_placements(session_database(session), settings) == 1
    assert ("orcid.place", (row.id,)) in queued_messages(redis_client)


def test_a_bulk_post_whose_answer_was_lost_is_read_back_before_posting_again(
    session, sandbox, cipher, deps, client_id
):
    # Given three works waiting for consent, and the network losing ORCID's bulk answer
    orcid = researcher(sandbox)
    works = [publish(session, f"w-{i}", orcid) for i in range(3)]
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    sandbox.set_faults("orcid", lost_response_rate=1.0)

    first = backfill.backfill(session, deps, grant.id)

    # Then each placement records the try and stays in doubt; the message is postponed
    assert first.delay == deps.settings.orcid.retry_backoff[0]
    rows = [placement(session, w, orcid) for w in works]
    assert all(r.in_doubt and r.attempts == 1 and r.next_attempt_at for r in rows)
    assert len(record_works(sandbox, orcid)) == 3  # ORCID did create them

    # When the retry runs: it reads the record and adopts them, never POSTs again
    sandbox.set_faults("orcid", lost_response_rate=0)
    second = backfill.backfill(session, deps, grant.id)
    place_pending(session, deps)

    assert second.note == "every work was already on the record: adopted"
    assert {placement(session, w, orcid).state for w in works} == {PlacementState.PLACED}
    assert len(record_works(sandbox, orcid)) == 3


def test_suggestions_send_their_next_try_with_the_count(session, sandbox, deps):
    from tests.helpers import work

    data = work("w-9", contributors=[{"given": "Grace", "family": "Hopper"}])
    receive(session, "work.published", data)
    work_id = session.execute(select(Work.id)).scalar_one()
    sandbox.set_faults("orcid", error_rate=1.0)

    first = suggestions.suggest_for_work(session, deps, work_id)
    assert pending_messages(session)[-1] == ("orcid.suggest", (work_id, 1))
    assert first.note.startswith("will retry in")

    spent = deps.settings.orcid.max_retries - 1
    last = suggestions.suggest_for_work(session, deps, work_id, spent)
    assert last.note.startswith("failed: retries exhausted")
    assert pending_messages(session)[-1] == ("orcid.suggest", (work_id, 1))  # nothing more
    assert notifications(session, "orcid.suggestions") == []


@pytest.mark.parametrize("effect", list(GrantEffect))
def test_every_grant_effect_is_an_orcid_actor(effect, broker):
    from worker.broker import declared_actors

    assert effect.value in {a.actor_name for a in declared_actors()}
