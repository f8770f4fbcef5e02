"""CSL-JSON (one item, or a list whose first item is used) → Work."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from worker.metadata.adapters.common import (
    build_work,
    date_from_parts,
    date_from_text,
    load_json,
    reads,
    unhandled,
)
from worker.metadata.errors import InputError
from worker.metadata.types import FROM_CSL, ROLES, TYPES, ContributorRole, WorkType

if TYPE_CHECKING:
    from worker.metadata.work import Work

SOURCE = "csl"
_NAME_VARIABLES: dict[str, ContributorRole] = {
    row.csl: role for role, row in ROLES.items() if row.csl and role != ContributorRole.OTHER
}
_NAME_VARIABLES["contributor"] = ContributorRole.OTHER
_HANDLED = {
    "id", "type", "title", "title-short", "issued", "container-title", "volume", "issue", "page",
    "page-first", "ISSN", "ISBN", "publisher", "DOI", "URL", "abstract", "language", "keyword",
    "version", "genre", "event-title", "event", "event-place", *_NAME_VARIABLES,
}  # fmt: skip
_IGNORED = {"citation-key", "accessed", "source", "container-title-short", "journalAbbreviation"}


@reads(SOURCE)
def csl_to_work(data: Any) -> tuple[Work, list[str]]:
    """A Work from a CSL-JSON item (dict, list, or JSON text), and what was not represented."""
    if isinstance(data, (str, bytes)):
        data = load_json(data, SOURCE)
    problems: list[str] = []
    if isinstance(data, list):
        if not data:
            raise InputError(SOURCE, "an empty CSL-JSON list")
        if len(data) > 1:
            problems.append(f"{len(data) - 1} further item(s): only the first is read")
        data = data[0]
    if not isinstance(data, dict):
        raise InputError(SOURCE, "expected a CSL-JSON item (object)")
    problems += unhandled(data, _HANDLED, _IGNORED)
    work: dict[str, Any] = {
        "id": str(data.get("id") or data.get("DOI") or "csl-item"),
        "type": _work_type(data, problems),
        "title": data.get("title") or data.get("title-short"),
        "publication_date": date_from_parts(data.get("issued")) or _raw_date(data.get("issued")),
        "publisher": data.get("publisher"),
        "doi": data.get("DOI"),
        "url": data.get("URL"),
        "abstract": data.get("abstract"),
        "language": data.get("language"),
        "resource_version": _text(data.get("version")),
        "keywords": [k.strip() for k in re.split(r"[,;]", data.get("keyword") or "") if k.strip()],
        "contributors": _contributors(data, problems),
        "container": _container(data, problems),
        "event": _event(data),
    }
    clean = {key: value for key, value in work.items() if value not in (None, [], {})}
    return build_work(clean, problems, SOURCE), problems


def _text(value: Any) -> str | None:
    return str(value).strip() if value not in (None, "") else None


def _raw_date(value: Any) -> str | None:
    if isinstance(value, dict):
        return date_from_text(value.get("raw") or value.get("literal"))
    return date_from_text(value)


def _work_type(data: dict[str, Any], problems: list[str]) -> str:
    csl_type, genre = data.get("type"), (data.get("genre") or "").lower()
    for work_type, row in TYPES.items():
        if row.csl == csl_type and row.csl_genre and row.csl_genre.lower() == genre:
            return work_type.value
    if csl_type in FROM_CSL:
        return FROM_CSL[csl_type].value
    problems.append(f"type: CSL type {csl_type!r} has no Work type; read as 'other'")
    return WorkType.OTHER.value


def _contributors(data: dict[str, Any], problems: list[str]) -> list[dict[str, Any]]:
    contributors = []
    for variable, role in _NAME_VARIABLES.items():
        for index, name in enumerate(data.get(variable) or []):
            if not isinstance(name, dict):
                continue
            entry: dict[str, Any] = {"role": role.value}
            family, given = name.get("family"), name.get("given")
            if name.get("non-dropping-particle") and family:
                family = f"{name['non-dropping-particle']} {family}"
            if name.get("dropping-particle") and given:
                given = f"{given} {name['dropping-particle']}"
            if family:
                entry.update(type="person", family=family, given=given)
            else:
                entry.update(name=name.get("literal") or given)
            if name.get("suffix"):
                problems.append(f"{variable}[{index}].suffix: not represented")
            # doi.org's CSL (Crossref's citeproc JSON) carries each author's ORCID iD and
            # affiliations: enrichment keeps them (an invalid iD is dropped with a note)
            if family and isinstance(name.get("ORCID"), str):
                entry["orcid"] = name["ORCID"]
            if family and name.get("sequence") in ("first", "additional"):
                entry["sequence"] = name["sequence"]
            affiliations = [
                {"name": a["name"]}
                for a in name.get("affiliation") or []
                if isinstance(a, dict) and isinstance(a.get("name"), str) and a["name"].strip()
            ]
            if affiliations:
                entry["affiliations"] = affiliations
            contributors.append({k: v for k, v in entry.items() if v})
    return contributors


def _container(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    issns = [i.strip() for i in re.split(r"[,;\s]+", str(data.get("ISSN") or "")) if i.strip()]
    isbns = [i.strip() for i in re.split(r"[,;]", str(data.get("ISBN") or "")) if i.strip()]
    if len(issns) > 2:
        problems.append("ISSN: only two ISSNs are represented")
    if len(isbns) > 1:
        problems.append("ISBN: only the first ISBN is represented")
    container = {
        "title": data.get("container-title"),
        "volume": _text(data.get("volume")),
        "issue": _text(data.get("issue")),
        "pages": _text(data.get("page")) or _text(data.get("page-first")),
        "issn": issns[0] if issns else None,
        "eissn": issns[1] if len(issns) > 1 else None,
        "isbn": isbns[0] if isbns else None,
    }
    return {k: v for k, v in container.items() if v}


def _event(data: dict[str, Any]) -> dict[str, Any] | None:
    name = data.get("event-title") or (
        data.get("event") if isinstance(data.get("event"), str) else None
    )
    if not name:
        return None
    return {k: v for k, v in {"name": name, "location": data.get("event-place")}.items() if v}
