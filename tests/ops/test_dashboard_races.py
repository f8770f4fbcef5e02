"""Operators at once: two people replaying the same dead letter, or retrying the same failed
DOI, on a committing database from two threads (two web processes): each effect once."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from tests.ops.flows import fail_with_401
from worker.models import DeadLetter, OpsAction, OpsActionKind
from worker.ops import dead_letters as letters
from worker.ops import problems


def _together(*jobs):
    barrier = threading.Barrier(len(jobs))
    outcomes: list[object] = [None] * len(jobs)

    def run(i, job):
        barrier.wait()
        try:
            outcomes[i] = job()
        except Exception as exc:  # the loser's refusal is the point
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


def test_two_operators_replaying_one_dead_letter_send_it_once(
    committed_database, committed_runtime, redis_client
):
    with committed_database.session() as session:
        letter = DeadLetter(
            queue="pidsync", actor="events.process", message_id="m-race", args=[1], reason="gave up"
        )
        session.add(letter)
        session.flush()
        letter_id = letter.id

    def replay(actor):
        def job():
            with committed_database.session() as session:
                return letters.replay(session, letter_id, actor).id

        return job

    outcomes = _together(replay("ann"), replay("bob"))
    assert sorted(type(o).__name__ for o in outcomes) == ["LookupError", "int"]
    assert redis_client.llen("pidsync:pidsync") == 1  # one message sent, after one commit
    with committed_database.session() as session:
        assert session.execute(select(func.count()).select_from(OpsAction)).scalar_one() == 1


def test_two_operators_retrying_one_failed_doi_revive_it_once(
    committed_database, committed_runtime, settings
):
    with committed_database.session() as session:
        reg_id = fail_with_401(session, committed_runtime.registrars).id

    def retry(actor):
        def job():
            with committed_database.session() as session:
                return problems.retry_one(session, settings, actor, "doi", reg_id).summary

        return job

    outcomes = _together(retry("ann"), retry("bob"))
    # The first revives it; the second, after the first's commit, finds it sent and waiting
    # (brought forward: the same change, never a second DOI or a second revival).
    assert sorted(str(o) for o in outcomes) == [
        f"doi {reg_id}: bring forward",
        f"doi {reg_id}: revive",
    ]
    with committed_database.session() as session:
        actions = session.execute(select(OpsAction.action)).scalars().all()
        assert actions == [OpsActionKind.RETRY, OpsActionKind.RETRY]
