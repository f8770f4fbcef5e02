"""Merging the registries' answers: in parallel, by rank, one DOI once.

Every registry is asked for its next page at once (one thread each). Their hits are merged by
rank, alternating in registry order (Crossref, then DataCite: the two engines' scores are not
comparable, so they are not mixed), and de-duplicated by DOI (the first seen wins), so the same
answers always give the same order. A registry that fails leaves a partial answer and a warning
naming it; only when every registry asked has failed is :class:`SearchFailed` raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from worker.http import HttpError, RequestError
from worker.pids.search.failures import SearchFailed, describe_failure
from worker.pids.search.hits import SearchHit
from worker.pids.search.query import MAX_ROWS, SearchQuery
from worker.pids.search.registries import Page, Registry


class SearchRun:
    """An iteration over merged hits; ``warnings``, ``totals`` and ``failed`` fill as it goes."""

    def __init__(
        self,
        registries: Mapping[str, Registry],
        query: SearchQuery,
        *,
        page_size: int,
        limit: int | None,
        cursors: bool,
        on_warning: Callable[[str], None] | None,
        on_progress: Callable[[int, int | None], None] | None,
    ) -> None:
        self.registries = registries
        self.query = query
        self.page_size = max(1, min(page_size, MAX_ROWS))
        self.limit = limit
        self.cursors = cursors
        self.on_warning = on_warning
        self.on_progress = on_progress
        self.warnings: list[str] = []
        self.totals: dict[str, int | None] = {}
        self.failed: dict[str, str] = {}
        self.refused: set[str] = set()  # of the failed, those that refused the query (4xx)
        self.fetched: dict[str, int] = {}  # hits each registry answered (before de-duplication)
        self.count = 0

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if self.on_warning is not None:
            self.on_warning(message)

    def __iter__(self) -> Iterator[SearchHit]:
        registries = self.registries
        live: dict[str, str | None] = {}
        for name, registry in registries.items():
            reason = registry.skip_reason(self.query)
            if reason is None:
                live[name] = registry.first_cursor
            else:
                self.warn(reason)
        if not self.cursors:
            live = dict.fromkeys(live)
        seen: set[str] = set()
        asked = set(live)
        with ThreadPoolExecutor(max_workers=max(1, len(live)), thread_name_prefix="search") as pool:
            first = True
            while live:
                futures = {
                    name: pool.submit(
                        registries[name].page,
                        self.query,
                        self.page_size,
                        cursor,
                        relevance=not self.cursors,
                    )
                    for name, cursor in live.items()
                }
                pages: dict[str, Page] = {}
                failed_now: list[str] = []
                for name, future in futures.items():  # registry order: stable merging
                    try:
                        pages[name] = future.result()
                    except (HttpError, ValueError) as exc:
                        self.failed[name] = describe_failure(exc)
                        if isinstance(exc, RequestError):
                            self.refused.add(name)
                        failed_now.append(name)
                        del live[name]
                if self.failed.keys() >= asked:
                    break  # nothing left to answer: SearchFailed below, no warnings first
                for name in failed_now:
                    self.warn(self._partial_warning(name, self.failed[name], first=first))
                for name, page in pages.items():
                    self.fetched[name] = self.fetched.get(name, 0) + len(page.hits)
                    if first:
                        self.totals[name] = page.total
                    if page.next_cursor is None or not self.cursors:
                        live.pop(name, None)
                    else:
                        live[name] = page.next_cursor
                first = False
                for hit in _interleave([pages[name].hits for name in registries if name in pages]):
                    if hit.doi in seen:
                        continue
                    seen.add(hit.doi)
                    self.count += 1
                    yield hit
                    if self.limit is not None and self.count >= self.limit:
                        return
                if self.on_progress is not None:
                    known = [t for t in self.totals.values() if t is not None]
                    self.on_progress(self.count, sum(known) if known else None)
        if asked and self.failed.keys() >= asked:
            raise SearchFailed(self.failed, bad_request=set(self.failed) <= self.refused)

    def _partial_warning(self, name: str, reason: str, *, first: bool) -> str:
        others = [n for n in self.registries if n != name and n not in self.failed]
        only = f" from {', '.join(others)} only" if others else ""
        if first:
            return f"warning: {name} {reason}: results are{only}"
        got = self.fetched.get(name, 0)
        return f"warning: {name} {reason} after {got} of its results: the rest are{only}"


def _interleave(pages: Sequence[Sequence[SearchHit]]) -> Iterator[SearchHit]:
    for index in range(max((len(p) for p in pages), default=0)):
        for page in pages:
            if index < len(page):
                yield page[index]
