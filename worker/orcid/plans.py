"""The shapes of a plan: what pidsync would write on one section of one ORCID record.

Shared by the preview (:mod:`worker.orcid.preview`), the sections' planners (works there;
affiliations, fundings and peer reviews in :mod:`worker.orcid.sections.plan`) and dry runs
(:mod:`worker.events.dryrun`). Kept apart so the planners of every section can use them
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from worker.config import Settings

ADD = "add"
UPDATE = "update"
REMOVE = "remove"


@dataclass(frozen=True)
class Change:
    """One item pidsync would write: ``action`` add, update or remove."""

    action: str
    item: dict[str, Any]  # what identifies it for the emitting system (source and id)
    title: str | None = None
    put_code: int | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"action": self.action, **self.item}
        if self.title is not None:
            found["title"] = self.title
        if self.put_code is not None:
            found["put_code"] = self.put_code
        if self.note:
            found["note"] = self.note
        return found


@dataclass
class SectionPlan:
    """One section's plan: changes to send now, items left as they are, items that wait."""

    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    waiting: list[Change] = field(default_factory=list)  # ``action`` says what, later
    #: Peer reviews: journals' group ids pidsync does not know yet; the run looks each up in
    #: ORCID's registry and registers it there when it is missing, before the first review.
    group_ids: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            ADD: [c.as_dict() for c in self.changes if c.action == ADD],
            UPDATE: [c.as_dict() for c in self.changes if c.action == UPDATE],
            REMOVE: [c.as_dict() for c in self.changes if c.action == REMOVE],
            "unchanged": self.unchanged,
            "waiting": [c.as_dict() for c in self.waiting],
        }
        if self.group_ids:
            found["register_group_ids"] = list(self.group_ids)
        return found


@dataclass
class PlanContext:
    session: Session
    settings: Settings
    orcid: str
    tenant: str | None
    record: dict[str, Any] | None  # the one read (``GET /record``); None: not read


class SectionPlanner(Protocol):
    """A section of the record that can say what pidsync would write to it."""

    @property
    def section(self) -> str: ...  # its key in the preview (a class constant or per instance)

    def plan(self, context: PlanContext) -> SectionPlan: ...
