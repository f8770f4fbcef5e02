"""Converging existing records after ``orcid_versions`` changed (or after the upgrade that
introduced version families): every work's family is computed again from its stored metadata,
then each family's placements are settled as a new event of the family would settle them
(:func:`worker.orcid.placements.settle_family`). Put-codes are reused, extra works removed,
folded versions added back; nothing is written here: the placements are queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from worker.models import Work
from worker.orcid.placements import settle_family
from worker.works import family as families

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from worker.config import Settings


@dataclass
class Converged:
    works: int = 0
    families: int = 0
    queued: int = 0
    removing: int = 0

    def report(self) -> dict[str, int]:
        return {
            "works": self.works,
            "families": self.families,
            "queued": self.queued,
            "removing": self.removing,
        }


def converge(session: Session, settings: Settings, owner: str | None) -> Converged:
    """Recompute families of ``owner``'s works (every owner's when None) and settle them."""
    query = select(Work).order_by(Work.id)
    if owner is not None:
        query = query.where(Work.client_id == owner)
    works = list(session.execute(query).scalars())
    done = Converged(works=len(works))
    for work in works:
        families.assign(session, work)
    seen: set[tuple[str, str | None]] = set()
    for work in works:
        if work.family is None or (work.family, work.client_id) in seen:
            continue
        seen.add((work.family, work.client_id))
        queued, removing = settle_family(session, settings, work)
        done.families += 1
        done.queued += queued
        done.removing += removing
    session.flush()
    return done
