"""Follow-ups (worker.broker.FOLLOW_UPS): a message that an actor's commit sends, run by the
same worker thread right after the actor instead of travelling through the broker; sent as
a message after all when it must wait or fails, and always sent from outside a worker.
On the real Redis broker, with a real dramatiq worker and committing units of work."""

from __future__ import annotations

import threading

import pytest
from dramatiq.middleware import CurrentMessage

import worker.broker
from worker.bootstrap import runtime
from worker.broker import actor
from worker.db import enqueue_after_commit
from worker.errors import Postpone
from worker.queues import join_all

ran: list[tuple[str, str, int, str | None]] = []  # (actor, tag, thread, message's actor)
tries: dict[str, int] = {}


def _note(name: str, tag: str) -> None:
    current = CurrentMessage.get_current_message()
    ran.append((name, tag, threading.get_ident(), current.actor_name if current else None))


@actor("test.sender")
def sender(tag: str, followers: list[str]) -> None:
    _note("test.sender", tag)
    with runtime().session() as session:
        for name in followers:
            enqueue_after_commit(session, name, tag)


@actor("test.follower")
def follower(tag: str) -> None:
    _note("test.follower", tag)


@actor("test.waits_once")
def waits_once(tag: str) -> None:
    _note("test.waits_once", tag)
    tries[tag] = tries.get(tag, 0) + 1
    if tries[tag] == 1:
        raise Postpone(0.05, "a rate-limit slot")


@actor("test.fails_once")
def fails_once(tag: str) -> None:
    _note("test.fails_once", tag)
    tries[tag] = tries.get(tag, 0) + 1
    if tries[tag] == 1:
        raise RuntimeError("the agency's answer could not be read")


@pytest.fixture
def follow_ups(monkeypatch):
    names = {"test.follower", "test.waits_once", "test.fails_once"}
    monkeypatch.setattr(worker.broker, "FOLLOW_UPS", frozenset(names))
    ran.clear()
    tries.clear()


@pytest.fixture
def running(broker, real_worker):
    return broker


def _drain(broker) -> None:
    join_all(broker, timeout_ms=10_000)


def test_a_follow_up_runs_in_the_thread_that_committed_it_without_a_message(follow_ups, running):
    # When an actor's unit of work commits with a follow-up among its messages
    sender.send("a", ["test.follower"])
    _drain(running)
    # Then the follow-up ran once, after the actor, in the same worker thread and while the
    # actor's own message was still the one being handled: no message of its own travelled
    assert [r[0] for r in ran] == ["test.sender", "test.follower"]
    (_, _, sender_thread, _), (_, tag, thread, message) = ran
    assert (tag, thread, message) == ("a", sender_thread, "test.sender")


def test_other_messages_of_the_same_commit_still_travel(follow_ups, running, monkeypatch):
    # Given an actor that is not a follow-up
    monkeypatch.setattr(worker.broker, "FOLLOW_UPS", frozenset())
    sender.send("b", ["test.follower"])
    _drain(running)
    # Then it ran as a message of its own
    assert [(r[0], r[3]) for r in ran] == [
        ("test.sender", "test.sender"),
        ("test.follower", "test.follower"),
    ]


@pytest.mark.parametrize(
    ("tag", "follower"),
    [
        ("c", "test.waits_once"),  # postponed: sent with its delay
        ("d", "test.fails_once"),  # failed: sent, its retries apply
    ],
)
def test_a_follow_up_that_must_wait_or_fails_is_sent_as_a_message(
    follow_ups, running, tag, follower
):
    sender.send(tag, [follower])
    _drain(running)
    # Then it ran first in the sender's thread, then again as its own message
    assert [(r[0], r[3]) for r in ran] == [
        ("test.sender", "test.sender"),
        (follower, "test.sender"),
        (follower, follower),
    ]


def test_a_run_keeps_one_follow_up_and_sends_the_rest(follow_ups, running):
    # When one commit settles several (a Crossref deposit's DOIs)
    sender.send("f", ["test.follower", "test.follower", "test.follower"])
    _drain(running)
    # Then the first runs in the sender's thread and the others travel as messages, for the
    # workers to share
    assert [(r[0], r[3]) for r in ran] == [
        ("test.sender", "test.sender"),
        ("test.follower", "test.sender"),
        ("test.follower", "test.follower"),
        ("test.follower", "test.follower"),
    ]


def test_outside_a_worker_a_follow_up_is_always_sent(
    follow_ups, committed_database, broker, redis_client
):
    # When a unit of work outside any worker (the web, a CLI command) commits one
    with committed_database.session() as session:
        enqueue_after_commit(session, "test.follower", "e")
    # Then it is on its queue, as any message
    assert redis_client.llen(f"pidsync:{worker.broker.queue_for('test.follower')}") == 1
    assert ran == []
