"""What to look for, and how each registry is asked for it.

Crossref REST ``/works``: ``query`` (the free text), ``query.bibliographic`` (title),
``query.author``, ``filter`` (``type:``, ``from-pub-date:``/``until-pub-date:``), ``select``
(only what a hit needs), ``rows`` and ``cursor``. DataCite ``/dois``: one Elasticsearch query
string (the free text as given, field clauses ANDed), ``resource-type-id``, ``page[size]``,
``page[cursor]`` and ``sort=relevance`` for a single page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.metadata.types import TYPES, WorkType

MAX_ROWS = 1000  # both registries cap a page at 1,000


@dataclass(frozen=True)
class SearchQuery:
    """What to look for. ``any_title_words`` makes DataCite match any significant word of the
    title (the duplicate guard ranks candidates itself) instead of all of them."""

    text: str | None = None
    title: str | None = None
    author: str | None = None
    year: int | None = None
    type: str | None = None  # a pidsync WorkType value
    any_title_words: bool = False

    def __post_init__(self) -> None:
        if self.type is not None and self.type not in {t.value for t in WorkType}:
            raise ValueError(f"unknown work type {self.type!r}")

    @property
    def is_empty(self) -> bool:
        return not any((self.text, self.title, self.author, self.year, self.type))


_WORD = re.compile(r"\w+", re.UNICODE)
_TAG = re.compile(r"<[^>]+>")
_STOPWORDS = frozenset(
    ("a", "an", "and", "are", "as", "at", "be", "by", "de", "der", "die", "for", "from", "in",
     "into", "is", "la", "le", "of", "on", "or", "the", "to", "und", "with"),
)  # fmt: skip


def significant_words(text: str) -> list[str]:
    """The words of ``text`` worth searching for (no stopwords, no single letters), in order."""
    seen: list[str] = []
    for word in _WORD.findall(_TAG.sub(" ", text).lower()):
        if len(word) > 1 and word not in _STOPWORDS and word not in seen:
            seen.append(word)
    return seen


# --- Crossref ----------------------------------------------------------------------------------

#: pidsync Work type → the Crossref REST ``type`` filter value (None: Crossref has no such type).
CROSSREF_TYPE_FILTER: dict[str, str | None] = {
    WorkType.JOURNAL_ARTICLE: "journal-article",
    WorkType.PREPRINT: "posted-content",
    WorkType.BOOK: "book",
    WorkType.BOOK_CHAPTER: "book-chapter",
    WorkType.EDITED_BOOK: "edited-book",
    WorkType.CONFERENCE_PAPER: "proceedings-article",
    WorkType.DATASET: "dataset",
    WorkType.SOFTWARE: None,
    WorkType.REPORT: "report",
    WorkType.DISSERTATION: "dissertation",
    WorkType.WORKING_PAPER: "posted-content",
    WorkType.POSTER: "posted-content",
    WorkType.PRESENTATION: "posted-content",
    WorkType.OTHER: "other",
    WorkType.REFERENCE_BOOK: "reference-book",
    WorkType.PEER_REVIEW: "peer-review",
    WorkType.COMPONENT: "component",
}

#: ``select``: only what a hit needs (full records carry reference lists); every name is one
#: Crossref's select accepts (a name it does not know is a 400).
CROSSREF_FIELDS = (
    "DOI,title,subtitle,author,issued,published-print,published-online,type,container-title,score"
)


def crossref_skip_reason(query: SearchQuery) -> str | None:
    """Why Crossref cannot answer ``query`` at all (a type it does not have), else None."""
    if query.type is not None and CROSSREF_TYPE_FILTER[query.type] is None:
        return f"crossref has no {query.type} type; searched datacite only"
    return None


def crossref_params(query: SearchQuery, rows: int, cursor: str | None) -> dict[str, str]:
    """The ``/works`` query string (Crossref ranks by relevance whenever there is a query)."""
    params = {"rows": str(rows), "select": CROSSREF_FIELDS}
    if cursor is not None:
        params["cursor"] = cursor
    if query.text:
        params["query"] = query.text
    if query.title:
        params["query.bibliographic"] = query.title
    if query.author:
        params["query.author"] = query.author
    filters = []
    if query.type is not None:
        kind = CROSSREF_TYPE_FILTER[query.type]
        if kind is not None:
            filters.append(f"type:{kind}")
    if query.year is not None:
        filters += [f"from-pub-date:{query.year}", f"until-pub-date:{query.year}"]
    if filters:
        params["filter"] = ",".join(filters)
    return params


# --- DataCite ----------------------------------------------------------------------------------


def datacite_query_string(query: SearchQuery) -> str | None:
    """The Elasticsearch query string: the free text as given, field clauses ANDed."""
    clauses = []
    if query.text:
        clauses.append(f"({query.text})")
    if query.title:
        words = significant_words(query.title) or _WORD.findall(query.title.lower())
        joiner = " OR " if query.any_title_words else " AND "
        if words:
            clauses.append(f"titles.title:({joiner.join(words)})")
    if query.author:
        words = _WORD.findall(query.author.lower())
        if words:
            clauses.append(f"creators.name:({' AND '.join(words)})")
    if query.year is not None:
        clauses.append(f"publicationYear:{query.year}")
    return " AND ".join(clauses) or None


def datacite_params(
    query: SearchQuery, rows: int, cursor: str | None, *, relevance: bool
) -> dict[str, str]:
    """The ``/dois`` query string; ``cursor`` "1" starts cursor paging, None asks for the
    first page only (by relevance when ``relevance``)."""
    params = {"page[size]": str(rows)}
    text = datacite_query_string(query)
    if text:
        params["query"] = text
    if query.type is not None:
        params["resource-type-id"] = TYPES[WorkType(query.type)].datacite_general
    if cursor is not None:
        params["page[cursor]"] = cursor
    elif relevance and text:
        params["sort"] = "relevance"
    return params
