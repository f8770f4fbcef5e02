"""Wiring: the real Redis broker, pidsync's middleware, a real dramatiq worker."""

from __future__ import annotations

import dramatiq
import pytest
from sqlalchemy import select

from tests.helpers import event
from worker.broker import DEFAULT_QUEUE, actor
from worker.db import enqueue_after_commit
from worker.errors import PermanentError, Postpone, TransientError
from worker.events.intake import check_events, store_events
from worker.events.types import IntakeContext
from worker.models import DeadLetter, EventStatus, ReceivedEvent
from worker.queues import join_all

calls: list[str] = []


@actor("test.permanent")
def fails_permanently(tag: str) -> None:
    calls.append(tag)
    raise PermanentError("DataCite said 422: url can't be blank")


@actor("test.transient", min_backoff=10, max_backoff=20)
def fails_transiently(tag: str) -> None:
    calls.append(tag)
    raise TransientError("503 from the agency")


@actor("test.postpone")
def postpones(tag: str) -> None:
    calls.append(tag)
    if calls.count(tag) < 3:
        raise Postpone(0.01, "waiting for a rate-limit slot")


@pytest.fixture
def worker(broker, committed_runtime):
    calls.clear()
    w = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    w.start()
    yield w
    w.stop()


def _queue_length(redis_client) -> int:
    return redis_client.llen(f"pidsync:{DEFAULT_QUEUE}")


def test_message_is_sent_only_after_commit(committed_database, broker, redis_client, cipher):
    checked = check_events([event()], IntakeContext(()), batch=False)
    # A rolled-back unit of work sends nothing.
    with pytest.raises(RuntimeError), committed_database.session() as session:
        store_events(session, checked, client_id="cris", cipher=cipher)
        assert _queue_length(redis_client) == 0
        raise RuntimeError("boom")
    assert _queue_length(redis_client) == 0
    # A committed one sends exactly one message.
    with committed_database.session() as session:
        store_events(session, checked, client_id="cris", cipher=cipher)
        assert _queue_length(redis_client) == 0
    assert _queue_length(redis_client) == 1


def test_event_flows_through_a_real_worker(committed_database, broker, worker, cipher):
    checked = check_events([event()], IntakeContext(()), batch=False)
    with committed_database.session() as session:
        store_events(session, checked, client_id="cris", cipher=cipher)
    join_all(broker, timeout_ms=10_000)
    worker.join()
    with committed_database.session() as session:
        stored = session.execute(select(ReceivedEvent)).scalar_one()
        assert stored.status == EventStatus.DONE


def test_permanent_error_is_parked_with_its_reason_without_retry(
    committed_database, broker, worker
):
    fails_permanently.send("p1")
    join_all(broker, timeout_ms=10_000)
    worker.join()
    assert calls == ["p1"]
    with committed_database.session() as session:
        letter = session.execute(select(DeadLetter)).scalar_one()
    assert letter.actor == "test.permanent"
    assert "permanent error" in letter.reason and "url can't be blank" in letter.reason


def test_transient_error_is_retried_then_parked(committed_database, broker, worker):
    fails_transiently.send("t1")
    join_all(broker, timeout_ms=20_000)
    worker.join()
    assert calls == ["t1", "t1", "t1"]  # first try + max_retries=2
    with committed_database.session() as session:
        letter = session.execute(select(DeadLetter)).scalar_one()
    assert "gave up after 3 tries" in letter.reason


def test_postpone_does_not_spend_a_retry(committed_database, broker, worker):
    message = postpones.send("w1")
    join_all(broker, timeout_ms=10_000)
    worker.join()
    assert calls == ["w1", "w1", "w1"]
    assert message.options.get("retries") is None
    with committed_database.session() as session:
        assert session.execute(select(DeadLetter)).first() is None


