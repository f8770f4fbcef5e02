"""Work → ORCID v3.0 work JSON (``application/vnd.orcid+json``) and the bulk form.

Requires nothing beyond a valid Work: the title and type always exist, and the ``self``
external ids always include ``source-work-id`` = ``<source>:<id>`` (plus the DOI when there is
one), so works without DOIs can still be matched. ORCID's limits are applied, never exceeded:
title, subtitle and journal-title are cut to 1000 characters, short-description to 5000,
credit-name to 150; a publication year outside 1900-2100 (ORCID's range) and a language ORCID
does not list are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worker.metadata.errors import Unrepresentable
from worker.metadata.render.bibtex import render_bibtex
from worker.metadata.render.common import paragraphs, sequences, truncate
from worker.metadata.types import ROLES, WorkType, mapping

if TYPE_CHECKING:
    from collections.abc import Sequence

    from worker.metadata.work import Work

BULK_MAX = 100
TITLE_MAX = 1000
SHORT_DESCRIPTION_MAX = 5000
CREDIT_NAME_MAX = 150

ORCID_LANGUAGES = frozenset((
    "ab", "aa", "af", "ak", "sq", "am", "ar", "an", "hy", "as", "av", "ae", "ay", "az", "bm",
    "ba", "eu", "be", "bn", "bh", "bi", "bs", "br", "bg", "my", "ca", "ch", "ce", "zh_CN",
    "zh_TW", "cu", "cv", "kw", "co", "cr", "hr", "cs", "da", "dv", "nl", "dz", "en", "eo", "et",
    "ee", "fo", "fj", "fi", "fr", "fy", "ff", "gl", "lg", "ka", "de", "el", "kl", "gn", "gu",
    "ht", "ha", "iw", "hz", "hi", "ho", "hu", "is", "io", "ig", "in", "ia", "ie", "iu", "ik",
    "ga", "it", "ja", "jv", "kn", "kr", "ks", "kk", "km", "ki", "rw", "ky", "kv", "kg", "ko",
    "ku", "kj", "lo", "la", "lv", "li", "ln", "lt", "lu", "lb", "mk", "mg", "ms", "ml", "mt",
    "gv", "mi", "mr", "mh", "mo", "mn", "na", "nv", "ng", "ne", "nd", "se", "no", "nb", "nn",
    "ny", "oc", "oj", "or", "om", "os", "pi", "pa", "fa", "pl", "pt", "ps", "qu", "rm", "ro",
    "rn", "ru", "sm", "sg", "sa", "sc", "gd", "sr", "sn", "ii", "sd", "si", "sk", "sl", "so",
    "nr", "st", "es", "su", "sw", "ss", "sv", "tl", "ty", "tg", "ta", "tt", "te", "th", "bo",
    "ti", "to", "ts", "tn", "tr", "tk", "tw", "ug", "uk", "ur", "uz", "ve", "vi", "vo", "wa",
    "cy", "wo", "xh", "ji", "yo", "za", "zu",
))  # fmt: skip
# ORCID keeps Java's legacy codes for Hebrew, Indonesian and Yiddish.
_LEGACY = {"he": "iw", "id": "in", "yi": "ji"}
_CONFERENCE_TYPES = (WorkType.CONFERENCE_PAPER, WorkType.POSTER, WorkType.PRESENTATION)


def orcid_language(tag: str | None) -> str | None:
    """ORCID's language-code for a language tag, or None when ORCID has none for it."""
    if not tag:
        return None
    primary, *rest = tag.split("-")
    if primary == "zh":
        return "zh_TW" if rest and rest[0].upper() in ("TW", "HK", "MO", "HANT") else "zh_CN"
    code = _LEGACY.get(primary, primary)
    return code if code in ORCID_LANGUAGES else None


def source_work_id(source: str, work_id: str) -> str:
    return f"{source}:{work_id}"


def self_external_ids(work: Work, source: str) -> list[dict[str, Any]]:
    """The ``self`` external ids pidsync always writes: the DOI if any, and source-work-id."""
    ids: list[dict[str, Any]] = []
    if work.doi:
        ids.append(_external_id("doi", work.doi, "self", "https://doi.org/" + work.doi))
    ids.append(_external_id("source-work-id", source_work_id(source, work.id), "self"))
    return ids


def _external_id(
    kind: str, value: str, relationship: str, url: str | None = None
) -> dict[str, Any]:
    external_id: dict[str, Any] = {"external-id-type": kind, "external-id-value": value}
    if url:
        external_id["external-id-url"] = {"value": url}
    external_id["external-id-relationship"] = relationship
    return external_id


def render_orcid_work(work: Work, *, source: str, put_code: int | None = None) -> dict[str, Any]:
    """The ORCID work JSON for ``work`` emitted by ``source`` (``put_code`` for a PUT)."""
    if not source:
        raise Unrepresentable("orcid", [("source", "an event source is needed for source-work-id")])
    title: dict[str, Any] = {"title": {"value": truncate(work.title, TITLE_MAX)}}
    if work.subtitle:
        title["subtitle"] = {"value": truncate(work.subtitle, TITLE_MAX)}
    translated = _translated_title(work)
    if translated:
        title["translated-title"] = translated
    body: dict[str, Any] = {"put-code": put_code} if put_code is not None else {}
    body["title"] = title
    journal = _journal_title(work)
    if journal:
        body["journal-title"] = {"value": truncate(journal, TITLE_MAX)}
    if work.abstract:
        text = "\n\n".join(paragraphs(work.abstract))
        body["short-description"] = truncate(text, SHORT_DESCRIPTION_MAX)
    body["citation"] = {"citation-type": "bibtex", "citation-value": render_bibtex(work)}
    body["type"] = mapping(work.type).orcid
    date = _publication_date(work)
    if date:
        body["publication-date"] = date
    body["external-ids"] = {"external-id": self_external_ids(work, source) + _part_of(work)}
    url = work.url or (f"https://doi.org/{work.doi}" if work.doi else None)
    if url:
        body["url"] = {"value": url}
    if work.contributors:
        body["contributors"] = {"contributor": _contributors(work)}
    language = orcid_language(work.language)
    if language:
        body["language-code"] = language
    return body


