"""The search service: Crossref and DataCite behind one call."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from worker.pids.client import CrossrefRestClient, DataCiteSearchClient
from worker.pids.search.hits import SearchHit
from worker.pids.search.merge import SearchRun
from worker.pids.search.query import SearchQuery
from worker.pids.search.registries import CrossrefRegistry, DataCiteRegistry, Registry

if TYPE_CHECKING:
    from worker.config import Settings
    from worker.http import Recorder
    from worker.ratelimit import RateLimiter

REGISTRIES = ("crossref", "datacite")


@dataclass
class SearchAnswer:
    hits: list[SearchHit]
    warnings: list[str]
    totals: dict[str, int | None]
    failed: dict[str, str]


class RegistrySearch:
    """Crossref and DataCite behind one call: :meth:`search` gives the top ``rows`` by
    relevance, :meth:`stream` every result (see :mod:`worker.pids.search.merge`)."""

    def __init__(self, registries: Mapping[str, Registry]) -> None:
        unknown = set(registries) - set(REGISTRIES)
        if unknown:
            raise ValueError(f"unknown registries: {', '.join(sorted(unknown))}")
        # Fixed order (Crossref, then DataCite) whatever the mapping's order: stable merging.
        self.registries = {name: registries[name] for name in REGISTRIES if name in registries}
        if not self.registries:
            raise ValueError("no registry to search")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        registries: Sequence[str] = REGISTRIES,
        limiter: RateLimiter | None = None,
        timeout: float | None = None,
        recorder: Recorder | None = None,
    ) -> RegistrySearch:
        """Registries at the configured ``crossref_api_url`` and ``datacite_url``, their reads
        paced by ``limiter`` (the process's shared one; None in the stateless CLI)."""
        chosen: dict[str, Registry] = {}
        if "crossref" in registries:
            chosen["crossref"] = CrossrefRegistry(
                CrossrefRestClient.from_settings(
                    settings, limiter=limiter, timeout=timeout, recorder=recorder
                )
            )
        if "datacite" in registries:
            chosen["datacite"] = DataCiteRegistry(
                DataCiteSearchClient.from_settings(
                    settings, limiter=limiter, timeout=timeout, recorder=recorder
                )
            )
        return cls(chosen)

    def search(
        self,
        query: SearchQuery,
        *,
        rows: int = 20,
        on_warning: Callable[[str], None] | None = None,
    ) -> SearchAnswer:
        """The top ``rows`` (≤ 1,000) by relevance: one page from each registry, merged."""
        run = SearchRun(
            self.registries,
            query,
            page_size=rows,
            limit=rows,
            cursors=False,
            on_warning=on_warning,
            on_progress=None,
        )
        hits = list(run)
        return SearchAnswer(hits, run.warnings, run.totals, run.failed)

    def stream(
        self,
        query: SearchQuery,
        *,
        page_size: int = 100,
        limit: int | None = None,
        on_warning: Callable[[str], None] | None = None,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> SearchRun:
        """Every result, page by page with cursors on both sides (``limit`` stops early)."""
        return SearchRun(
            self.registries,
            query,
            page_size=page_size,
            limit=limit,
            cursors=True,
            on_warning=on_warning,
            on_progress=on_progress,
        )

    def close(self) -> None:
        for registry in self.registries.values():
            with contextlib.suppress(Exception):
                registry.close()
