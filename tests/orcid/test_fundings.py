"""Fundings on every authorised contributor's ORCID record, exactly once: placed, updated in
place, withdrawn; 409s and lost answers adopted; backfill on a new grant; two workers at once.
Counted at the sandbox."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from tests.helpers import SOURCE, at_once
from tests.orcid.helpers import authorize, notifications, receive, researcher, throttled
from tests.orcid.sections_helpers import (
    funding,
    items,
    place_pending_items,
    record_items,
)
from tests.orcid.sections_helpers import settings as settings  # noqa: PLC0414 - the fixture
from worker.events.types import IntakeContext, check_data
from worker.metadata.orcid_items import validate_funding
from worker.metadata.render.orcid_funding import render_funding_json
from worker.models import ApiCall, OrcidItem, PlacementState
from worker.orcid.sections import placement


def _writes(session) -> list[tuple[str, int | None]]:
    calls = session.execute(
        select(ApiCall)
        .where(ApiCall.service == "orcid", ApiCall.method.in_(("POST", "PUT", "DELETE")))
        .order_by(ApiCall.id)
    ).scalars()
    return [(c.method, c.status) for c in calls]


def test_a_funding_goes_on_every_authorised_contributor_once(
    session, sandbox, cipher, deps, client_id
):
    # Given two contributors with iDs, one of whom authorised the institution
    ada, bob = researcher(sandbox), researcher(sandbox)
    authorize(session, sandbox, cipher, ada, client_id)

    # When the funding is published
    event = receive(session, "funding.published", funding(ada, bob, version=1))
    place_pending_items(session, deps)

    # Then it is on Ada's record, with the funder as FUNDREF and the grant number as self id;
    # Bob's waits for his consent
    assert event.status.value == "done", event.outcome
    [on_record] = record_items(sandbox, ada, "funding")
    body = on_record["body"]
    disambiguated = body["organization"]["disambiguated-organization"]
    assert disambiguated["disambiguation-source"] == "FUNDREF"
    assert {(e["type"], e["relationship"]) for e in on_record["external_ids"]} == {
        ("grant_number", "self"),
        ("source-work-id", "self"),
    }
    assert body["amount"] == {"value": "450000.00", "currency-code": "NZD"}
    assert record_items(sandbox, bob) == []
    states = {i.orcid: i.state for i in items(session, "funding", "fund-1")}
    assert states == {ada: PlacementState.PLACED, bob: PlacementState.AWAITING_CONSENT}

    # When Bob authorises: his record gets it too (backfill on a new grant)
    authorize(session, sandbox, cipher, bob, client_id)
    place_pending_items(session, deps)
    assert len(record_items(sandbox, bob, "funding")) == 1

    # When the funding is updated, then withdrawn: each record changes in place, then loses it
    receive(session, "funding.updated", funding(ada, bob, version=2, title="Renamed grant"))
    place_pending_items(session, deps)
    titles = {
        orcid: [a["body"]["title"]["title"]["value"] for a in record_items(sandbox, orcid)]
        for orcid in (ada, bob)
    }
    assert titles == {ada: ["Renamed grant"], bob: ["Renamed grant"]}
    receive(session, "funding.withdrawn", {"id": "fund-1", "version": 3})
    place_pending_items(session, deps)
    assert record_items(sandbox, ada) == [] and record_items(sandbox, bob) == []
    assert sorted(_writes(session)) == sorted(
        [("POST", 201)] * 2 + [("PUT", 200)] * 2 + [("DELETE", 204)] * 2
    )


def test_a_removed_contributor_loses_it_and_a_new_one_gets_it(
    session, sandbox, cipher, deps, client_id
):
    ada, bob = researcher(sandbox), researcher(sandbox)
    for orcid in (ada, bob):
        authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "funding.published", funding(ada, version=1))
    place_pending_items(session, deps)

    receive(session, "funding.updated", funding(bob, version=2))
    place_pending_items(session, deps)

    assert record_items(sandbox, ada) == []
    assert len(record_items(sandbox, bob, "funding")) == 1


def test_a_409_for_our_own_funding_is_adopted_and_updated(
    session, sandbox, cipher, deps, client_id
):
    # Given our funding already on the record (a worker died after its POST, before commit)
    orcid = researcher(sandbox)
    _grant, token = authorize(session, sandbox, cipher, orcid, client_id)
    data = funding(orcid, title="Old title")
    body = render_funding_json(validate_funding(data), source=SOURCE)
    answer = requests.post(
        f"{sandbox.info()['orcid_api_url']}/v3.0/{orcid}/funding",
        json=body,
        headers={
            "Authorization": f"Bearer {token['access_token']}",
            "Content-Type": "application/vnd.orcid+json",
            "Accept": "application/vnd.orcid+json",
        },
        timeout=5,
    )
    existing = int(answer.headers["Location"].rsplit("/", 1)[1])

    # When the event arrives and the item is placed
    receive(session, "funding.published", funding(orcid, title="New title"))
    place_pending_items(session, deps)

    # Then ORCID's 409 named our put-code: adopted and PUT, one funding on the record
    on_record = record_items(sandbox, orcid)
    assert [(a["put_code"], a["body"]["title"]["title"]["value"]) for a in on_record] == [
        (existing, "New title")
    ]
    assert items(session, "funding", "fund-1")[0].put_code == existing
    assert _writes(session) == [("POST", 409), ("PUT", 200)]


def test_a_lost_answer_is_adopted_without_a_second_funding(
    session, sandbox, cipher, deps, client_id
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "funding.published", funding(orcid))
    sandbox.set_faults("orcid", lost_response_rate=1.0)
    place_pending_items(session, deps)
    sandbox.set_faults("orcid", lost_response_rate=0)

    place_pending_items(session, deps)

    assert len(record_items(sandbox, orcid)) == 1
    row = items(session, "funding", "fund-1")[0]
    assert row.state == PlacementState.PLACED and not row.in_doubt
    assert [m for m, _ in _writes(session)] == ["POST", "PUT"]


def test_spent_tries_fail_with_the_reason_and_a_webhook_naming_the_section(
    session, sandbox, cipher, deps, client_id
):
    # Given ORCID answering every write with a 5xx
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "funding.published", funding(orcid))
    sandbox.set_faults("orcid", error_rate=1.0)
    try:
        # When the item is tried as often as settings.orcid.max_retries allows
        results = [place_pending_items(session, deps)[0] for _ in range(4)]
    finally:
        sandbox.set_faults("orcid", error_rate=0)

    # Then it is failed with the reason, and the owner is told which section failed
    assert [r.delay is not None for r in results] == [True, True, True, False]
    row = items(session, "funding", "fund-1")[0]
    assert row.state == PlacementState.FAILED
    assert "gave up after 4 attempts" in (row.last_error or "")
    failed = notifications(session, "orcid.failed")
    assert [(n.payload["section"], n.payload["kind"]) for n in failed] == [("funding", "funding")]


def test_orcids_rate_limit_spends_no_try_of_a_funding(session, sandbox, cipher, deps, client_id):
    # Given a funding to place, and ORCID's rate limit refusing every request (nginx's 503)
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "funding.published", funding(orcid))
    with throttled(sandbox, orcid, client_id):
        # When it is tried twice as often as the tries settings allow
        results = [place_pending_items(session, deps)[0] for _ in range(8)]

    # Then each was a wait, none a spent try; and once ORCID lets it through, it is placed
    assert all(r.delay is not None for r in results), [r.note for r in results]
    row = items(session, "funding", "fund-1")[0]
    assert row.state == PlacementState.PENDING and row.attempts == 0
    place_pending_items(session, deps)
    row = items(session, "funding", "fund-1")[0]
    assert row.state == PlacementState.PLACED and len(record_items(sandbox, orcid)) == 1


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"funder": {"name": "N", "country": "NZ"}}, "$.data.funder"),
        ({"contributors": [{"role": "lead", "orcid": "0000-0002-1825-0098"}]},
         "$.data.contributors[0].orcid"),
        ({"amount": {"value": "1e3x", "currency": "NZD"}}, "$.data.amount.value"),
        ({"type": "gift"}, "$.data.type"),
    ],
)  # fmt: skip
def test_bad_funding_events_are_refused_at_intake_naming_the_field(change, path):
    data = {**funding("0000-0002-1825-0097"), **change}

    _data, problems = check_data("funding.published", data, "$", IntakeContext(()))

    assert path in [p.path for p in problems]


def test_two_workers_placing_at_once_place_each_funding_once(
    committed_database, committed_deps, sandbox, cipher, client_id
):
    # Given two fundings on one record, and each item's message delivered twice
    database = committed_database
    orcid = researcher(sandbox)
    with database.session() as session:
        authorize(session, sandbox, cipher, orcid, client_id)
        receive(session, "funding.published", funding(orcid, item_id="f-a"))
        receive(session, "funding.published", funding(orcid, item_id="f-b"))
    with database.session() as session:
        ids = list(session.execute(select(OrcidItem.id).order_by(OrcidItem.id)).scalars())
    assert len(ids) == 2

    # When four workers run the four messages at the same moment
    at_once(database, [lambda s, i=i: placement.place(s, committed_deps, i) for i in ids + ids])

    # Then each funding is on the record once
    on_record = record_items(sandbox, orcid, "funding")
    assert len(on_record) == 2
    with database.session() as session:
        rows = list(session.execute(select(OrcidItem).order_by(OrcidItem.id)).scalars())
        assert [r.state for r in rows] == [PlacementState.PLACED] * 2
        assert sorted(r.put_code for r in rows) == sorted(a["put_code"] for a in on_record)