def orcid_truncations(work: Work) -> list[str]:
    """What :func:`render_orcid_work` cuts or leaves out of ``work`` to stay within ORCID's
    limits, one line each (empty when nothing), so a caller can say so."""
    notes: list[str] = []

    def cut(path: str, text: str | None, limit: int) -> None:
        if text is not None and len(text) > limit:
            notes.append(f"{path}: {len(text)} characters cut to {limit} (ORCID's limit)")

    cut("title", work.title, TITLE_MAX)
    cut("subtitle", work.subtitle, TITLE_MAX)
    translated = next(
        (i for i, alt in enumerate(work.alternative_titles)
         if alt.type == "TranslatedTitle" and orcid_language(alt.language)),
        None,
    )  # fmt: skip
    if translated is not None:
        alt = work.alternative_titles[translated]
        cut(f"alternative_titles[{translated}].title", alt.title, TITLE_MAX)
    from_event = work.type in _CONFERENCE_TYPES and work.event is not None
    cut("event.name" if from_event else "container.title", _journal_title(work), TITLE_MAX)
    if work.abstract:
        cut("abstract", "\n\n".join(paragraphs(work.abstract)), SHORT_DESCRIPTION_MAX)
    for index, contributor in enumerate(work.contributors):
        cut(f"contributors[{index}] (credit-name)", contributor.full_name, CREDIT_NAME_MAX)
    parts = work.date_parts()
    if parts and not 1900 <= parts[0] <= 2100:
        notes.append(
            f"publication_date: {work.publication_date} left out (ORCID takes years 1900-2100)"
        )
    if work.language and orcid_language(work.language) is None:
        notes.append(f"language: {work.language!r} left out (not in ORCID's language list)")
    return notes


def render_orcid_bulk(works: Sequence[Work], *, source: str) -> dict[str, Any]:
    """``{"bulk": [{"work": ...}, ...]}`` for at most 100 works (ORCID's limit)."""
    check_bulk_size(len(works))
    return {"bulk": [{"work": render_orcid_work(work, source=source)} for work in works]}


def check_bulk_size(count: int) -> None:
    if count > BULK_MAX:
        raise Unrepresentable(
            "orcid", [("bulk", f"{count} works; ORCID takes at most {BULK_MAX} per request")]
        )


def _translated_title(work: Work) -> dict[str, Any] | None:
    for alt in work.alternative_titles:
        language = orcid_language(alt.language)
        if alt.type == "TranslatedTitle" and language:
            return {"value": truncate(alt.title, TITLE_MAX), "language-code": language}
    return None


def _journal_title(work: Work) -> str | None:
    if work.type in _CONFERENCE_TYPES and work.event:
        return work.event.name
    return work.container.title if work.container else None


def _publication_date(work: Work) -> dict[str, Any] | None:
    parts = work.date_parts()
    if not parts or not 1900 <= parts[0] <= 2100:
        return None
    names = ("year", "month", "day")
    return {
        name: {"value": f"{part:04d}" if name == "year" else f"{part:02d}"}
        for name, part in zip(names, parts, strict=False)
    }


def _part_of(work: Work) -> list[dict[str, Any]]:
    container = work.container
    if container is None:
        return []
    if work.type == WorkType.JOURNAL_ARTICLE and (container.issn or container.eissn):
        issn = container.issn or container.eissn or ""
        return [
            _external_id("issn", issn, "part-of", f"https://portal.issn.org/resource/ISSN/{issn}")
        ]
    if work.type in (WorkType.BOOK_CHAPTER, WorkType.CONFERENCE_PAPER) and container.isbn:
        return [_external_id("isbn", container.isbn, "part-of")]
    return []


def _contributors(work: Work) -> list[dict[str, Any]]:
    contributors = []
    by_role: dict[str, list[int]] = {}
    for index, contributor in enumerate(work.contributors):
        by_role.setdefault(contributor.role, []).append(index)
    sequence_of: dict[int, str] = {}
    for indexes in by_role.values():
        group = [work.contributors[i] for i in indexes]
        sequence_of.update(zip(indexes, sequences(group), strict=True))
    for index, contributor in enumerate(work.contributors):
        entry: dict[str, Any] = {}
        if contributor.orcid:
            entry["contributor-orcid"] = {
                "uri": "https://orcid.org/" + contributor.orcid,
                "path": contributor.orcid,
                "host": "orcid.org",
            }
        entry["credit-name"] = {"value": truncate(contributor.full_name, CREDIT_NAME_MAX)}
        attributes = {"contributor-sequence": sequence_of[index]}
        role = ROLES[contributor.role].orcid
        if role:
            attributes["contributor-role"] = role
        entry["contributor-attributes"] = attributes
        contributors.append(entry)
    return contributors
