"""What happens to each event after intake: versions, duplicates, withdrawals, grants."""

from __future__ import annotations

from sqlalchemy import select

from tests.helpers import SOURCE, process_event, work
from worker.models import EventStatus, OrcidGrant, ReceivedEvent, Work


def _receive(
    session, event_type: str, data: dict, event_id: str, client_id: str = "cris", **extra
) -> int:
    row = ReceivedEvent(
        source=SOURCE,
        event_id=event_id,
        type=event_type,
        client_id=client_id,
        correlation_id="c-" + event_id,
        data=data,
        **extra,
    )
    session.add(row)
    session.flush()
    return row.id


def _stored(session) -> Work:
    return session.execute(select(Work)).scalar_one()


def test_newer_version_applies_and_older_is_recorded_stale(session):
    first = _receive(session, "work.published", work(version=2, title="v2"), "a")
    late = _receive(session, "work.updated", work(version=1, title="v1"), "b")
    newer = _receive(session, "work.updated", work(version=3, title="v3"), "c")

    assert process_event(session, first).status == EventStatus.DONE
    stale = process_event(session, late)
    assert stale.status == EventStatus.STALE
    assert "not newer than the stored version 2" in stale.message
    assert _stored(session).title == "v2"
    assert process_event(session, newer).status == EventStatus.DONE
    assert _stored(session).title == "v3"
    assert _stored(session).version == 3


def test_redelivered_message_is_not_processed_twice(session):
    event_id = _receive(session, "work.published", work(), "a")
    assert process_event(session, event_id) is not None
    assert process_event(session, event_id) is None
    assert session.get(ReceivedEvent, event_id).attempts == 1


def test_unchanged_update_changes_nothing(session):
    process_event(session, _receive(session, "work.published", work(), "a"))
    outcome = process_event(session, _receive(session, "work.updated", work(), "b"))
    assert outcome.status == EventStatus.DONE
    assert outcome.message == "metadata unchanged"


def test_registration_without_a_configured_account_fails_naming_the_setting(session, runtime):
    data = work(registration={"registrar": "datacite"})
    outcome = process_event(session, _receive(session, "work.published", data, "a"))
    assert outcome.status == EventStatus.FAILED
    assert "no datacite account is configured" in outcome.message
    assert "PIDSYNC_DATACITE_REPOSITORY_ID" in outcome.message


def test_a_different_doi_for_the_same_work_fails(session):
    process_event(session, _receive(session, "work.published", work(doi="10.5072/abc"), "a"))
    outcome = process_event(
        session, _receive(session, "work.updated", work(doi="10.5072/xyz", title="t2"), "b")
    )
    assert outcome.status == EventStatus.FAILED
    assert "never changes" in outcome.message


def test_withdrawal_then_higher_version_restores(session):
    process_event(session, _receive(session, "work.published", work(version=1), "a"))
    out = process_event(
        session,
        _receive(
            session,
            "work.withdrawn",
            {"id": "w-1", "version": 2, "tombstone_url": "https://x.org/gone"},
            "b",
        ),
    )
    assert out.status == EventStatus.DONE
    assert _stored(session).withdrawn_at is not None
    assert _stored(session).tombstone_url == "https://x.org/gone"
    process_event(session, _receive(session, "work.updated", work(version=3, title="back"), "c"))
    assert _stored(session).withdrawn_at is None


def test_withdrawing_an_unknown_work_waits_for_it_then_fails_with_reason(session):
    # A withdrawal may overtake its work's publication: it waits on the events' backoff
    out = process_event(session, _receive(session, "work.withdrawn", {"id": "nope"}, "a"))
    assert out.status == EventStatus.RECEIVED
    assert out.retry_in is not None
    assert "unknown work 'nope'" in out.message
    # Once its tries are spent (8 by default) it fails, naming the reason
    last = _receive(session, "work.withdrawn", {"id": "gone"}, "b", attempts=7)
    out = process_event(session, last)
    assert out.status == EventStatus.FAILED
    assert "unknown work 'gone'" in out.message


def test_a_withdrawal_that_overtook_the_publication_still_withdraws_the_work(session):
    # Found by the chaos traffic: the withdrawal (v2) processed before the publication (v1) it
    # overtook was failed and forgotten, and v1 then brought the work to life.
    withdrawal = _receive(session, "work.withdrawn", {"id": "w-1", "version": 2}, "b")
    assert process_event(session, withdrawal).status == EventStatus.RECEIVED
    published = process_event(session, _receive(session, "work.published", work(version=1), "a"))
    # The older publication is stored withdrawn at once (the withdrawal waiting for it is in
    # the inbox), nothing registered or placed
    assert published.status == EventStatus.STALE
    assert "after the withdrawal of version 2" in published.message
    # When the withdrawal is tried again
    assert process_event(session, withdrawal).status == EventStatus.DONE
    # Then the work is withdrawn at the newest version
    assert _stored(session).withdrawn_at is not None
    assert _stored(session).version == 2


