"""A Crossref REST ``work`` message → Work. Accepts the ``{"status", "message-type",
"message"}`` envelope and the bare message."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lxml import etree
from pydantic import ValidationError

from worker.metadata.adapters.common import (
    build_work,
    date_from_parts,
    first_text,
    load_json,
    reads,
    unhandled,
)
from worker.metadata.errors import InputError
from worker.metadata.render.crossref_parts import INTER_RELATIONS, INTRA_RELATIONS
from worker.metadata.types import FROM_CROSSREF_REST, OWN_ISBN_TYPES, WorkType
from worker.metadata.work import Review

if TYPE_CHECKING:
    from worker.metadata.work import Work

SOURCE = "crossref-json"
_ROLES = {"author": "author", "editor": "editor", "translator": "translator", "chair": "chair"}
_SUBTYPES = {
    "preprint": WorkType.PREPRINT, "working_paper": WorkType.WORKING_PAPER,
    "working-paper": WorkType.WORKING_PAPER, "report": WorkType.REPORT,
    "dissertation": WorkType.DISSERTATION, "other": WorkType.OTHER,
}  # fmt: skip
_HANDLED = {
    "DOI", "URL", "resource", "title", "subtitle", "container-title", "group-title", "ISSN",
    "issn-type", "ISBN", "isbn-type", "volume", "issue", "page", "publisher", "issued",
    "published", "published-print", "published-online", "posted", "approved", "author",
    "editor", "translator", "chair", "type", "subtype", "abstract", "language", "license",
    "funder", "subject", "relation", "event", "original-title", "short-title", "review",
    *_ROLES,
}  # fmt: skip
_IGNORED = {
    "indexed", "reference-count", "references-count", "is-referenced-by-count", "source",
    "prefix", "member", "score", "deposited", "created", "content-domain", "short-container-title",
    "link", "publisher-location", "reference", "update-policy", "institution", "accepted",
    "content-created", "journal-issue", "archive", "degree",
}  # fmt: skip
_ENVELOPE = {"status", "message-type", "message-version", "message"}
_ERROR_TYPES = ("validation-failure", "exception", "route-not-found")
_CAMEL_TO_DATACITE: dict[str, str] = {}
for _key, _camel in (INTER_RELATIONS | INTRA_RELATIONS).items():
    _CAMEL_TO_DATACITE.setdefault(_camel, _key)
_ID_TYPES = {"doi": "DOI", "uri": "URL", "issn": "ISSN", "isbn": "ISBN", "pmid": "PMID",
             "purl": "PURL", "arxiv": "arXiv", "ark": "ARK", "handle": "Handle"}  # fmt: skip


@reads(SOURCE)
def crossref_message_to_work(data: Any) -> tuple[Work, list[str]]:
    """A Work from a Crossref REST work message (or envelope, or JSON text)."""
    if isinstance(data, (str, bytes)):
        data = load_json(data, SOURCE)
    if isinstance(data, dict) and "message" in data and set(data) <= _ENVELOPE:
        data = _unwrap(data)
    if isinstance(data, list):
        raise InputError(SOURCE, f"a JSON list of {len(data)} items, not one Crossref work message")
    if not isinstance(data, dict):
        raise InputError(SOURCE, "expected a Crossref work message (object)")
    if isinstance(data.get("items"), list) and "title" not in data and "DOI" not in data:
        raise InputError(SOURCE, _list_message(data))
    problems = unhandled(data, _HANDLED, _IGNORED)
    lost_reference = data.get("reference")
    if lost_reference:
        problems.append(f"reference: {len(lost_reference)} cited references not represented")
    work: dict[str, Any] = {
        "id": data.get("DOI") or data.get("URL") or "crossref-record",
        "type": _work_type(data, problems),
        "title": first_text(data.get("title")),
        "subtitle": first_text(data.get("subtitle")),
        "publication_date": _date(data),
        "publisher": data.get("publisher"),
        "doi": data.get("DOI"),
        "url": ((data.get("resource") or {}).get("primary") or {}).get("URL") or data.get("URL"),
        "abstract": _abstract(data.get("abstract")),
        "language": data.get("language"),
        "keywords": [s for s in data.get("subject") or [] if isinstance(s, str)],
        "contributors": _contributors(data, problems),
        "container": _container(data),
        "event": _event(data.get("event")),
        "license": _license(data.get("license") or []),
        "rights": _further_licences(data.get("license") or []),
        "alternative_titles": _alternative_titles(data),
        "funding": _funding(data.get("funder") or []),
        "related_identifiers": _relations(data.get("relation") or {}, problems),
        "review": _review(data.get("review"), problems),
    }
    _further_isbns(work, data)
    clean = {key: value for key, value in work.items() if value not in (None, [], {})}
    return build_work(clean, problems, SOURCE), problems


def _texts(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [v.strip() for v in items if isinstance(v, str) and v.strip()]


def _alternative_titles(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Further titles (another main title: untyped), further subtitles, the original-language
    title and the short title: none is dropped."""
    titles: list[dict[str, Any]] = [
        {"title": t, "type": None} for t in _texts(data.get("title"))[1:]
    ]
    titles += [{"title": t, "type": "Subtitle"} for t in _texts(data.get("subtitle"))[1:]]
    titles += [{"title": t, "type": "Other"} for t in _texts(data.get("original-title"))]
    titles += [{"title": t, "type": "AlternativeTitle"} for t in _texts(data.get("short-title"))]
    return titles


