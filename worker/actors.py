"""Every actor module, imported once so the broker knows every actor (worker processes and
senders alike)."""

from worker.events import actors as events_actors

__all__ = ["events_actors"]