def test_a_publication_arriving_after_its_withdrawal_gave_up_is_stored_withdrawn(session):
    from worker.models import DoiRegistration, OrcidPlacement

    # Found by the full chaos run (seed 17): the withdrawal (v2) came 70 s before the
    # publication (v1) it overtook, spent its tries waiting, failed; v1 then brought the work
    # to life, its DOI registered and its placements made.
    spent = _receive(session, "work.withdrawn", {"id": "w-1", "version": 2}, "b", attempts=7)
    assert process_event(session, spent).status == EventStatus.FAILED
    contributor = [{"given": "Ada", "family": "Lovelace", "orcid": "0000-0002-1825-0097"}]
    late = work(version=1, contributors=contributor, doi="10.5072/late")

    # When the older publication arrives at last
    published = process_event(session, _receive(session, "work.published", late, "a"))

    # Then the work is stored withdrawn at the withdrawal's version, with nothing registered or
    # placed, and the withdrawal is done, saying so
    assert published.status == EventStatus.STALE
    stored = _stored(session)
    assert stored.withdrawn_at is not None and stored.version == 2
    assert session.execute(select(DoiRegistration)).scalar_one_or_none() is None
    assert session.execute(select(OrcidPlacement)).scalar_one_or_none() is None
    withdrawal = session.get(ReceivedEvent, spent)
    session.refresh(withdrawal)
    assert withdrawal.status == EventStatus.DONE and withdrawal.work_id == stored.id
    assert "arrived after this withdrawal" in (withdrawal.outcome or "")
    # And a newer version brings it back, as after any withdrawal
    process_event(session, _receive(session, "work.updated", work(version=3, title="back"), "c"))
    assert _stored(session).withdrawn_at is None


def test_a_withdrawal_of_an_older_version_does_not_hold_back_a_newer_publication(session):
    spent = _receive(session, "work.withdrawn", {"id": "w-1", "version": 1}, "b", attempts=7)
    assert process_event(session, spent).status == EventStatus.FAILED
    published = process_event(session, _receive(session, "work.published", work(version=2), "a"))
    assert published.status == EventStatus.DONE
    assert _stored(session).withdrawn_at is None


def test_a_grant_whose_token_cannot_be_proven_is_not_stored(session):
    # Given a researcher.authorized event and a worker without the ORCID API at hand
    data = {
        "orcid": "0000-0002-1825-0097",
        "access_token_enc": "gAAAA-cipher",
        "scope": "/read-limited",
        "client_id": "APP-1",
        "expires_in": 100,
    }
    out = process_event(session, _receive(session, "researcher.authorized", data, "a"))
    # Then the event fails with the reason and no grant is stored
    assert out.status == EventStatus.FAILED
    assert "verify the token" in out.message
    assert session.execute(select(OrcidGrant)).scalar_one_or_none() is None


def test_a_transient_failure_postpones_the_event_then_fails_it_with_the_reason(session):
    from structlog.testing import capture_logs

    from worker.config import Settings
    from worker.events.service import Context
    from worker.pids.negotiation import Negotiator

    # Given an event asking for enrichment while the resolver cannot be reached
    settings = Settings(_env_file=None, env="test", events={"retry_backoff": [7], "max_retries": 2})
    ctx = Context(settings, negotiator=Negotiator("http://127.0.0.1:9", timeout=1))
    data = work(doi="10.5555/12345678")
    event_id = _receive(session, "work.published", data, "a", options={"enrich": True})

    # When it is processed: the try is recorded, a retry is scheduled, nothing is applied
    with capture_logs() as logs:
        first = process_event(session, event_id, ctx)
    row = session.get(ReceivedEvent, event_id)
    assert first.retry_in == 7 and first.status == EventStatus.RECEIVED
    assert row.status == EventStatus.RECEIVED and row.attempts == 1
    assert row.next_attempt_at is not None and "attempt 1 failed" in row.outcome
    assert session.execute(select(Work)).first() is None
    retries = [entry for entry in logs if entry["event"] == "event_retry_scheduled"]
    assert len(retries) == 1 and retries[0]["log_level"] == "warning"
    assert "exc_info" not in retries[0]

    # Then the last allowed try fails the event with the reason
    last = process_event(session, event_id, ctx)
    assert last.status == EventStatus.FAILED and last.retry_in is None
    assert row.status == EventStatus.FAILED and "gave up after 2 attempts" in row.outcome
    assert row.next_attempt_at is None


def test_another_clients_withdrawal_does_not_hold_back_a_publication(session):
    # Tenancy: a client that does not own the work cannot pre-empt it by withdrawing its id
    # first (the intake refuses sources a client does not own; this holds where sources overlap)
    foreign = _receive(
        session, "work.withdrawn", {"id": "w-1", "version": 9}, "b", attempts=7,
        client_id="other",
    )  # fmt: skip
    assert process_event(session, foreign).status == EventStatus.FAILED
    published = process_event(session, _receive(session, "work.published", work(version=1), "a"))
    assert published.status == EventStatus.DONE
    assert _stored(session).withdrawn_at is None