def test_message_that_keeps_killing_its_worker_is_parked(
    committed_database, broker, worker, redis_client
):
    # Given a message whose earlier deliveries never finished (the worker died each time)
    message = fails_permanently.message("killer")
    redis_client.set(f"pidsync:deliveries:{message.message_id}", 3)
    # When it is delivered again
    broker.enqueue(message)
    join_all(broker, timeout_ms=10_000)
    worker.join()
    # Then it is not run but parked with the reason
    assert calls == []
    with committed_database.session() as session:
        letter = session.execute(select(DeadLetter)).scalar_one()
    assert "without finishing" in letter.reason


def test_dead_letter_of_an_event_marks_the_event_failed(
    committed_database, broker, worker, cipher, monkeypatch
):
    from worker.events import service

    def explode(session, event_id, ctx=None):
        raise PermanentError("handler bug: cannot map type")

    monkeypatch.setattr(service, "process_event", explode)
    checked = check_events([event()], IntakeContext(()), batch=False)
    with committed_database.session() as session:
        store_events(session, checked, client_id="cris", cipher=cipher)
    join_all(broker, timeout_ms=10_000)
    worker.join()
    with committed_database.session() as session:
        stored = session.execute(select(ReceivedEvent)).scalar_one()
    assert stored.status == EventStatus.FAILED
    assert "cannot map type" in stored.outcome


def test_enqueue_after_commit_is_dropped_on_rollback(committed_database, broker, redis_client):
    with pytest.raises(ValueError), committed_database.session() as session:
        enqueue_after_commit(session, fails_permanently, "never")
        raise ValueError
    assert _queue_length(redis_client) == 0


def test_requeued_dead_letter_runs_again(committed_database, broker, worker, cipher, monkeypatch):
    from worker.events import service
    from worker.ops.dead_letters import requeue

    real = service.process_event
    monkeypatch.setattr(
        service, "process_event", lambda s, i, c=None: (_ for _ in ()).throw(PermanentError("bug"))
    )
    checked = check_events([event()], IntakeContext(()), batch=False)
    with committed_database.session() as session:
        store_events(session, checked, client_id="cris", cipher=cipher)
    join_all(broker, timeout_ms=10_000)
    worker.join()
    # The cause is fixed, an operator requeues the parked message
    monkeypatch.setattr(service, "process_event", real)
    with committed_database.session() as session:
        letter_id = session.execute(select(DeadLetter.id)).scalar_one()
        requeue(session, letter_id)
    join_all(broker, timeout_ms=10_000)
    worker.join()
    with committed_database.session() as session:
        assert session.execute(select(ReceivedEvent.status)).scalar_one() == EventStatus.DONE
        with pytest.raises(LookupError):
            requeue(session, letter_id)


def test_retries_are_pidsync_wide_not_per_actor():
    """A per-actor max_retries would be silently ignored (retry_when takes precedence), so
    declaring one is refused; the bound is Settings.max_retries, given to init_broker."""
    with pytest.raises(TypeError, match="pidsync-wide"):
        actor("test.own_retries", max_retries=3)(lambda: None)


def _in_a_worker_process(database_url: str, redis_url: str, tmp_path, script: str) -> str:
    """The last line ``script`` prints in a new process that has imported the modules `pidsync
    worker` hands to dramatiq (``modules``; ``gc``, ``json`` and ``dramatiq`` imported)."""
    from worker.cli.processes import WORKER_MODULES

    prelude = (
        "import gc, importlib, json, dramatiq\n"
        f"modules = [importlib.import_module(m) for m in {list(WORKER_MODULES)!r}]\n"
    )
    return _in_a_new_process(database_url, redis_url, tmp_path, prelude + script)


