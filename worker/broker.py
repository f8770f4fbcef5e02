"""The dramatiq broker (Redis, or RabbitMQ for an ``amqp://`` URL) and its middleware.

Actors are declared with :func:`actor` at import time against a stub broker and bound to the
real one by :func:`init_broker` at process boot, so importing an actor module never opens a
connection. The middleware binds log context per message, retries only transient errors,
postpones without spending a retry, and parks a message that ran out of tries (or kept killing
its worker) as a dead letter whose reason a person can read.
"""

from __future__ import annotations

import gc
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import dramatiq
import structlog
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import current_millis, dq_name
from dramatiq.middleware import CurrentMessage, Middleware, Retries, SkipMessage
from redis.exceptions import NoScriptError
from sqlalchemy.exc import DBAPIError, OperationalError

from worker.errors import Postpone, TransientError
from worker.logging import get_logger, redact_text
from worker.metrics.registry import DEAD_LETTERED, MESSAGE_SECONDS, MESSAGES

log = get_logger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: The queue of everything that reads: the intake's events (``events.process``) and the
#: scheduler's read-backs. A backlog of events waits here.
DEFAULT_QUEUE = "pidsync"
#: The queue of the effects: what registers a DOI, places a work on a record or tells a client.
#: Their own queue, so that a backlog of events (100,000 queued at once) never stands between
#: an effect and the agency: each queue has its own consumer in every worker process, and a
#: delayed (postponed, rate-limited) effect comes back to this short queue, not to the tail of
#: the backlog.
EFFECTS_QUEUE = "pidsync-effects"
#: Every pidsync queue; ``pidsync worker`` consumes them all unless told otherwise. dramatiq
#: adds ``.DQ`` (delayed) and ``.XQ`` (dead) to each.
QUEUES = (DEFAULT_QUEUE, EFFECTS_QUEUE)
#: The actors on :data:`EFFECTS_QUEUE`, by name (chosen here, so actor modules and senders need
#: no queue of their own). tests/test_broker.py checks each is a declared actor.
EFFECT_ACTORS = frozenset(
    {
        "registrars.datacite.sync",
        "registrars.crossref.batch",
        "registrars.crossref.upload",
        "registrars.crossref.poll",
        "orcid.place",
        "orcid.place_item",
        "orcid.doi_settled",
        "orcid.backfill",
        "orcid.revoke_token",
        "orcid.request_permission",
        "orcid.register_webhook",
        "orcid.unregister_webhook",
        "notify.deliver",
    }
)
#: dramatiq's actor priority (lower first) orders the messages a worker process has already
#: fetched from its queues: an effect it holds runs before an event it holds.
EFFECT_PRIORITY = 0
DEFAULT_PRIORITY = 10
#: Deliveries of one message that never finished (the worker died) before it is parked.
MAX_UNFINISHED_DELIVERIES = 3

_actors: list[dramatiq.Actor[Any, Any]] = []
_stub_broker = StubBroker()
_stub_broker.emit_after("process_boot")
_max_retries = 8


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientError):
        return True
    # A lost or refused database connection; not an integrity or programming error.
    return isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def retry_when(retries: int, exc: BaseException) -> bool:
    return is_transient(exc) and retries < _max_retries


def queue_for(actor_name: str) -> str:
    """The queue of the actor named ``actor_name``: effects on their own, the rest on the
    default queue."""
    return EFFECTS_QUEUE if actor_name in EFFECT_ACTORS else DEFAULT_QUEUE


