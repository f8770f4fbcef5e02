"""Reading records back: reconciliation, webhooks (registration and receiver), search, suggestions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.helpers import session_database
from tests.orcid.helpers import (
    authorize,
    notifications,
    place_pending,
    placement,
    publish,
    researcher,
)
from worker.models import PlacementState, Work
from worker.orcid import placements, reconcile, search, suggestions, webhooks
from worker.orcid import sweep as orcid_sweep
from worker.orcid.deps import public_client


def _other_source_work(sandbox, orcid: str, title: str) -> int:
    other = sandbox.control(
        "POST", "/orcid/clients", {"name": "Another university", "premium": False}
    )
    body = {
        "title": {"title": {"value": title}},
        "type": "journal-article",
        "external-ids": {
            "external-id": [
                {
                    "external-id-type": "doi",
                    "external-id-value": "10.5555/elsewhere",
                    "external-id-relationship": "self",
                }
            ]
        },
    }
    return sandbox.control(
        "POST", f"/orcid/researchers/{orcid}/works", {"client_id": other["client_id"], "work": body}
    )["put_code"]


def test_reconcile_reports_deleted_hidden_and_other_sources_works(
    session, sandbox, cipher, deps, client_id
):
    # Given two works placed on a record
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    kept, gone = publish(session, "w-1", orcid), publish(session, "w-2", orcid)
    place_pending(session, deps)
    # When the researcher hides one, deletes the other, and another source adds a work
    sandbox.hide_work(orcid, placement(session, kept, orcid).put_code)
    sandbox.delete_work(orcid, placement(session, gone, orcid).put_code)
    foreign = _other_source_work(sandbox, orcid, "Elsewhere")

    report = reconcile.reconcile_record(session, deps, orcid).report

    # Then the deletion is respected, the hiding recorded, the new work reported
    assert [r["id"] for r in report["removed_by_researcher"]] == ["w-2"]
    assert [r["id"] for r in report["hidden"]] == ["w-1"]
    assert [w["put_code"] for w in report["added_by_others"]] == [foreign]
    assert report["added_by_others"][0]["title"] == "Elsewhere"
    assert placement(session, gone, orcid).state == PlacementState.REMOVED_BY_RESEARCHER
    assert placement(session, kept, orcid).visibility == "private"
    changed = notifications(session, "orcid.record_changed")
    assert len(changed) == 1 and changed[0].payload["first_look"] is True
    assert changed[0].payload["added_by_others"][0]["source"] == "Another university"
    # And a second look reports nothing new
    again = reconcile.reconcile_record(session, deps, orcid).report
    assert again["added_by_others"] == [] and again["removed_by_researcher"] == []
    assert len(notifications(session, "orcid.record_changed")) == 1


def test_reconcile_adopts_a_lost_write_and_requeues_stale_metadata(
    session, sandbox, cipher, deps, client_id
):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    lost, stale = publish(session, "w-1", orcid), publish(session, "w-2", orcid)
    sandbox.set_faults("orcid", lost_response_rate=1.0)
    placements.place(session, deps, placement(session, lost, orcid).id)
    sandbox.set_faults("orcid", lost_response_rate=0)
    placements.place(session, deps, placement(session, stale, orcid).id)
    placement(session, stale, orcid).confirmed_hash = "sha256:old"

    report = reconcile.reconcile_record(session, deps, orcid).report

    assert [r["id"] for r in report["adopted"]] == ["w-1"]
    assert [r["id"] for r in report["requeued"]] == ["w-2"]
    place_pending(session, deps)
    assert placement(session, lost, orcid).state == PlacementState.PLACED
    assert len(sandbox.state()["orcid"]["records"][orcid]["works"]) == 2


@pytest.mark.parametrize("read_back", ["reconcile_record", "check_grant"])
def test_a_read_back_rewrites_our_work_when_a_late_older_write_landed_over_the_newer(
    read_back, session, sandbox, cipher, deps, client_id
):
    from worker.orcid import payload
    from worker.orcid.grants import access_token

    # Given a work placed, then updated and placed again with its new title
    orcid = researcher(sandbox)
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    first = publish(session, "w-1", orcid, title="The first title")
    place_pending(session, deps)
    older = payload.orcid_work(first)
    publish(session, "w-1", orcid, event_type="work.updated", title="The second title")
    place_pending(session, deps)
    row = placement(session, first, orcid)
    assert row.state == PlacementState.PLACED

    # When a write of the older version lands after it (a request of a worker killed while it
    # was in flight): pidsync's rows still say the newer one is confirmed
    token = access_token(deps.cipher, grant)
    deps.member(client_id).update_work(orcid, token, row.put_code, older)

    # (read back by a webhook's reconciliation, or by the weekly token check)
    def read() -> dict:
        if read_back == "check_grant":
            return reconcile.check_grant(session, deps, grant.id).report
        return reconcile.reconcile_record(session, deps, orcid).report

    report = read()

    # Then the read-back sees the record is not what was confirmed and writes it again
    assert [r["id"] for r in report["requeued"]] == ["w-1"]
    place_pending(session, deps)
    (held,) = sandbox.state()["orcid"]["records"][orcid]["works"]
    assert "The second title" in str(held) and "The first title" not in str(held)
    assert placement(session, first, orcid).state == PlacementState.PLACED
    # And a record that holds what was confirmed is left alone
    assert read()["requeued"] == []


def placements_note(result) -> str:
    assert result.delay is None, result.note
    return result.note


def test_no_webhook_without_configuration(broker, session, sandbox, cipher, deps, client_id):
    orcid = researcher(sandbox)
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    assert webhooks.register(session, deps, grant.id).note == "no webhook wanted"
    assert orcid_sweep.webhook_upkeep(session_database(session), deps) == 0


def test_search_and_suggest(sandbox, settings, session):
    sandbox.add_researcher(
        given_names="Ada",
        family_name="Lovelace",
        email="ada@example.edu",
        affiliation="Example University",
    )
    other = sandbox.add_researcher(
        given_names="Ada", family_name="Lovelace", affiliation="Elsewhere College"
    )
    sandbox.add_researcher(given_names="Charles", family_name="Babbage")
    public = public_client(settings)

    found = public.search('family-name:"Lovelace"')
    best = search.suggest(
        public,
        given="Ada",
        family="Lovelace",
        affiliations=["Example University"],
        email="ada@example.edu",
    )
    by_name = search.suggest(public, given="Ada", family="Lovelace")

    assert found["num-found"] == 2
    assert best[0].score == 1.0
    assert "e-mail address matches" in best[0].reasons
    assert best[1].orcid == other and best[1].score < best[0].score
    assert len(by_name) == 2 and by_name[0].score == by_name[1].score
    assert search.person_query(family='O"Brien') == 'family-name:"O\\"Brien"'


def test_suggestions_are_reported_not_written(session, sandbox, deps):
    from tests.helpers import work
    from tests.orcid.helpers import receive

    orcid = sandbox.add_researcher(
        given_names="Grace", family_name="Hopper", affiliation="Navy Lab"
    )
    data = work(
        "w-9",
        contributors=[
            {"given": "Grace", "family": "Hopper", "affiliations": [{"name": "Navy Lab"}]}
        ],
    )
    receive(session, "work.published", data)
    work_row = session.execute(select(Work)).scalar_one()

    result = suggestions.suggest_for_work(session, deps, work_row.id)

    assert result.note == "suggestions for 1 contributor(s)"
    told = notifications(session, "orcid.suggestions")[0].payload
    assert told["contributors"][0]["candidates"][0]["orcid"] == orcid
    assert "orcid" not in work_row.work_metadata["contributors"][0]
