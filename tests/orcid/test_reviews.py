"""Peer reviews: the journal's group id registered with ORCID once (a client-credentials
token of scope /group-id-record/update), then each review placed once, and withdrawn."""

from __future__ import annotations

import requests
from sqlalchemy import select

from tests.helpers import at_once
from tests.orcid.helpers import authorize, receive, researcher
from tests.orcid.sections_helpers import (
    items,
    place_pending_items,
    record_items,
    review,
)
from tests.orcid.sections_helpers import settings as settings  # noqa: PLC0414 - the fixture
from worker.models import ApiCall, OrcidGroupId, PlacementState


def _registry_calls(session) -> list[tuple[str, int | None]]:
    calls = session.execute(
        select(ApiCall).where(ApiCall.url.contains("group-id-record")).order_by(ApiCall.id)
    ).scalars()
    return [(c.method, c.status) for c in calls]


def test_the_journal_is_registered_once_and_each_review_placed_once(
    session, sandbox, cipher, deps, client_id
):
    # Given two reviewers who authorised the institution, each with a review for one journal
    ada, bob = researcher(sandbox), researcher(sandbox)
    for orcid in (ada, bob):
        authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "review.published", review(ada, item_id="rev-a"))
    receive(session, "review.published", review(bob, item_id="rev-b"))

    # When both are placed
    place_pending_items(session, deps)

    # Then the journal's group id was looked up, registered once, and both reviews name it
    assert _registry_calls(session) == [("GET", 404), ("POST", 201)]
    state = sandbox.state()["orcid"]
    assert [g["group_id"] for g in state["group_ids"]] == ["issn:0317-8471"]
    for orcid in (ada, bob):
        [placed] = record_items(sandbox, orcid, "peer-review")
        assert placed["body"]["review-group-id"] == "issn:0317-8471"
        assert placed["source_client_id"] == client_id
        organization = placed["body"]["convening-organization"]
        assert organization["name"] == "Example University"
    groups = session.execute(select(OrcidGroupId)).scalars().all()
    assert [(g.group_id, g.client_id) for g in groups] == [("issn:0317-8471", client_id)]

    # When one is withdrawn: it leaves that record only
    receive(session, "review.withdrawn", {"id": "rev-a"})
    place_pending_items(session, deps)
    assert record_items(sandbox, ada) == []
    assert len(record_items(sandbox, bob)) == 1
    assert items(session, "review", "rev-a")[0].state == PlacementState.DELETED


def test_a_group_id_another_member_registered_is_found_not_registered_again(
    session, sandbox, cipher, deps, client_id
):
    # Given the journal registered in ORCID's registry by another member
    info = sandbox.info()
    other = sandbox.ctx.accounts.orcid_clients[1]
    token = requests.post(
        info["orcid_oauth_url"] + "/oauth/token",
        data={
            "client_id": other.client_id,
            "client_secret": other.client_secret,
            "grant_type": "client_credentials",
            "scope": "/group-id-record/update",
        },
        headers={"Accept": "application/json"},
        timeout=5,
    ).json()["access_token"]
    made = requests.post(
        info["orcid_api_url"] + "/v3.0/group-id-record",
        json={"name": "J", "group-id": "issn:0317-8471", "description": "J", "type": "journal"},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert made.status_code == 201
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)

    # When a review of that journal is placed
    receive(session, "review.published", review(orcid))
    place_pending_items(session, deps)

    # Then pidsync found it and registered nothing
    assert _registry_calls(session) == [("GET", 200)]
    assert len(sandbox.state()["orcid"]["group_ids"]) == 1
    assert len(record_items(sandbox, orcid, "peer-review")) == 1


def test_a_lost_answer_to_the_review_post_is_adopted(session, sandbox, cipher, deps, client_id):
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "review.published", review(orcid))
    place_pending_items(session, deps)  # registers the group (answers not lost)
    receive(session, "review.published", review(orcid, item_id="rev-2", identifiers=[]))
    sandbox.set_faults("orcid", lost_response_rate=1.0)
    place_pending_items(session, deps)
    sandbox.set_faults("orcid", lost_response_rate=0)

    place_pending_items(session, deps)

    assert len(record_items(sandbox, orcid, "peer-review")) == 2
    assert [i.state for i in items(session, "review", "rev-2")] == [PlacementState.PLACED]


def test_two_workers_placing_reviews_of_one_new_journal_register_it_once(
    committed_database, committed_deps, sandbox, cipher, client_id
):

    from worker.models import OrcidItem
    from worker.orcid.sections import placement

    # Given two reviewers' reviews of one journal ORCID does not know yet
    database = committed_database
    reviewers = [researcher(sandbox), researcher(sandbox)]
    with database.session() as session:
        for n, orcid in enumerate(reviewers):
            authorize(session, sandbox, cipher, orcid, client_id)
            receive(session, "review.published", review(orcid, item_id=f"rev-{n}"))
    with database.session() as session:
        ids = list(session.execute(select(OrcidItem.id).order_by(OrcidItem.id)).scalars())

    # When two workers place them at the same moment
    at_once(database, [lambda s, i=i: placement.place(s, committed_deps, i) for i in ids])

    # Then the registry holds the journal once and both reviews are placed
    assert [g["group_id"] for g in sandbox.state()["orcid"]["group_ids"]] == ["issn:0317-8471"]
    for orcid in reviewers:
        assert len(record_items(sandbox, orcid, "peer-review")) == 1
    with database.session() as session:
        assert len(session.execute(select(OrcidGroupId)).scalars().all()) == 1