def actor(name: str, **options: Any) -> Callable[[F], dramatiq.Actor[Any, Any]]:
    """Declare an actor with pidsync's policy: retry transient errors only; Postpone is free.

    The actor's queue and priority follow from its name (:func:`queue_for`), so a message can
    be sent by the actor's name alone (:func:`send`) from a process that never imported the
    actor. Retries are bounded by the process's ``max_retries`` setting, never per actor:
    ``retry_when`` would take precedence over an actor's own ``max_retries`` and make it a
    dead letter."""
    if {"max_retries", "queue_name", "priority"} & options.keys():
        raise TypeError(
            f"actor {name}: retries, queue and priority are pidsync-wide, not per actor"
        )
    queue = queue_for(name)
    options["priority"] = EFFECT_PRIORITY if queue == EFFECTS_QUEUE else DEFAULT_PRIORITY

    def decorate(fn: F) -> dramatiq.Actor[Any, Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            collecting = _follow_ups.collect(queue)
            try:
                return fn(*args, **kwargs)
            except Postpone as wait:
                _requeue(wait)
                return None
            finally:
                _follow_ups.run(collecting)

        run.__name__ = fn.__name__
        run.__doc__ = fn.__doc__
        options.setdefault("retry_when", retry_when)
        declared: dramatiq.Actor[Any, Any] = dramatiq.actor(
            actor_name=name, queue_name=queue, broker=_current_broker(), **options
        )(run)
        _actors.append(declared)
        _functions[name] = fn
        return declared

    return decorate


#: The declared actors' own functions, by name (a follow-up runs one without its message).
_functions: dict[str, Callable[..., Any]] = {}

#: Actors whose message, sent after a commit by an actor of the same queue running in a
#: worker, that worker thread runs itself once that actor has returned, instead of sending it
#: (:class:`_FollowUps`). Only actors whose run, should the worker die before it, a sweep makes
#: up for: ``orcid.doi_settled`` (the ORCID sweep's heal of placements left waiting for a
#: settled DOI, or left pending without a message).
FOLLOW_UPS = frozenset({"orcid.doi_settled"})
#: Follow-ups one actor's run keeps for itself; any more are sent as messages, so that work
#: fanning out (a Crossref deposit settling a hundred DOIs) is still shared among the workers
#: rather than run one after the other in one thread.
MAX_FOLLOW_UPS = 1


class _FollowUps(threading.local):
    """A worker thread's follow-up messages (:data:`FOLLOW_UPS`).

    Issue 13: a DOI confirmed by ``registrars.datacite.sync`` sent ``orcid.doi_settled``,
    which the next free thread fetched, acknowledged and ran with every middleware around it:
    a message per DOI, a third of the messages behind every event. Now the thread that
    committed the confirmation runs it right after, as the message would have run: the same
    function, the same correlation id, its own units of work. One that fails or must wait is
    sent as the message after all (its retries and delay apply as before)."""

    def __init__(self) -> None:
        self.queue: str | None = None  # the running actor's queue, while collecting
        self.pending: list[Outgoing] = []

    def collect(self, queue: str) -> bool:
        """Start collecting for an actor of ``queue`` run by a worker; whether this call
        started it (a follow-up's own follow-ups are sent, not nested)."""
        if self.queue is not None or CurrentMessage.get_current_message() is None:
            return False
        self.queue = queue
        return True

    def keep(self, outgoing: Sequence[Outgoing]) -> list[Outgoing]:
        """Take the follow-ups among ``outgoing`` (sent after a commit); the rest, to send."""
        if self.queue is None:
            return list(outgoing)
        rest = []
        for item in outgoing:
            if (
                item.actor_name in FOLLOW_UPS
                and item.delay is None
                and queue_for(item.actor_name) == self.queue
                and item.actor_name in _functions
                and len(self.pending) < MAX_FOLLOW_UPS
            ):
                self.pending.append(item)
            else:
                rest.append(item)
        return rest

    def run(self, collected: bool) -> None:
        """Run the collected follow-ups (when this call's :meth:`collect` started)."""
        if not collected:
            return
        pending, self.pending, self.queue = self.pending, [], None
        for index, item in enumerate(pending):
            started, outcome = time.perf_counter(), "ok"
            try:
                _functions[item.actor_name](*item.args)
            except Postpone as wait:
                outcome = "postponed"
                send_committed([replace(item, delay=wait.delay)])
            except Exception as exc:
                # Its own message retries it, and those after it, under the broker's policy.
                outcome = "error"
                log.warning("follow_up_failed", actor=item.actor_name, error=redact_text(str(exc)))
                send_committed(pending[index:])
            finally:
                # Counted as the message would have been: the dashboards' rate by actor holds.
                MESSAGE_SECONDS.labels(actor=item.actor_name).observe(time.perf_counter() - started)
                MESSAGES.labels(actor=item.actor_name, outcome=outcome).inc()
            if outcome == "error":
                return


_follow_ups = _FollowUps()


def keep_follow_ups(outgoing: Sequence[Outgoing]) -> list[Outgoing]:
    """What of ``outgoing``, about to be sent after a commit, must still be sent: in a worker's
    actor, the follow-ups it will run itself are kept back (:class:`_FollowUps`)."""
    return _follow_ups.keep(outgoing)


def send(actor_name: str, *args: Any, delay: float | None = None, **options: Any) -> None:
    """Enqueue a message for the actor named ``actor_name`` on the process's broker.

    Services never call this directly: they use :func:`worker.db.enqueue_after_commit`, which
    sends only once their state is committed."""
    item = Outgoing(actor_name, args, delay, options)
    dramatiq.get_broker().enqueue(item.message(), delay=item.delay_ms)


# -- several messages in one round trip --------------------------------------------------
#
# Issue 13: the intake spent a Redis round trip per accepted event after its commit (~40 % of
# a request). dramatiq's ``RedisBroker.enqueue`` runs its ``dispatch`` Lua script once per
# message, each a round trip; :func:`enqueue_many` runs the same script, with the same
# arguments and the same middleware hooks around each message, for all of them in one
# pipeline (no MULTI: each message is enqueued by its own script call, as one by one). Any
# other broker (RabbitMQ, dramatiq's in-memory StubBroker) gets its own ``enqueue`` per
# message: its semantics (publisher confirms, declared queues) are its own to keep.


@dataclass(frozen=True)
class Outgoing:
    """One message to send: the actor's name, its arguments, its delay in seconds (None: at
    once) and its options (``correlation_id``)."""

    actor_name: str
    args: tuple[Any, ...]
    delay: float | None = None
    options: dict[str, Any] | None = None

    def message(self) -> dramatiq.Message[Any]:
        return dramatiq.Message(
            queue_name=queue_for(self.actor_name),
            actor_name=self.actor_name,
            args=self.args,
            kwargs={},
            options=dict(self.options or {}),
        )

    @property
    def delay_ms(self) -> int | None:
        return int(self.delay * 1000) if self.delay else None


def send_many(outgoing: Sequence[Outgoing]) -> list[tuple[Outgoing, Exception]]:
    """Send ``outgoing`` on the process's broker, in order; the ones that could not be sent,
    each with its error (the others are on their queues)."""
    return enqueue_many(dramatiq.get_broker(), outgoing)


def send_committed(outgoing: Sequence[Outgoing]) -> None:
    """:func:`send_many` for messages about committed state: one that cannot be sent is
    logged, never raised (the state is committed; the scheduler's sweeps find it and send it
    again)."""
    try:
        failed = send_many(outgoing)
    except Exception as exc:  # before anything was sent (a middleware's hook)
        failed = [(item, exc) for item in outgoing]
    for item, error in failed:
        log.warning("enqueue_failed", actor=item.actor_name, error=str(error))


def enqueue_many(
    broker: dramatiq.Broker, outgoing: Sequence[Outgoing]
) -> list[tuple[Outgoing, Exception]]:
    """:func:`send_many` on ``broker``."""
    if len(outgoing) > 1 and isinstance(broker, RedisBroker):
        return _redis_pipelined(broker, outgoing)
    failed: list[tuple[Outgoing, Exception]] = []
    for item in outgoing:
        try:
            broker.enqueue(item.message(), delay=item.delay_ms)
        except Exception as exc:
            failed.append((item, exc))
    return failed


def _redis_pipelined(
    broker: RedisBroker, outgoing: Sequence[Outgoing]
) -> list[tuple[Outgoing, Exception]]:
    prepared = []
    for item in outgoing:
        # What RedisBroker.enqueue does to a message before its script runs: a fresh id in
        # Redis (a retried message keeps its message_id), and the delayed queue with an eta.
        message = item.message().copy(options={"redis_message_id": str(uuid.uuid4())})
        delay = item.delay_ms
        queue_name = message.queue_name
        if delay is not None:
            queue_name = dq_name(queue_name)
            message = message.copy(queue_name=queue_name, options={"eta": current_millis() + delay})
        broker.emit_before("enqueue", message, delay)
        prepared.append((item, queue_name, message, delay))

    dispatch = broker.scripts["dispatch"]
    pending = list(range(len(prepared)))
    outcomes: dict[int, Any] = {}
    for attempt in range(2):
        pipe = broker.client.pipeline(transaction=False)
        for index in pending:
            _item, queue_name, message, _delay = prepared[index]
            pipe.evalsha(dispatch.sha, 1, *_dispatch_args(broker, queue_name, message))
        try:
            results = pipe.execute(raise_on_error=False)
        except Exception as exc:  # the connection: none of these is known to be sent
            for index in pending:
                outcomes[index] = exc
            break
        outcomes.update(zip(pending, results, strict=True))
        # A server that never saw the script (restarted, or another than the one the broker
        # first met) runs none of them: load it once and send those again, as Script does.
        pending = [i for i in pending if isinstance(outcomes[i], NoScriptError)]
        if not pending or attempt:
            break
        dispatch.sha = broker.client.script_load(dispatch.script)

    failed: list[tuple[Outgoing, Exception]] = []
    for index, (item, _queue, message, delay) in enumerate(prepared):
        outcome = outcomes[index]
        if isinstance(outcome, Exception):
            failed.append((item, outcome))
        else:
            broker.emit_after("enqueue", message, delay)
    return failed


def _dispatch_args(
    broker: RedisBroker, queue_name: str, message: dramatiq.Message[Any]
) -> list[Any]:
    """The ``dispatch`` script's keys and arguments for ``enqueue``, exactly as
    ``RedisBroker``'s own ``do_enqueue`` passes them (dramatiq 2.x)."""
    return [
        broker.namespace,
        "enqueue",
        current_millis(),
        queue_name,
        broker.broker_id,
        broker.heartbeat_timeout,
        broker.dead_message_ttl,
        broker._should_do_maintenance("enqueue"),  # noqa: SLF001 - the same chance as its own
        broker._max_unpack_size(),  # type: ignore[no-untyped-call]  # noqa: SLF001
        message.options["redis_message_id"],
        message.encode(),
    ]


def later(delay: float | None, reason: str) -> None:
    """In an actor, after its unit of work committed: run this message again in ``delay``
    seconds (the service recorded why and when on its row), without spending a retry."""
    if delay is not None:
        raise Postpone(delay, reason)


def _requeue(wait: Postpone) -> None:
    message = CurrentMessage.get_current_message()
    if message is None:  # called directly (a test): nothing to requeue, say so loudly
        raise wait
    broker = dramatiq.get_broker()
    # A new message id: the old one is acked when this returns. Its actor's queue, should the
    # message have come from another (sent before the effects had a queue of their own).
    fresh = message.copy(message_id=str(uuid.uuid4()), queue_name=queue_for(message.actor_name))
    broker.enqueue(fresh, delay=int(wait.delay * 1000))
    message.options["pidsync_postponed"] = True  # for MetricsMiddleware: not an "ok" run
    log.info("postponed", delay_s=round(wait.delay, 3), reason=wait.reason)


def _current_broker() -> dramatiq.Broker:
    return dramatiq.get_broker() if _bound else _stub_broker


_bound = False


class LogContextMiddleware(Middleware):
    """Bind actor_name, message_id and correlation_id into structlog for each message."""

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            actor_name=message.actor_name,
            message_id=message.message_id,
            correlation_id=message.options.get("correlation_id"),
        )

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        structlog.contextvars.clear_contextvars()

    after_skip_message = after_process_message


