"""Every actor module, imported once so the broker knows every actor (worker processes and
senders alike)."""

from worker.events import actors as events_actors
from worker.notify import actors as notify_actors
from worker.orcid import actors as orcid_actors  # noqa: F401 - declares the ORCID actors
from worker.orcid.sections import actors as sections_actors  # noqa: F401 - affiliations etc.
from worker.registrars import actors as registrars_actors  # noqa: F401 - the DOI actors

__all__ = ["events_actors", "notify_actors"]
