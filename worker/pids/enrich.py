"""Enrichment: fill what an event's Work leaves out from the DOI's own metadata.

Interface (the lead wires it into ``work.published`` handling, before ORCID placement)::

    enrich_work(data: dict, negotiator: Negotiator) -> tuple[dict, list[str]]

``data`` is the event's Work as JSON data (it need not be complete or valid yet) carrying a
``doi``. The DOI's metadata is fetched as CSL-JSON by content negotiation
(:meth:`worker.pids.negotiation.Negotiator.resolve`), read into a Work by
:func:`worker.metadata.adapters.csl_to_work`, and each field the event lacks (absent, null,
empty string, list or object) is filled from it. What the event says is never overwritten.
The answer is a new dict (``data`` is not changed) and the dotted names of the filled fields,
e.g. ``["publisher", "container.volume", "contributors"]``; an empty list means nothing was
missing or the DOI had nothing more to say.

Rules beyond "fill what is missing":

- Never touched: ``id``, ``doi``, ``registration``, ``version`` (identity and intent belong to
  the emitting system).
- ``url`` is not filled with a doi.org address (a landing page is wanted, not the DOI again).
- ``container``: absent → taken whole; present → its missing parts are filled only when the
  two containers are the same (same normalised title, or the event's has no title); the page
  fields (``pages``, ``first_page``, ``last_page``) are filled only as a group, when the event
  has none of them.
- ``contributors``: absent → taken whole; present → kept as they are, except that when both
  lists name the same people in the same order (family names equal, accents and case aside)
  each person's missing ``given``, ``orcid`` and ``affiliations`` are filled
  (``contributors[0].given``...).

Errors propagate from the negotiator: :class:`~worker.pids.negotiation.DoiNotFound`,
:class:`~worker.pids.negotiation.FormatNotOffered` and
:class:`~worker.pids.negotiation.NoMetadata` are permanent (place the work as it is and record
why), timeouts and outages are transient (retry). A ``data`` without a valid ``doi`` raises
:class:`~worker.pids.identifiers.InvalidIdentifier`; metadata that cannot be read at all raises
:class:`~worker.metadata.errors.MetadataError`.
"""

from __future__ import annotations

import copy
import unicodedata
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from worker.pids.identifiers import InvalidIdentifier, normalize_doi

if TYPE_CHECKING:
    from worker.pids.negotiation import Negotiator

NEVER_FILLED = frozenset({"id", "doi", "registration", "version"})
_PAGE_FIELDS = ("pages", "first_page", "last_page")
_PERSON_FIELDS = ("given", "orcid", "affiliations")
_DOI_HOSTS = frozenset({"doi.org", "dx.doi.org", "www.doi.org"})


def enrich_work(data: dict[str, Any], negotiator: Negotiator) -> tuple[dict[str, Any], list[str]]:
    """``data`` with its missing fields filled from the DOI's CSL-JSON, and their names."""
    from worker.metadata.adapters import csl_to_work
    from worker.metadata.work import work_to_json

    raw_doi = data.get("doi")
    if not isinstance(raw_doi, str) or not raw_doi.strip():
        raise InvalidIdentifier("doi", str(raw_doi or ""), "enrichment needs the work's doi")
    doi = normalize_doi(raw_doi)
    answer = negotiator.resolve(doi, "csl")
    work, _notes = csl_to_work(answer.text)  # not JSON: InputError
    found = work_to_json(work)
    return fill_missing(data, found)


def fill_missing(data: dict[str, Any], found: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``data`` with what it lacks taken from ``found`` (both Work JSON), by the rules above."""
    result = copy.deepcopy(data)
    filled: list[str] = []
    for key, value in found.items():
        if key in NEVER_FILLED or _missing(value):
            continue
        current = result.get(key)
        if key == "url" and _is_doi_url(value):
            continue
        if _missing(current):
            result[key] = copy.deepcopy(value)
            filled.append(key)
        elif key == "container" and isinstance(current, dict) and isinstance(value, dict):
            filled += _fill_container(current, value)
        elif key == "contributors" and isinstance(current, list) and isinstance(value, list):
            filled += _fill_people(current, value)
    return result, filled


def _missing(value: Any) -> bool:
    return value is None or value in ("", [], {}) or (isinstance(value, str) and not value.strip())


def _is_doi_url(value: Any) -> bool:
    return isinstance(value, str) and (urlsplit(value).hostname or "").lower() in _DOI_HOSTS


def _fold(text: Any) -> str:
    """Lower case, accents and punctuation removed, spaces collapsed."""
    if not isinstance(text, str):
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in plain.casefold()).split())


def _fill_container(current: dict[str, Any], found: dict[str, Any]) -> list[str]:
    title = current.get("title")
    if not _missing(title) and _fold(title) != _fold(found.get("title")):
        return []  # a different container: nothing of it belongs to the event's
    filled = []
    pages_given = any(not _missing(current.get(name)) for name in _PAGE_FIELDS)
    for key, value in found.items():
        if _missing(value) or not _missing(current.get(key)):
            continue
        if key in _PAGE_FIELDS and pages_given:
            continue
        current[key] = copy.deepcopy(value)
        filled.append(f"container.{key}")
    return filled


def _family(person: Any) -> str:
    if not isinstance(person, dict):
        return ""
    return _fold(person.get("family") or person.get("name"))


def _fill_people(current: list[Any], found: list[Any]) -> list[str]:
    if len(current) != len(found):
        return []
    pairs = list(zip(current, found, strict=True))
    if not all(_family(mine) and _family(mine) == _family(theirs) for mine, theirs in pairs):
        return []
    filled = []
    for index, (mine, theirs) in enumerate(pairs):
        if _missing(mine.get("family")):
            continue  # a literal name: no given/orcid to add to it safely
        for key in _PERSON_FIELDS:
            value = theirs.get(key)
            if not _missing(value) and _missing(mine.get(key)):
                mine[key] = copy.deepcopy(value)
                filled.append(f"contributors[{index}].{key}")
    return filled