class MetricsMiddleware(Middleware):
    """Count each message by actor and outcome (ok, postponed, error) and time it."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self.started[message.message_id] = time.perf_counter()

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        started = self.started.pop(message.message_id, None)
        if started is not None:
            MESSAGE_SECONDS.labels(actor=message.actor_name).observe(time.perf_counter() - started)
        if exception is not None:
            outcome = "error"
        elif message.options.pop("pidsync_postponed", False):
            outcome = "postponed"
        else:
            outcome = "ok"
        MESSAGES.labels(actor=message.actor_name, outcome=outcome).inc()

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self.started.pop(message.message_id, None)


def freeze_booted_heap() -> None:
    """For a long-running process that has booted (every module imported, the engine and
    clients built): move what exists now out of the garbage collector's sight
    (``gc.freeze``). Those objects live as long as the process, and each full collection
    walked all of them again (issue 13: 168,000-176,000 objects, 100-110 ms per full
    collection with the GIL held: a worker's messages, or every request the web was
    answering, stood still meanwhile)."""
    gc.collect()  # what is garbage now is collected first, never frozen
    gc.freeze()


class FrozenHeapMiddleware(Middleware):
    """:func:`freeze_booted_heap` once a worker process has booted."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        freeze_booted_heap()


class DeadLetterMiddleware(Middleware):
    """Park failed messages in Postgres with their reason; park messages that kill workers.

    Its after-hook must run after dramatiq's Retries middleware, which decides whether a
    message failed.
    The unfinished-delivery count lives in Redis, shared by every worker process: the broker's
    own when it is Redis, pidsync's Redis beside RabbitMQ (a message keeps its id through
    RabbitMQ's redeliveries, which count nothing a classic queue limits). Without a Redis
    client only the retry path is covered.
    """

    def __init__(self, record: Callable[..., None], redis_client: Any | None = None) -> None:
        self.record = record
        self.redis = redis_client

    def _key(self, message: Any) -> str:
        return f"pidsync:deliveries:{message.message_id}"

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        if self.redis is None:
            return
        key = self._key(message)
        # One round trip for both: this runs before every message.
        count, _ = (
            self.redis.pipeline(transaction=False).incr(key).expire(key, 7 * 24 * 3600).execute()
        )
        count = int(count)
        if count > MAX_UNFINISHED_DELIVERIES:
            reason = (
                f"delivered {count - 1} times without finishing: the worker died each time "
                "(out of memory, killed, or a crash outside Python)"
            )
            self.record(message, reason)
            DEAD_LETTERED.labels(actor=message.actor_name).inc()
            self.redis.delete(self._key(message))
            raise SkipMessage(reason)

    def after_process_message(
        self, broker: dramatiq.Broker, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        if self.redis is not None:
            self.redis.delete(self._key(message))
        if exception is not None and message.failed:
            reason = redact_text(f"{type(exception).__name__}: {exception}")
            tries = message.options.get("retries", 1)  # Retries counts failed attempts
            if not is_transient(exception):
                reason = f"permanent error: {reason}"
            else:
                reason = f"gave up after {tries} tries: {reason}"
            self.record(message, reason)
            DEAD_LETTERED.labels(actor=message.actor_name).inc()

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        return


def build_broker(
    url: str, *, record_dead_letter: Callable[..., None], deliveries_url: str | None = None
) -> dramatiq.Broker:
    """A Redis or RabbitMQ broker for the URL, with pidsync's middleware. ``deliveries_url``:
    the Redis that counts a RabbitMQ message's unfinished deliveries (a message that kills its
    worker every time is then parked, as with Redis as the broker)."""
    import redis

    redis_client = None
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker: dramatiq.Broker = RabbitmqBroker(url=url)
        if deliveries_url is not None:
            redis_client = redis.Redis.from_url(deliveries_url)
    else:
        from dramatiq.brokers.redis import RedisBroker

        redis_client = redis.Redis.from_url(url)
        broker = RedisBroker(client=redis_client, namespace="pidsync")  # type: ignore[no-untyped-call]
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(LogContextMiddleware())
    broker.add_middleware(MetricsMiddleware())
    # "after" hooks run in reverse order: placed before Retries, ours runs after Retries has
    # decided whether the message failed.
    broker.add_middleware(DeadLetterMiddleware(record_dead_letter, redis_client), before=Retries)
    return broker


def init_broker(broker: dramatiq.Broker, *, max_retries: int = 8) -> dramatiq.Broker:
    """Make ``broker`` the process's broker and bind every declared actor to it."""
    global _bound, _max_retries  # noqa: PLW0603 - one broker per process, set at boot
    _max_retries = max_retries
    dramatiq.set_broker(broker)
    _bound = True
    for declared in _actors:
        declared.broker = broker
        broker.declare_actor(declared)
    return broker


def declared_actors() -> list[dramatiq.Actor[Any, Any]]:
    return list(_actors)
