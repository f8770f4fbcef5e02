"""Grants under tenancy, against the sandbox's ORCID: a token is proven before it is stored, a
client never replaces or revokes another's grant, and two institutions sharing a researcher
each keep their own grant and placements."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import work
from tests.orcid.conftest import orcid_settings, sandbox_clients
from tests.orcid.helpers import place_pending, receive, record_works, researcher
from worker.config import Settings
from worker.models import GrantStatus, OrcidGrant, OrcidPlacement, PlacementState, Work
from worker.orcid.grants import seal_token_response


@pytest.fixture
def settings(sandbox: Any, tmp_path: Any) -> Settings:
    """Two institutions ("a", "b") on one pidsync, each with its own ORCID member client."""
    return orcid_settings(
        sandbox,
        tmp_path,
        intake_clients=[
            {"id": "a", "secrets": ["secret-a"], "sources": ["*"]},
            {"id": "b", "secrets": ["secret-b"], "sources": ["*"]},
        ],
        orcid_clients=sandbox_clients(sandbox)[:2],
    )


def _orcid_clients(sandbox) -> tuple[str, str]:
    first, second = sandbox_clients(sandbox)[:2]
    return first.client_id, second.client_id


def _authorize(session, sandbox, cipher, orcid: str, orcid_client: str, sender: str, **token):
    issued = sandbox.issue_token(orcid, orcid_client, "/activities/update /read-limited")
    return receive(
        session,
        "researcher.authorized",
        seal_token_response(cipher, {**issued, **token}, orcid_client),
        client_id=sender,
    )


def _grants(session) -> dict[tuple[str | None, str], GrantStatus]:
    session.expire_all()
    rows = session.execute(select(OrcidGrant)).scalars()
    return {(g.owner, g.client_id): g.status for g in rows}


def test_a_bogus_token_is_refused_and_nothing_is_stored(session, sandbox, cipher):
    # Given a researcher.authorized whose token ORCID does not know
    orcid = researcher(sandbox)
    first, _ = _orcid_clients(sandbox)
    event = _authorize(session, sandbox, cipher, orcid, first, "a", access_token="bogus")
    # Then the event fails naming ORCID's refusal, and no grant replaces anything
    assert event.status.value == "failed"
    assert "ORCID refused the token" in event.outcome
    assert _grants(session) == {}


def test_a_token_of_another_researcher_is_refused(session, sandbox, cipher):
    orcid, other = researcher(sandbox), researcher(sandbox)
    first, _ = _orcid_clients(sandbox)
    issued = sandbox.issue_token(other, first, "/activities/update")
    sealed = seal_token_response(cipher, {**issued, "orcid": orcid}, first)
    event = receive(session, "researcher.authorized", sealed, client_id="a")
    assert event.status.value == "failed", event.outcome
    assert _grants(session) == {}


def test_another_client_cannot_replace_or_revoke_a_grant(session, sandbox, cipher):
    orcid = researcher(sandbox)
    first, _ = _orcid_clients(sandbox)
    assert _authorize(session, sandbox, cipher, orcid, first, "a").status.value == "done"
    # When b sends a (valid) token for the same researcher and ORCID client, then revokes
    replaced = _authorize(session, sandbox, cipher, orcid, first, "b")
    revoked = receive(session, "researcher.revoked", {"orcid": orcid}, client_id="b")
    # Then a's grant is untouched
    assert replaced.status.value == "failed"
    assert "held by intake client 'a'" in replaced.outcome
    assert "nothing to revoke" in revoked.outcome
    assert _grants(session) == {("a", first): GrantStatus.ACTIVE}


def test_two_institutions_sharing_a_researcher_keep_their_own_grant_and_placements(
    session, sandbox, cipher, deps
):
    # Given one researcher authorising institution a (ORCID client 1) and b (ORCID client 2)
    orcid = researcher(sandbox)
    first, second = _orcid_clients(sandbox)
    assert _authorize(session, sandbox, cipher, orcid, first, "a").status.value == "done"
    assert _authorize(session, sandbox, cipher, orcid, second, "b").status.value == "done"
    # And each publishing a work naming them
    contributors = [{"given": "Ada", "family": "Lovelace", "orcid": orcid}]
    receive(session, "work.published", work("w-a", contributors=contributors), client_id="a")
    receive(session, "work.published", work("w-b", contributors=contributors), client_id="b")
    place_pending(session, deps)
    # Then each work is placed with its own institution's ORCID client
    session.expire_all()
    placed = {
        (w.client_id, p.client_id, p.owner, p.state)
        for p, w in session.execute(
            select(OrcidPlacement, Work).join(Work, Work.id == OrcidPlacement.work_id)
        )
    }
    assert placed == {
        ("a", first, "a", PlacementState.PLACED),
        ("b", second, "b", PlacementState.PLACED),
    }
    assert len(record_works(sandbox, orcid)) == 2
    # When b revokes, a's grant and placement stay
    receive(session, "researcher.revoked", {"orcid": orcid}, client_id="b")
    assert _grants(session) == {
        ("a", first): GrantStatus.ACTIVE,
        ("b", second): GrantStatus.REVOKED,
    }
