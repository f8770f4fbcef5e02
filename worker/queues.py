"""What waits in the broker, and for how long: every pidsync queue (:data:`worker.broker.QUEUES`),
its delayed queue and its dead-letter queue (dramatiq's own ``.DQ`` and ``.XQ``).

The one reader of queue depths: the ops overview (dashboard and ``pidsync ops``) and the
metrics' gauges both take their figures from :func:`queue_depths`. It reads the broker itself,
not Postgres: a message lost between the two shows here as missing, and a queue that grows
while the database looks calm is what an operator must see. With Redis it is one pipelined
round trip of list and hash lengths plus one read per non-empty queue's head (never a scan of
a queue or of the keyspace); with RabbitMQ, AMQP's message counts (no ages: AMQP does not show
a queue's head without taking it).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import dramatiq

from worker.broker import QUEUES

#: How often :func:`join_all` looks at the queues, in milliseconds.
JOIN_INTERVAL_MS = 100


@dataclass(frozen=True)
class QueueDepth:
    name: str  # pidsync, pidsync.DQ (delayed), pidsync.XQ (dead letters), pidsync-effects...
    kind: str  # ready | delayed | dead
    #: Messages waiting in the queue for a worker to take them.
    depth: int
    #: Seconds the oldest waiting message has been due: since it was sent or since its delay
    #: ended (a postponed message is not late before its time; dead: since it died). None when
    #: the queue is empty or the broker cannot tell (RabbitMQ).
    oldest_age_seconds: float | None
    #: Taken by a worker process and not yet acknowledged: being run, or held until due (a
    #: delayed message); None when the broker cannot tell (RabbitMQ, dead letters).
    in_flight: int | None = None

    @property
    def total(self) -> int:
        """Every message of the queue not finished: waiting or taken."""
        return self.depth + (self.in_flight or 0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def queue_names(broker: Any) -> list[str]:
    """pidsync's queues and any other the process declared (canonical names, no suffix)."""
    declared = {q.removesuffix(".DQ").removesuffix(".XQ") for q in broker.get_declared_queues()}
    return sorted({*QUEUES, *declared})


def queue_depths(broker: Any, now: float | None = None) -> list[QueueDepth]:
    """Every queue's depth and oldest message, for a Redis or a RabbitMQ broker; ``now`` is a
    POSIX timestamp (defaults to the clock)."""
    names = queue_names(broker)
    client = getattr(broker, "client", None)
    if client is None or not hasattr(broker, "namespace"):
        return [d for name in names for d in _rabbitmq(broker, name)]
    return _redis(client, broker.namespace, names, time.time() if now is None else now)


def unfinished(broker: Any) -> int:
    """Messages on every queue not finished yet (waiting, delayed or being run; not dead)."""
    return sum(d.total for d in queue_depths(broker) if d.kind != "dead")


def held_by_dead_workers(broker: Any, now: float | None = None) -> int:
    """Messages taken by worker processes whose heartbeat stopped (killed, their host gone):
    dramatiq's Redis broker keeps them in the dead worker's ack sets and gives them back in a
    maintenance pass, at random and up to minutes later, while the sweeps re-send their work
    long before. 0 with RabbitMQ, which gives a dead consumer's messages back at once. A scan
    of the ack sets' keys: for the chaos suite's accounting, not a hot path."""
    client = getattr(broker, "client", None)
    if client is None or not hasattr(broker, "namespace"):
        return 0
    namespace = broker.namespace
    now_ms = (time.time() if now is None else now) * 1000
    beats = client.zrange(f"{namespace}:__heartbeats__", 0, -1, withscores=True)
    live = {worker.decode() for worker, at in beats if now_ms - at < broker.heartbeat_timeout}
    prefix = f"{namespace}:__acks__."
    held = 0
    for key in client.scan_iter(match=f"{prefix}*"):
        worker = key.decode().removeprefix(prefix).rsplit(".", 1)[0]  # <worker id>.<queue>
        if worker not in live:
            held += int(client.scard(key))
    return held


def join_all(broker: dramatiq.Broker, *, timeout_ms: int) -> None:
    """Wait until every pidsync queue is empty (tests and benchmarks). A message on one queue
    may send to another, so the wait ends only when all of them are found empty at once."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        for queue in queue_names(broker):
            left = max(1, int((deadline - time.monotonic()) * 1000))
            broker.join(queue, timeout=left)
        if unfinished(broker) == 0:
            return
        if time.monotonic() >= deadline:
            raise dramatiq.errors.QueueJoinTimeout(",".join(QUEUES))  # type: ignore[no-untyped-call]
        time.sleep(JOIN_INTERVAL_MS / 1000)


def _redis(client: Any, namespace: str, names: list[str], now: float) -> list[QueueDepth]:
    keys = [(f"{name}{suffix}", kind) for name in names for suffix, kind in _LISTS]
    with client.pipeline(transaction=False) as pipe:
        for queue, _kind in keys:
            key = f"{namespace}:{queue}"
            pipe.llen(key)
            pipe.hlen(f"{key}.msgs")
            pipe.lindex(key, 0)
        for name in names:
            pipe.zcard(f"{namespace}:{name}.XQ")
            pipe.zrange(f"{namespace}:{name}.XQ", 0, 0, withscores=True)
        answers = pipe.execute()
    out: dict[str, QueueDepth] = {}
    for index, (queue, kind) in enumerate(keys):
        waiting, stored, head = answers[3 * index : 3 * index + 3]
        messages = f"{namespace}:{queue}.msgs"
        age = _due_age(client, messages, head, now) if head is not None else None
        # The hash holds every message of the queue until it is acked; the list only the ones
        # no worker has taken.
        out[queue] = QueueDepth(queue, kind, int(waiting), age, max(0, stored - waiting))
    dead = answers[3 * len(keys) :]
    for index, name in enumerate(names):
        count, oldest = dead[2 * index : 2 * index + 2]
        age = max(0.0, now - oldest[0][1] / 1000) if oldest else None
        out[f"{name}.XQ"] = QueueDepth(f"{name}.XQ", "dead", int(count), age)
    # Each queue, then its delayed and dead ones.
    return [out[f"{name}{suffix}"] for name in names for suffix in ("", ".DQ", ".XQ")]


_LISTS = (("", "ready"), (".DQ", "delayed"))


def _due_age(client: Any, messages_key: str, message_id: bytes, now: float) -> float | None:
    """Seconds the message has been due: since it was sent, or since its delay (``eta``)
    ended; a postponed message keeps its first timestamp, so the eta counts."""
    raw = client.hget(messages_key, message_id)
    if raw is None:  # taken by a worker between the two reads
        return None
    data = json.loads(raw)
    due = max(data.get("message_timestamp", 0), data.get("options", {}).get("eta", 0)) / 1000.0
    return float(max(0.0, now - due))


def _rabbitmq(broker: Any, name: str) -> list[QueueDepth]:
    ready, delayed, dead = broker.get_queue_message_counts(name)
    return [
        QueueDepth(name, "ready", int(ready), None),
        QueueDepth(f"{name}.DQ", "delayed", int(delayed), None),
        QueueDepth(f"{name}.XQ", "dead", int(dead), None),
    ]