def _in_a_new_process(database_url: str, redis_url: str, tmp_path, script: str) -> str:
    """The last line ``script`` prints in a new Python process configured for these servers."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "PIDSYNC_DATABASE_URL": database_url,
        "PIDSYNC_REDIS_URL": redis_url,
        "PIDSYNC_BROKER_URL": redis_url,
        "PIDSYNC_DATA_DIR": str(tmp_path),
        "PIDSYNC_TOKEN_KEYS": "8Fq2hYwSpX6VdC0NvQbq0k6tMfQb3d7Zs1vH8aJ2xq0=",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_worker_entrypoint_declares_every_actor(database_url, redis_url, tmp_path):
    """The modules `pidsync worker` hands to dramatiq must declare every actor, or messages
    sent by name wait forever."""
    import json

    from tests.test_architecture import _declared_actor_names

    line = _in_a_worker_process(
        database_url, redis_url, tmp_path, "print(json.dumps(sorted(modules[0].broker.actors)))"
    )
    declared = set(json.loads(line))
    product = {name for name in _declared_actor_names() if not name.startswith("test.")}
    assert product <= declared and len(product) > 10


def test_a_worker_process_freezes_its_booted_heap(database_url, redis_url, tmp_path):
    """Issue 13: in the processes `pidsync worker` runs, what exists once the worker has booted
    lives as long as the process and is frozen, so the collector stops walking it (a full
    collection took 100 ms with the GIL held); nothing is frozen before the boot."""
    script = (
        "before = gc.get_freeze_count()\n"
        "worker = dramatiq.Worker(modules[0].broker, queues=['test-frozen-heap'], worker_threads=1)\n"
        "worker.start()\n"
        "print(before, gc.get_freeze_count())\n"
        "worker.stop()\n"
    )
    line = _in_a_worker_process(database_url, redis_url, tmp_path, script)
    before, after = map(int, line.split())
    assert before == 0 and after > 50_000, (before, after)


def test_the_web_process_freezes_its_booted_heap_before_it_serves(
    database_url, redis_url, tmp_path
):
    """Issue 13: `pidsync web` freezes what exists once it has booted, before uvicorn serves
    its first request. A full collection of that heap held every request for about 100 ms
    (the intake's p99 went from 11 ms to 76-140 ms whenever one fell inside a run)."""
    script = (
        "import gc, uvicorn\n"
        "from worker.cli.processes import web\n"
        "seen = []\n"
        "uvicorn.run = lambda app, **options: seen.append(gc.get_freeze_count())\n"
        "before = gc.get_freeze_count()\n"
        "web.main(args=['--port', '0'], standalone_mode=False)\n"
        "print(before, *seen)\n"
    )
    before, serving = map(int, _in_a_new_process(database_url, redis_url, tmp_path, script).split())
    assert before == 0 and serving > 50_000, (before, serving)


def test_every_effect_named_for_its_own_queue_is_a_declared_actor():
    """The effects' queue is chosen by actor name (worker.broker.EFFECT_ACTORS): a renamed
    actor would silently fall back to the events' queue, behind any backlog."""
    from tests.test_architecture import _declared_actor_names
    from worker.broker import EFFECT_ACTORS, EFFECTS_QUEUE, queue_for

    declared = set(_declared_actor_names())
    assert declared >= EFFECT_ACTORS, EFFECT_ACTORS - declared
    assert queue_for("registrars.datacite.sync") == EFFECTS_QUEUE
    assert queue_for("events.process") == DEFAULT_QUEUE


def test_messages_taken_by_a_worker_whose_heartbeat_stopped_are_counted_as_held(
    broker, redis_client
):
    from worker.queues import held_by_dead_workers

    # Given a worker process that took a message and has not acknowledged it
    fails_permanently.send("taken")
    consumer = broker.consume(DEFAULT_QUEUE, prefetch=1, timeout=1000)
    try:
        taken = next(consumer)
        assert taken is not None and taken.args == ("taken",)
        # While its heartbeat is fresh, the message is its own: being run, not held
        assert held_by_dead_workers(broker) == 0
        # When its heartbeat stops (the process killed: nobody renews it)
        stale = redis_client.zscore("pidsync:__heartbeats__", broker.broker_id) - 61_000
        redis_client.zadd("pidsync:__heartbeats__", {broker.broker_id: stale})
        # Then the message counts as held by a dead worker (dramatiq gives it back later)
        assert held_by_dead_workers(broker) == 1
    finally:
        consumer.close()
