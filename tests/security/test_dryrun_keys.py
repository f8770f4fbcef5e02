"""A dry run is kept in the inbox under "dryrun:<id>". An ordinary event whose id is literally
"dryrun:x" must never share that key with a dry run of "x": else one of the two is lost (a
batch answers both with the same receipt) or the real event is refused as an id reuse."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import INTAKE_SECRET, TOKEN_KEY
from tests.helpers import SOURCE, event, signed_get, signed_post, work
from worker.config import Settings
from worker.models import ReceivedEvent

OTHER_SECRET = "other-tenant-secret"


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Two tenants: cris (owning SOURCE) and other (owning its own sources only)."""
    return Settings(
        _env_file=None,
        env="test",
        data_dir=tmp_path,
        intake_clients=[
            {"id": "cris", "secrets": [INTAKE_SECRET], "sources": [SOURCE]},
            {"id": "other", "secrets": [OTHER_SECRET], "sources": ["https://other.example/*"]},
        ],
        token_keys=[TOKEN_KEY],
        orcid_client_id="APP-TESTCLIENT0001",
        orcid_client_secret="orcid-client-secret",
    )


def _rows(session) -> list[ReceivedEvent]:
    return list(session.execute(select(ReceivedEvent).order_by(ReceivedEvent.id)).scalars())


def test_a_batch_never_answers_a_real_event_with_a_dry_runs_receipt(client, session):
    # Given one batch: a dry run of "x" and a real event whose id is "dryrun:x"
    dry = event(event_id="x", data=work("w-dry"), dryrun="true")
    real = event(event_id="dryrun:x", data=work("w-real"))
    answer = signed_post(client, [dry, real], secret=INTAKE_SECRET)

    # Then either both are stored as two events, or the batch is refused naming the id:
    # never one 202 receipt standing for an event that was not stored
    if answer.status_code == 422:
        assert "dryrun:" in answer.text
        assert _rows(session) == []
        return
    assert answer.status_code == 202, answer.text
    receipts = {e["receipt"] for e in answer.json()["events"]}
    assert len(receipts) == 2, answer.text
    assert len(_rows(session)) == 2


def test_a_real_event_named_dryrun_is_refused_clearly_and_takes_no_dry_runs_place(client, session):
    # Given a real event whose id starts with the dry-run prefix
    real = signed_post(
        client, event(event_id="dryrun:y", data=work("w-real")), secret=INTAKE_SECRET
    )

    # Then it is refused with a 422 naming the id (it could only collide with a dry run)
    assert real.status_code == 422, real.text
    assert "$.id" in real.text and "dryrun:" in real.text
    assert _rows(session) == []

    # And a dry run of "y" is then accepted as itself, not as a reuse of someone's id
    dry = signed_post(
        client, event(event_id="y", data=work("w-dry"), dryrun="true"), secret=INTAKE_SECRET
    )
    assert dry.status_code == 202, dry.text
    assert [r.event_id for r in _rows(session)] == ["dryrun:y"]


def test_a_dry_run_after_a_stored_real_event_of_the_same_key_is_not_lost(client, session):
    # Given a dry run of "z" stored first
    dry = signed_post(
        client, event(event_id="z", data=work("w-z"), dryrun="true"), secret=INTAKE_SECRET
    )
    assert dry.status_code == 202, dry.text
    # When an ordinary event literally named "dryrun:z" with the same data arrives
    real = signed_post(client, event(event_id="dryrun:z", data=work("w-z")), secret=INTAKE_SECRET)
    # Then it is never acknowledged as a duplicate of the dry run (it would never be processed)
    assert real.status_code != 200 or real.json().get("duplicate") is not True, real.text
    assert not (200 <= real.status_code < 300 and len(_rows(session)) == 1), real.text


def test_a_dry_run_naming_another_tenants_source_is_refused_and_reports_nothing(client, session):
    # Given cris's real work
    assert signed_post(client, event(data=work("w-1")), secret=INTAKE_SECRET).status_code == 202
    # When the other tenant sends a dry run of an update and of a withdrawal of it
    for kind, data in (
        ("work.updated", work("w-1", title="Mine now")),
        ("work.withdrawn", {"id": "w-1"}),
    ):
        body = event(kind, data, event_id=f"peek-{kind}", dryrun="true")
        answer = signed_post(client, body, secret=OTHER_SECRET, client_id="other")
        # Then it is refused as any event of that source would be: a dry run is no way to learn
        # what cris's work holds or would do
        assert answer.status_code == 403, answer.text
        assert "does not own source" in answer.text
    assert [r.event_id for r in _rows(session)] == ["e-1"]
    # And the other tenant cannot read cris's dry-run receipts either
    dry = signed_post(client, event(event_id="d-1", dryrun="true"), secret=INTAKE_SECRET)
    receipt = dry.json()["receipt"]
    peek = signed_get(client, f"/events/{receipt}", secret=OTHER_SECRET, client_id="other")
    assert peek.status_code == 404, peek.text


def test_a_batch_may_hold_a_dry_run_and_the_real_event_of_one_id(client, session):
    # Given one batch: the dry run of "same" and the real event "same" (separate requests
    # would both be accepted, so one batch is too)
    dry = event(event_id="same", data=work("w-1"), dryrun="true")
    real = event(event_id="same", data=work("w-1"))
    answer = signed_post(client, [dry, real], secret=INTAKE_SECRET)
    # Then both are stored, each under its own key and receipt
    assert answer.status_code == 202, answer.text
    assert len({e["receipt"] for e in answer.json()["events"]}) == 2
    assert sorted(r.event_id for r in _rows(session)) == ["dryrun:same", "same"]
    # And the same id twice without a dry run is still refused
    twice = signed_post(client, [real, {**real}], secret=INTAKE_SECRET)
    assert twice.status_code == 422 and "twice in one batch" in twice.text
