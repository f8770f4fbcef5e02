"""Every actor module, imported once so the broker knows every actor (worker processes and
senders alike)."""

from worker.events import actors as events_actors
from worker.notify import actors as notify_actors

__all__ = ["events_actors", "notify_actors"]
