"""Each registry as pages of hits: one query, one page size, one cursor at a time.

Cursors: Crossref ``cursor=*`` → ``next-cursor``, stopping on a short page; DataCite
``page[cursor]=1`` → the cursor in ``links.next``, stopping when there is none. A cursor handed
out here carries the running offset after a ``~`` so that ranks keep counting across pages; the
part before it is the registry's own cursor, sent back unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from worker.http import SHAPE_ERRORS, reading
from worker.pids.client import CrossrefRestClient, DataCiteSearchClient
from worker.pids.search.hits import SearchHit, crossref_hit, datacite_hit
from worker.pids.search.query import (
    SearchQuery,
    crossref_params,
    crossref_skip_reason,
    datacite_params,
)


@dataclass
class Page:
    hits: list[SearchHit]
    next_cursor: str | None  # None: no further page
    total: int | None


class Registry(Protocol):
    """What the merged search asks of a registry."""

    name: str
    first_cursor: str  # the cursor that starts cursor paging

    def page(
        self, query: SearchQuery, rows: int, cursor: str | None, *, relevance: bool
    ) -> Page: ...

    def skip_reason(self, query: SearchQuery) -> str | None: ...

    def close(self) -> None: ...


def _hits(
    items: list[dict[str, Any]],
    start: int,
    read: Callable[[Mapping[str, Any], int], SearchHit | None],
) -> list[SearchHit]:
    """The hits of a page. An item that cannot be read (a field of another type than the
    registry documents) is left out, as one without a usable DOI is: the rest still count."""
    hits = []
    for index, item in enumerate(items):
        try:
            hit = read(item, start + index + 1)
        except SHAPE_ERRORS:
            continue
        if hit is not None:
            hits.append(hit)
    return hits


def _with_offset(cursor: str, offset: int) -> str:
    return f"{cursor}~{offset}"


def _offset(cursor: str | None) -> int:
    if cursor is None or "~" not in cursor:
        return 0
    try:
        return int(cursor.rsplit("~", 1)[1])
    except ValueError:
        return 0


def _registry_cursor(cursor: str | None) -> str | None:
    if cursor is None or "~" not in cursor:
        return cursor
    return cursor.rsplit("~", 1)[0]


class CrossrefRegistry:
    """Crossref's ``/works`` as pages of hits."""

    name = "crossref"
    first_cursor = "*"

    def __init__(self, client: CrossrefRestClient) -> None:
        self.client = client

    def skip_reason(self, query: SearchQuery) -> str | None:
        return crossref_skip_reason(query)

    def page(
        self, query: SearchQuery, rows: int, cursor: str | None, *, relevance: bool = False
    ) -> Page:
        """One page; ``cursor`` None = a plain first page (relevance order, no cursor)."""
        del relevance  # Crossref ranks by relevance whenever there is a query
        message = self.client.works(crossref_params(query, rows, _registry_cursor(cursor)))
        with reading(self.client.service, "a works page"):
            items = [i for i in message.get("items") or [] if isinstance(i, dict)]
        start = _offset(cursor)
        hits = _hits(items, start, crossref_hit)
        found = message.get("next-cursor")
        next_cursor = None
        # Crossref: follow next-cursor until a page comes back short.
        if cursor is not None and isinstance(found, str) and found and len(items) >= rows:
            next_cursor = _with_offset(found, start + len(items))
        total = message.get("total-results")
        return Page(hits, next_cursor, total if isinstance(total, int) else None)

    def close(self) -> None:
        self.client.http.close()


class DataCiteRegistry:
    """DataCite's ``/dois`` as pages of hits."""

    name = "datacite"
    first_cursor = "1"

    def __init__(self, client: DataCiteSearchClient) -> None:
        self.client = client

    def skip_reason(self, query: SearchQuery) -> str | None:
        del query
        return None

    def page(
        self, query: SearchQuery, rows: int, cursor: str | None, *, relevance: bool = False
    ) -> Page:
        """One page; ``cursor`` "1" starts cursor paging, None asks for the first page only
        (by relevance when ``relevance``)."""
        params = datacite_params(query, rows, _registry_cursor(cursor), relevance=relevance)
        body = self.client.dois(params)
        start = _offset(cursor)
        with reading(self.client.service, "a dois page"):
            items = [i for i in body.get("data") or [] if isinstance(i, dict)]
            next_link = (body.get("links") or {}).get("next")
            total = (body.get("meta") or {}).get("total")
        hits = _hits(items, start, datacite_hit)
        next_cursor = None
        if cursor is not None and isinstance(next_link, str) and items:
            found = parse_qs(urlsplit(next_link).query).get("page[cursor]")
            next_cursor = _with_offset(found[0], start + len(items)) if found else None
        return Page(hits, next_cursor, total if isinstance(total, int) else None)

    def close(self) -> None:
        self.client.http.close()
