"""Affiliations on ORCID records with the works' guarantees: placed once, updated in place,
withdrawn; lost answers adopted; the researcher's deletion respected; backfill on a new grant;
revocation parks them. Counted at the sandbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.helpers import at_once, process_event
from tests.orcid.helpers import CONTEXT, authorize, notifications, receive, researcher
from tests.orcid.sections_helpers import (
    OTHER_ORG,
    affiliation,
    assertion,
    items,
    place_pending_items,
    record_items,
)
from tests.orcid.sections_helpers import settings as settings  # noqa: PLC0414 - the fixture
from worker.metadata.orcid_items import AFFILIATION_KINDS
from worker.models import ApiCall, OrcidItemKind, PlacementState
from worker.orcid.reconcile import reconcile_record
from worker.orcid.sections.status import item_status


def _calls(session, method: str | None = None) -> list[tuple[str, int | None]]:
    query = select(ApiCall).where(ApiCall.service == "orcid", ~ApiCall.url.endswith("/record"))
    if method:
        query = query.where(ApiCall.method == method)
    return [(c.method, c.status) for c in session.execute(query.order_by(ApiCall.id)).scalars()]


@pytest.mark.parametrize("kind", AFFILIATION_KINDS)
def test_each_affiliation_section_is_placed_once_updated_in_place_and_withdrawn(
    session, sandbox, cipher, deps, client_id, kind
):
    # Given a researcher who authorised the institution
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)

    # When the CRIS publishes an affiliation (naming no organisation: the tenant's is used)
    event = receive(session, "affiliation.published", affiliation(orcid, kind=kind, version=1))
    place_pending_items(session, deps)
    # Then it is on the record once, in its section, with the institution's ROR id
    assert event.status.value == "done", event.outcome
    on_record = record_items(sandbox, orcid)
    assert [(a["section"], a["source_client_id"]) for a in on_record] == [(kind, client_id)]
    organization = on_record[0]["body"]["organization"]
    assert organization["disambiguated-organization"]["disambiguated-organization-identifier"] == (
        "https://ror.org/03b94tp07"
    )
    put_code = on_record[0]["put_code"]

    # When it is updated (a newer version) and its unchanged repeat arrives
    receive(session, "affiliation.updated", affiliation(orcid, kind=kind, version=2, role="Dean"))
    place_pending_items(session, deps)
    receive(session, "affiliation.updated", affiliation(orcid, kind=kind, version=2, role="Dean"))
    place_pending_items(session, deps)
    # Then the same item was changed in place, once
    on_record = record_items(sandbox, orcid)
    assert [(a["put_code"], a["body"]["role-title"]) for a in on_record] == [(put_code, "Dean")]

    # When it is withdrawn
    receive(session, "affiliation.withdrawn", {"id": "aff-1"})
    place_pending_items(session, deps)
    # Then it is gone from the record
    assert record_items(sandbox, orcid) == []
    assert [i.state for i in items(session, "affiliation", "aff-1")] == [PlacementState.DELETED]
    # (a new affiliation's section is read first: ORCID would take a second one from us)
    assert _calls(session) == [("GET", 200), ("POST", 201), ("PUT", 200), ("DELETE", 204)]


def test_an_older_version_is_stale_and_changes_nothing(session, sandbox, cipher, deps, client_id):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "affiliation.published", affiliation(orcid, version=3, role="Dean"))
    place_pending_items(session, deps)

    older = receive(session, "affiliation.updated", affiliation(orcid, version=2, role="Clerk"))

    assert older.status.value == "stale"
    assert place_pending_items(session, deps) == []
    assert record_items(sandbox, orcid)[0]["body"]["role-title"] == "Dean"


def test_a_lost_answer_is_read_back_and_adopted(session, sandbox, cipher, deps, client_id):
    # Given the network loses ORCID's answer to the POST (ORCID did create the item)
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "affiliation.published", affiliation(orcid))
    sandbox.set_faults("orcid", script=[{"answer": "lost", "method": "POST"}])
    first = place_pending_items(session, deps)[0]
    row = items(session, "affiliation", "aff-1")[0]
    assert first.delay is not None and row.in_doubt and row.put_code is None

    # When the retry runs
    place_pending_items(session, deps)

    # Then it read the section, adopted our item, and did not POST again
    on_record = record_items(sandbox, orcid)
    row = items(session, "affiliation", "aff-1")[0]
    assert len(on_record) == 1
    assert row.put_code == on_record[0]["put_code"] and row.state == PlacementState.PLACED
    assert [m for m, _ in _calls(session)] == ["GET", "POST", "GET", "PUT"]


def test_the_researcher_deleting_it_is_respected(session, sandbox, cipher, deps, client_id):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "affiliation.published", affiliation(orcid, version=1))
    place_pending_items(session, deps)
    sandbox.delete_activity(orcid, record_items(sandbox, orcid)[0]["put_code"])

    receive(session, "affiliation.updated", affiliation(orcid, version=2, role="Dean"))
    place_pending_items(session, deps)
    receive(session, "affiliation.updated", affiliation(orcid, version=3, role="Provost"))
    place_pending_items(session, deps)

    assert record_items(sandbox, orcid) == []
    row = items(session, "affiliation", "aff-1")[0]
    assert row.state == PlacementState.REMOVED_BY_RESEARCHER
    assert [n.event_type for n in notifications(session, "orcid.removed_by_researcher")] == [
        "orcid.removed_by_researcher"
    ]


def test_it_waits_for_consent_and_the_grant_backfills_it(session, sandbox, cipher, deps, client_id):
    # Given an affiliation for a researcher who has not authorised anyone yet
    orcid = researcher(sandbox)
    receive(session, "affiliation.published", affiliation(orcid))
    assert place_pending_items(session, deps) == []
    assert items(session, "affiliation", "aff-1")[0].state == PlacementState.AWAITING_CONSENT

    # When their grant arrives
    _grant_event, _ = authorize(session, sandbox, cipher, orcid, client_id)
    place_pending_items(session, deps)

    # Then the affiliation is placed
    assert [a["section"] for a in record_items(sandbox, orcid)] == ["employment"]
    assert items(session, "affiliation", "aff-1")[0].state == PlacementState.PLACED


def test_a_revoked_grant_parks_it_until_the_researcher_authorises_again(
    session, sandbox, cipher, deps, client_id
):
    orcid = researcher(sandbox)
    _grant, token = authorize(session, sandbox, cipher, orcid, client_id)
    sandbox.revoke_token(token["access_token"])
    receive(session, "affiliation.published", affiliation(orcid))

    result = place_pending_items(session, deps)[0]

    assert "revoked" in result.note
    row = items(session, "affiliation", "aff-1")[0]
    assert row.state == PlacementState.AWAITING_CONSENT
    assert record_items(sandbox, orcid) == []
    authorize(session, sandbox, cipher, orcid, client_id)
    place_pending_items(session, deps)
    assert len(record_items(sandbox, orcid)) == 1


def test_moving_to_another_section_removes_the_old_item(session, sandbox, cipher, deps, client_id):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "affiliation.published", affiliation(orcid, version=1))
    place_pending_items(session, deps)

    receive(session, "affiliation.updated", affiliation(orcid, version=2, kind="service"))
    place_pending_items(session, deps)

    assert [a["section"] for a in record_items(sandbox, orcid)] == ["service"]
    assert items(session, "affiliation", "aff-1")[0].section == "service"


def test_placed_and_failed_webhooks_name_the_section(session, sandbox, cipher, deps, client_id):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "affiliation.published", affiliation(orcid, kind="education"))
    place_pending_items(session, deps)

    placed = notifications(session, "orcid.placed")

    assert [n.payload["section"] for n in placed] == ["education"]
    assert placed[0].payload["kind"] == "affiliation"
    assert placed[0].payload["id"] == "aff-1"
    assert placed[0].client_id == "cris"


def test_the_status_is_shown_to_its_owner_only(session, sandbox, cipher, deps, client_id):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    event = receive(session, "affiliation.published", affiliation(orcid))
    place_pending_items(session, deps)

    mine = item_status(session, OrcidItemKind.AFFILIATION, event.source, "aff-1", owner="cris")
    theirs = item_status(session, OrcidItemKind.AFFILIATION, event.source, "aff-1", owner="other")

    assert theirs is None
    assert mine is not None
    assert [(i["orcid"], i["state"], i["section"]) for i in mine["orcid"]] == [
        (orcid, "placed", "employment")
    ]


def test_another_client_cannot_touch_an_affiliation_it_does_not_own(
    session, sandbox, cipher, deps, client_id
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "affiliation.published", affiliation(orcid, version=1))
    place_pending_items(session, deps)

    # The same (source, id) sent by another client (its intake refuses the source; the
    # processor refuses it too, should one get through)
    update = receive(
        session, "affiliation.updated", affiliation(orcid, version=2, role="X"), client_id="other"
    )
    withdraw = receive(session, "affiliation.withdrawn", {"id": "aff-1"}, client_id="other")

    assert update.status.value == "failed" and "another client" in update.outcome
    assert withdraw.status.value == "failed"
    assert place_pending_items(session, deps) == []
    assert record_items(sandbox, orcid)[0]["body"]["role-title"] == "Lecturer"
    assert assertion(session, "affiliation", "aff-1").withdrawn_at is None


def test_an_event_naming_its_own_organisation_keeps_it(session, sandbox, cipher, deps, client_id):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)

    receive(session, "affiliation.published", affiliation(orcid, organization=OTHER_ORG))
    place_pending_items(session, deps)

    assert record_items(sandbox, orcid)[0]["body"]["organization"]["name"] == "Elsewhere"


def test_reconciliation_finds_a_deleted_affiliation_and_respects_it(
    session, sandbox, cipher, deps, client_id
):
    # Given an affiliation on the record, which the researcher then deletes at ORCID
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "affiliation.published", affiliation(orcid))
    place_pending_items(session, deps)
    put_code = record_items(sandbox, orcid)[0]["put_code"]
    sandbox.delete_activity(orcid, put_code)

    # When the record is reconciled
    result = reconcile_record(session, deps, orcid)

    # Then the item is marked removed by the researcher, reported, and not queued again
    assert result.report is not None
    removed = result.report["removed_by_researcher"]
    assert [(r["kind"], r["section"], r["put_code"]) for r in removed] == [
        ("affiliation", "employment", put_code)
    ]
    assert items(session, "affiliation", "aff-1")[0].state == PlacementState.REMOVED_BY_RESEARCHER
    assert place_pending_items(session, deps) == []
    assert record_items(sandbox, orcid) == []


def test_the_sweep_resends_an_item_whose_message_was_lost(
    broker, session, database, sandbox, cipher, deps, client_id, redis_client
):
    from datetime import timedelta

    from tests.helpers import queued_messages
    from worker.clock import utcnow
    from worker.orcid.sections.sweep import resend_stalled_items

    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "affiliation.published", affiliation(orcid))
    session.commit()
    assert resend_stalled_items(database, deps.settings) == 0  # just queued: not stalled
    redis_client.flushdb()
    row = items(session, "affiliation", "aff-1")[0]
    row.enqueued_at = utcnow() - timedelta(hours=1)
    session.commit()

    assert resend_stalled_items(database, deps.settings) == 1
    assert resend_stalled_items(database, deps.settings) == 0
    assert [name for name, _args in queued_messages(redis_client)] == ["orcid.place_item"]


def test_two_events_for_a_new_affiliation_at_once_make_one_item(
    committed_database, committed_deps, sandbox, cipher, client_id
):

    from tests.helpers import SOURCE, process_event
    from worker.events.service import Context
    from worker.models import OrcidItem, ReceivedEvent

    # Given a researcher who authorised, and two events about one new affiliation (a CRIS
    # that sent "published" then "updated" quickly) reaching two workers at the same moment
    database = committed_database
    orcid = researcher(sandbox)
    ctx = Context(committed_deps.settings, orcid=committed_deps)
    with database.session() as session:
        authorize(session, sandbox, cipher, orcid, client_id)
        ids = []
        for n, role in enumerate(("Lecturer", "Dean")):
            row = ReceivedEvent(
                source=SOURCE, event_id=f"race-{n}", type="affiliation.published",
                client_id="cris", correlation_id=f"c-{n}", data=affiliation(orcid, role=role),
            )  # fmt: skip
            session.add(row)
            session.flush()
            ids.append(row.id)
    outcomes = [
        f"{o.status.value}: {o.message}"
        for o in at_once(database, [lambda s, i=i: process_event(s, i, ctx) for i in ids])
    ]

    # Then both were applied in turn to one assertion with one item, placed once
    assert all(o.startswith("done") for o in outcomes), outcomes
    with database.session() as session:
        rows = list(session.execute(select(OrcidItem)).scalars())
        assert len(rows) == 1
        place_pending_items(session, committed_deps)
    assert len(record_items(sandbox, orcid)) == 1


def test_a_withdrawal_is_final_unless_a_higher_version_follows(
    session, sandbox, cipher, deps, client_id
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "affiliation.published", affiliation(orcid, version=1))
    place_pending_items(session, deps)
    receive(session, "affiliation.withdrawn", {"id": "aff-1", "version": 2})
    place_pending_items(session, deps)

    late = receive(session, "affiliation.updated", affiliation(orcid, version=2, role="Late"))
    assert late.status.value == "stale"
    assert place_pending_items(session, deps) == []
    assert record_items(sandbox, orcid) == []

    again = receive(session, "affiliation.published", affiliation(orcid, version=3, role="Back"))
    place_pending_items(session, deps)
    assert again.status.value == "done", again.outcome
    assert [a["body"]["role-title"] for a in record_items(sandbox, orcid)] == ["Back"]


def test_a_withdrawal_that_overtook_the_publication_still_withdraws_the_affiliation(
    session, sandbox, cipher, deps, client_id
):
    # Found by the chaos traffic: the withdrawal (v2) processed before the publication (v1) it
    # overtook was failed and forgotten, and v1 then put the affiliation on the record.
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    # Given the withdrawal processed first: it waits for the item instead of failing
    withdrawal = receive(session, "affiliation.withdrawn", {"id": "aff-1", "version": 2})
    assert withdrawal.status.value == "received", withdrawal.outcome
    assert "no affiliation 'aff-1'" in withdrawal.outcome
    # When the publication arrives and is placed, then the withdrawal is tried again
    receive(session, "affiliation.published", affiliation(orcid, version=1))
    place_pending_items(session, deps)
    process_event(session, withdrawal.id, CONTEXT[-1] if CONTEXT else None)
    place_pending_items(session, deps)
    # Then the affiliation is withdrawn at version 2 and gone from the record
    assert withdrawal.status.value == "done", withdrawal.outcome
    assert assertion(session, "affiliation", "aff-1").withdrawn_at is not None
    assert record_items(sandbox, orcid) == []


def test_consent_through_connect_queues_a_waiting_affiliation(client, session, sandbox):
    from tests.orcid.test_consent import callback_path, consent_at_orcid, start

    # Given an affiliation waiting for its researcher's consent
    orcid = researcher(sandbox)
    receive(session, "affiliation.published", affiliation(orcid))
    assert items(session, "affiliation", "aff-1")[0].state == PlacementState.AWAITING_CONSENT

    # When the researcher consents through /orcid/connect (not a researcher.authorized event)
    url = start(client)
    back = client.get(callback_path(consent_at_orcid(url, orcid)))

    # Then the affiliation is queued for that client
    assert back.status_code == 200
    row = items(session, "affiliation", "aff-1")[0]
    assert row.state == PlacementState.PENDING and row.client_id is not None


def test_the_healing_sweep_queues_an_item_left_waiting_beside_a_usable_grant(
    broker, session, database, sandbox, cipher, deps, client_id
):
    from worker.orcid.grants import seal_token_response, store_grant
    from worker.orcid.sections.sweep import heal_waiting_items

    # Given an affiliation waiting for consent, and a grant stored by a path that queued
    # nothing (as if its message were lost)
    orcid = researcher(sandbox)
    receive(session, "affiliation.published", affiliation(orcid))
    token = sandbox.issue_token(orcid, client_id, "")
    store_grant(session, seal_token_response(cipher, token, client_id), owner="cris")
    session.commit()

    # When the healing sweep runs (twice)
    healed = heal_waiting_items(database, deps.settings)
    again = heal_waiting_items(database, deps.settings)

    # Then the item is queued once, for that grant's client, and then placed
    assert (healed, again) == (1, 0)
    row = items(session, "affiliation", "aff-1")[0]
    assert row.state == PlacementState.PENDING and row.client_id == client_id
    place_pending_items(session, deps)
    assert len(record_items(sandbox, orcid)) == 1


def test_the_healing_sweep_leaves_another_tenants_grant_alone(
    broker, session, database, sandbox, cipher, deps, client_id
):
    from worker.orcid.grants import seal_token_response, store_grant
    from worker.orcid.sections.sweep import heal_waiting_items

    orcid = researcher(sandbox)
    receive(session, "affiliation.published", affiliation(orcid))
    token = sandbox.issue_token(orcid, client_id, "")
    store_grant(session, seal_token_response(cipher, token, client_id), owner="other")
    session.commit()

    assert heal_waiting_items(database, deps.settings) == 0
    assert items(session, "affiliation", "aff-1")[0].state == PlacementState.AWAITING_CONSENT