def _further_licences(licenses: list[Any]) -> list[dict[str, Any]]:
    """Every licence but the one read as the Work's licence, as a rights entry."""
    urls = [lic.get("URL") for lic in licenses if isinstance(lic, dict) and lic.get("URL")]
    chosen = next(
        (lic.get("URL") for lic in licenses
         if isinstance(lic, dict) and lic.get("content-version") == "vor"),
        urls[0] if urls else None,
    )  # fmt: skip
    further = list(dict.fromkeys(url for url in urls if url != chosen))
    return [{"uri": url} for url in further]


def _further_isbns(work: dict[str, Any], data: dict[str, Any]) -> None:
    """ISBNs after the first (another format's): the work's own for a book, report or thesis
    (alternate identifiers), else the containing book's (IsPublishedIn)."""
    isbns = _texts(data.get("ISBN"))[1:]
    if not isbns:
        return
    if WorkType(work["type"]) in OWN_ISBN_TYPES:
        work["alternate_identifiers"] = [{"identifier": i, "type": "ISBN"} for i in isbns]
    else:
        work["related_identifiers"] = work["related_identifiers"] + [
            {"identifier": i, "identifier_type": "ISBN", "relation_type": "IsPublishedIn"}
            for i in isbns
        ]


def _unwrap(envelope: dict[str, Any]) -> Any:
    """The message of a ``{"status", "message-type", "message"}`` envelope, or InputError
    saying plainly what else it is (an error response, a list of works, another message)."""
    kind, status, message = (
        envelope.get("message-type"),
        envelope.get("status"),
        envelope["message"],
    )
    failed = status not in (None, "ok") or kind in _ERROR_TYPES
    if failed or not isinstance(message, dict):
        details = message if isinstance(message, list) else [message]
        said = "; ".join(
            str(d.get("message") or d.get("type") or d) if isinstance(d, dict) else str(d)
            for d in details
        )
        known = ", ".join(
            f"{name} {value!r}" for name, value in (("status", status), ("message-type", kind))
            if value is not None
        )  # fmt: skip
        raise InputError(
            SOURCE,
            f"a Crossref error response{f' ({known})' if known else ''}, not a work: {said}",
        )
    if kind == "work-list" or (
        isinstance(message, dict) and isinstance(message.get("items"), list)
    ):
        raise InputError(SOURCE, _list_message(message, kind))
    if kind not in (None, "work"):
        raise InputError(SOURCE, f"message-type {kind!r}, not 'work'")
    return message


def _list_message(message: Any, kind: str | None = "work-list") -> str:
    items = message.get("items") if isinstance(message, dict) else None
    count = f"{len(items)} items" if isinstance(items, list) else "a list"
    return (
        f"a Crossref {kind or 'work-list'} message ({count}), not a single work: give one of "
        "its items (message.items[i])"
    )


def _work_type(data: dict[str, Any], problems: list[str]) -> str:
    kind = data.get("type")
    if kind == "posted-content" and data.get("subtype") in _SUBTYPES:
        return _SUBTYPES[data["subtype"]].value
    if kind in FROM_CROSSREF_REST:
        return FROM_CROSSREF_REST[kind].value
    problems.append(f"type: Crossref type {kind!r} has no Work type; read as 'other'")
    return WorkType.OTHER.value


def _date(data: dict[str, Any]) -> str | None:
    for key in ("issued", "published", "published-online", "published-print", "posted", "approved"):
        value = date_from_parts(data.get(key))
        if value:
            return value
    return None


