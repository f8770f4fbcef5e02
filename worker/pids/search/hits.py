"""The normalised result: one :class:`SearchHit` shape whichever registry answered.

``doi``, ``title``, ``authors`` (the first three, "Family, Given"), ``author_count``, ``year``,
``type`` (pidsync's Work type), ``registry_type`` (the registry's own), ``container``,
``agency`` (``crossref`` | ``datacite``), ``score`` (Crossref's relevance score; DataCite's API
gives none, so None) and ``rank`` (position in its registry's answer, 1-based).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from worker.metadata.types import FROM_CROSSREF_REST, FROM_DATACITE_GENERAL, TYPES, WorkType
from worker.pids.identifiers import InvalidIdentifier, normalize_doi

FIRST_AUTHORS = 3


@dataclass
class SearchHit:
    """One record, in the same shape whichever registry answered."""

    doi: str
    title: str | None
    authors: list[str]
    author_count: int
    year: int | None
    type: str
    registry_type: str | None
    container: str | None
    agency: str
    score: float | None
    rank: int
    author_families: list[str] = field(default_factory=list, repr=False)
    subtitle: str | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["author_families"], data["subtitle"]
        return data


_CROSSREF_SUBTYPES = {
    "preprint": WorkType.PREPRINT,
    "working_paper": WorkType.WORKING_PAPER,
    "working-paper": WorkType.WORKING_PAPER,
    "report": WorkType.REPORT,
    "dissertation": WorkType.DISSERTATION,
    "other": WorkType.OTHER,
}
_TAG = re.compile(r"<[^>]+>")


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if isinstance(value, str) and value.strip():
        return " ".join(html.unescape(_TAG.sub("", value)).split())
    return None


def _person(family: Any, given: Any, name: Any) -> tuple[str, str] | None:
    """(display "Family, Given", family or name) of one creator, or None."""
    if isinstance(family, str) and family.strip():
        family = family.strip()
        shown = f"{family}, {given.strip()}" if isinstance(given, str) and given.strip() else family
        return shown, family
    if isinstance(name, str) and name.strip():
        return name.strip(), name.split(",")[0].strip()
    return None


def _year(value: Any) -> int | None:
    try:
        year = int(str(value)[:4])
    except (TypeError, ValueError):
        return None
    return year if 1000 <= year <= 9999 else None


def _clean_doi(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return normalize_doi(value)
    except InvalidIdentifier:
        return None


def crossref_hit(item: Mapping[str, Any], rank: int) -> SearchHit | None:
    """A Crossref REST work item as a :class:`SearchHit` (None without a usable DOI)."""
    doi = _clean_doi(item.get("DOI"))
    if doi is None:
        return None
    people = [
        _person(a.get("family"), a.get("given"), a.get("name"))
        for a in item.get("author") or []
        if isinstance(a, dict)
    ]
    names = [p for p in people if p is not None]
    year = None
    for key in ("issued", "published", "published-print", "published-online", "created"):
        parts = (item.get(key) or {}).get("date-parts") or [[None]]
        year = _year(parts[0][0] if parts and parts[0] else None)
        if year is not None:
            break
    kind = item.get("type")
    work_type: WorkType = WorkType.OTHER
    if kind == "posted-content" and item.get("subtype") in _CROSSREF_SUBTYPES:
        work_type = _CROSSREF_SUBTYPES[item["subtype"]]
    elif kind in FROM_CROSSREF_REST:
        work_type = FROM_CROSSREF_REST[kind]
    score = item.get("score")
    return SearchHit(
        doi=doi,
        title=_first(item.get("title")),
        authors=[shown for shown, _ in names[:FIRST_AUTHORS]],
        author_count=len(names),
        year=year,
        type=work_type.value,
        registry_type=kind if isinstance(kind, str) else None,
        container=_first(item.get("container-title")),
        agency="crossref",
        score=float(score) if isinstance(score, int | float) else None,
        rank=rank,
        author_families=[family for _, family in names],
        subtitle=_first(item.get("subtitle")),
    )


def datacite_hit(item: Mapping[str, Any], rank: int) -> SearchHit | None:
    """A DataCite ``/dois`` data item as a :class:`SearchHit` (None without a usable DOI)."""
    attributes = item.get("attributes") or {}
    doi = _clean_doi(attributes.get("doi") or item.get("id"))
    if doi is None:
        return None
    people = [
        _person(c.get("familyName"), c.get("givenName"), c.get("name"))
        for c in attributes.get("creators") or []
        if isinstance(c, dict)
    ]
    names = [p for p in people if p is not None]
    titles = [t for t in attributes.get("titles") or [] if isinstance(t, dict)]
    main = [t.get("title") for t in titles if not t.get("titleType")]
    subtitles = [t.get("title") for t in titles if t.get("titleType") == "Subtitle"]
    types = attributes.get("types") or {}
    general = types.get("resourceTypeGeneral")
    specific = str(types.get("resourceType") or "").strip().lower()
    work_type = next(
        (
            wt
            for wt, row in TYPES.items()
            if row.datacite_general == general and row.datacite_type.lower() == specific
        ),
        FROM_DATACITE_GENERAL.get(general, WorkType.OTHER) if general else WorkType.OTHER,
    )
    container = attributes.get("container") or {}
    return SearchHit(
        doi=doi,
        title=_first(main or [t.get("title") for t in titles]),
        authors=[shown for shown, _ in names[:FIRST_AUTHORS]],
        author_count=len(names),
        year=_year(attributes.get("publicationYear")),
        type=work_type.value,
        registry_type=general if isinstance(general, str) else None,
        container=_first(container.get("title")) if isinstance(container, dict) else None,
        agency="datacite",
        score=None,
        rank=rank,
        author_families=[family for _, family in names],
        subtitle=_first(subtitles),
    )
