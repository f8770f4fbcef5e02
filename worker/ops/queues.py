"""How much waits in the broker, and for how long: per queue, its delayed queue and its
dead-letter queue (dramatiq's own ``.DQ`` and ``.XQ``).

Read from the broker itself, not from Postgres: a message lost between the two shows here as
missing, and a queue that grows while the database looks calm is what an operator must see.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from worker.broker import DEFAULT_QUEUE


@dataclass(frozen=True)
class QueueDepth:
    name: str  # pidsync, pidsync.DQ (delayed), pidsync.XQ (dead letters)
    kind: str  # ready | delayed | dead
    depth: int
    #: Seconds since the oldest message still there was enqueued; None when empty or unknown
    #: (RabbitMQ does not tell a message's age without taking it).
    oldest_age_seconds: float | None
    #: Taken by a worker and not yet acknowledged (Redis only).
    in_flight: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def queue_depths(broker: Any, now: datetime) -> list[QueueDepth]:
    """Every pidsync queue's depth and oldest message, for a Redis or a RabbitMQ broker."""
    names = sorted({DEFAULT_QUEUE, *(_base(q) for q in broker.get_declared_queues())})
    if hasattr(broker, "client") and hasattr(broker, "namespace"):
        return [d for name in names for d in _redis(broker.client, broker.namespace, name, now)]
    return [d for name in names for d in _rabbitmq(broker, name)]


def _base(queue: str) -> str:
    return queue.removesuffix(".DQ").removesuffix(".XQ")


def _redis(client: Any, namespace: str, name: str, now: datetime) -> list[QueueDepth]:
    now_ms = now.timestamp() * 1000
    out = []
    for queue, kind in ((name, "ready"), (f"{name}.DQ", "delayed")):
        key = f"{namespace}:{queue}"
        depth = int(client.llen(key))
        oldest = None
        first = client.lindex(key, 0)
        if first is not None:
            raw = client.hget(f"{key}.msgs", first)
            if raw is not None:
                stamp = json.loads(raw).get("message_timestamp")
                oldest = max(0.0, (now_ms - stamp) / 1000) if stamp else None
        in_flight = sum(
            int(client.scard(ack)) for ack in client.scan_iter(f"{namespace}:__acks__.*.{queue}")
        )
        out.append(QueueDepth(queue, kind, depth, oldest, in_flight))
    dead_key = f"{namespace}:{name}.XQ"
    oldest_dead = client.zrange(dead_key, 0, 0, withscores=True)
    out.append(
        QueueDepth(
            f"{name}.XQ",
            "dead",
            int(client.zcard(dead_key)),
            max(0.0, (now_ms - oldest_dead[0][1]) / 1000) if oldest_dead else None,
        )
    )
    return out


def _rabbitmq(broker: Any, name: str) -> list[QueueDepth]:
    ready, delayed, dead = broker.get_queue_message_counts(name)
    return [
        QueueDepth(name, "ready", int(ready), None),
        QueueDepth(f"{name}.DQ", "delayed", int(delayed), None),
        QueueDepth(f"{name}.XQ", "dead", int(dead), None),
    ]