def _abstract(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    wrapped = (
        '<r xmlns:jats="http://www.ncbi.nlm.nih.gov/JATS1" '
        'xmlns:mml="http://www.w3.org/1998/Math/MathML">' + value + "</r>"
    )
    try:
        root = etree.fromstring(
            wrapped.encode(), etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError:
        return " ".join(re.sub(r"<[^>]+>", " ", value).split()) or None
    paragraphs = [" ".join("".join(p.itertext()).split()) for p in root.iter("{*}p")]
    paragraphs = [p for p in paragraphs if p and p.lower() != "abstract"]
    return "\n\n".join(paragraphs) or " ".join("".join(root.itertext()).split()) or None


def _contributors(data: dict[str, Any], problems: list[str]) -> list[dict[str, Any]]:
    contributors = []
    for key, role in _ROLES.items():
        for index, person in enumerate(data.get(key) or []):
            entry: dict[str, Any] = {"role": role, "sequence": person.get("sequence")}
            if person.get("family"):
                entry.update(type="person", given=person.get("given"), family=person["family"])
            else:
                entry["name"] = person.get("name")
            entry["orcid"] = person.get("ORCID")
            entry["affiliations"] = [_affiliation(a) for a in person.get("affiliation") or []]
            if person.get("suffix"):
                problems.append(f"{key}[{index}].suffix: not represented")
            contributors.append({k: v for k, v in entry.items() if v not in (None, [])})
    return contributors


def _affiliation(affiliation: dict[str, Any]) -> dict[str, Any]:
    entry = {"name": affiliation.get("name")}
    for identifier in affiliation.get("id") or []:
        if (identifier.get("id-type") or "").upper() == "ROR":
            entry["ror"] = identifier.get("id")
            break
    return {k: v for k, v in entry.items() if v}


def _container(data: dict[str, Any]) -> dict[str, Any]:
    typed = {i.get("type"): i.get("value") for i in data.get("issn-type") or []}
    issns = [i for i in data.get("ISSN") or [] if isinstance(i, str)]
    isbns = [i for i in data.get("ISBN") or [] if isinstance(i, str)]
    container = {
        "title": first_text(data.get("container-title")) or first_text(data.get("group-title")),
        "issn": typed.get("print") or (issns[0] if issns else None),
        "eissn": typed.get("electronic"),
        "isbn": isbns[0] if isbns else None,
        "volume": data.get("volume"),
        "issue": data.get("issue"),
        "pages": data.get("page"),
    }
    if container["eissn"] == container["issn"]:
        container["eissn"] = None
    return {k: v for k, v in container.items() if v}


def _event(event: Any) -> dict[str, Any] | None:
    if not isinstance(event, dict) or not event.get("name"):
        return None
    entry = {
        "name": event["name"],
        "acronym": event.get("acronym"),
        "location": event.get("location"),
        "start_date": date_from_parts(event.get("start")),
        "end_date": date_from_parts(event.get("end")),
    }
    return {k: v for k, v in entry.items() if v}


def _license(licenses: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not licenses:
        return None
    chosen = next((lic for lic in licenses if lic.get("content-version") == "vor"), licenses[0])
    return {"url": chosen.get("URL")} if chosen.get("URL") else None


def _funding(funders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    funding = []
    for funder in funders:
        base = {"funder_name": funder.get("name"), "funder_id": funder.get("DOI")}
        base = {k: v for k, v in base.items() if v}
        awards = [a for a in funder.get("award") or [] if isinstance(a, str) and a.strip()]
        funding += [{**base, "award_number": award} for award in awards] or [base]
    return funding


#: Crossref REST ``review`` keys → the Work's ``review`` fields.
_REVIEW_KEYS = {
    "stage": "stage",
    "type": "type",
    "recommendation": "recommendation",
    "revision-round": "revision_round",
}


def _review(value: Any, problems: list[str]) -> dict[str, Any] | None:
    """A peer review's ``review`` object (stage, type, recommendation, revision-round); a
    value outside Crossref's vocabulary is a problem line, not a silent drop."""
    if not isinstance(value, dict):
        return None
    review: dict[str, Any] = {}
    for key, field in _REVIEW_KEYS.items():
        item = value.get(key)
        if item in (None, ""):
            continue
        try:
            Review.model_validate({field: item})
        except ValidationError:
            problems.append(f"review.{key}: {item!r} not represented")
            continue
        review[field] = int(item) if field == "revision_round" else item
    problems.extend(
        f"review.{key}: not represented" for key in sorted(set(value) - set(_REVIEW_KEYS))
    )
    return review or None


def _relations(relations: dict[str, Any], problems: list[str]) -> list[dict[str, Any]]:
    related = []
    for key, items in relations.items():
        camel = re.sub(r"-(\w)", lambda m: m.group(1).upper(), key)
        relation = _CAMEL_TO_DATACITE.get(camel)
        for item in items if isinstance(items, list) else []:
            id_type = _ID_TYPES.get((item.get("id-type") or "").lower())
            if relation is None or id_type is None:
                problems.append(f"relation.{key}: {item.get('id')} not represented")
                continue
            related.append(
                {
                    "identifier": item.get("id"),
                    "identifier_type": id_type,
                    "relation_type": relation,
                }
            )
    return related
