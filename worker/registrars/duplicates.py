"""The duplicate guard's wiring: the finder that asks the PID toolkit
(``worker.pids.duplicates``, issue 7) whether a DOI for a Work may already exist, and whether
the emitting system vouches the DOI is new. The check itself runs in
:mod:`worker.registrars.guard`; its states are :class:`worker.models.DuplicateCheck`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from worker.config import Settings
from worker.http import Recorder
from worker.metadata.work import Work as MetaWork
from worker.ratelimit import RateLimiter

#: Finds DOIs that may already exist for a Work: (work) -> matches with .doi .score .evidence.
DuplicateFinder = Callable[[Any], Sequence[Any]]


def registry_finder(
    settings: Settings,
    *,
    threshold: float,
    limiter: RateLimiter | None = None,
    recorder: Recorder | None = None,
) -> DuplicateFinder:
    """The PID toolkit's ``find_possible_duplicates(work, search, threshold=...)`` over one
    :class:`~worker.pids.search.RegistrySearch` of this installation's Crossref and DataCite
    (its calls recorded like every other, its reads paced by ``limiter`` within the shared
    Crossref REST and DataCite budgets). A registry that cannot be searched raises
    ``DuplicateCheckIncomplete``, a TransientError: the check is tried again later."""
    from worker.pids.duplicates import find_possible_duplicates
    from worker.pids.search import RegistrySearch

    search = RegistrySearch.from_settings(settings, limiter=limiter, recorder=recorder)

    def find(work: MetaWork) -> Sequence[Any]:
        return find_possible_duplicates(work, search, threshold=threshold)

    return find


def declared_new(registration: dict[str, Any]) -> bool:
    """Whether the emitting system says the DOI is new (``registration.new_doi: true``), which
    skips the guard."""
    return registration.get("new_doi") is True
