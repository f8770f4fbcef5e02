"""A dry run is kept in the inbox under "dryrun:<id>". An ordinary event whose id is literally
"dryrun:x" must never share that key with a dry run of "x": else one of the two is lost (a
batch answers both with the same receipt) or the real event is refused as an id reuse."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import INTAKE_SECRET
from tests.helpers import event, signed_post, work
from worker.models import ReceivedEvent


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
