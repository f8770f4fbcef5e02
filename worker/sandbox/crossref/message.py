"""Deposited Crossref XML → the REST API's ``work`` message (CrossRef/rest-api-doc api_format.md).

Each ``<doi_data>`` in a deposit is one registered DOI; its parent element is the content item
(``journal_article``, ``posted_content``, ``dataset``, ...; a ``*_metadata`` parent stands for
its own parent). Elements are matched by local name, so 4.x and 5.x namespaces both work.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from lxml import etree

_TYPES = {
    "journal_article": "journal-article",
    "journal_issue": "journal-issue",
    "journal": "journal",
    "conference_paper": "proceedings-article",
    "proceedings": "proceedings",
    "conference": "proceedings",
    "book": "book",
    "content_item": "book-chapter",
    "dissertation": "dissertation",
    "report-paper": "report",
    "standard": "standard",
    "database": "database",
    "dataset": "dataset",
    "peer_review": "peer-review",
    "posted_content": "posted-content",
    "component": "component",
    "sa_component": "component",
    "grant": "grant",
    "pending_publication": "pending-publication",
}
_BOOK_TYPES = {
    "edited_book": "edited-book",
    "monograph": "monograph",
    "reference": "reference-book",
}
_CHAPTER_TYPES = {
    "chapter": "book-chapter",
    "section": "book-section",
    "part": "book-part",
    "track": "book-track",
    "reference_entry": "reference-entry",
}
SANDBOX_MEMBER = "98765"


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    text = " ".join("".join(element.itertext()).split())
    return text or None


def _find(element: etree._Element | None, path: str) -> etree._Element | None:
    if element is None:
        return None
    return element.find("/".join("{*}" + part for part in path.split("/")))


def _findall(element: etree._Element | None, path: str) -> list[etree._Element]:
    if element is None:
        return []
    return list(element.iterfind("/".join("{*}" + part for part in path.split("/"))))


def content_item(doi_data: etree._Element) -> etree._Element:
    """The element a ``doi_data`` registers (``journal_metadata`` → ``journal``)."""
    parent = doi_data.getparent()
    assert parent is not None
    if local(parent).endswith("_metadata") and parent.getparent() is not None:
        grand = parent.getparent()
        assert grand is not None
        return grand
    return parent


def record_xml(doi_data: etree._Element) -> str:
    """The deposited record of one DOI as UNIXREF shows it: the body-level element (e.g.
    ``<journal>`` with its metadata and issue) holding only this DOI's content item."""
    own_item = content_item(doi_data)
    top = own_item
    while (parent := top.getparent()) is not None and local(parent) != "body":
        top = parent
    if top is own_item:
        return etree.tostring(own_item, encoding="unicode")
    copy = etree.fromstring(etree.tostring(top))
    own_doi = _text(_find(doi_data, "doi"))
    own_copy = next(
        content_item(d) for d in copy.iter("{*}doi_data") if _text(_find(d, "doi")) == own_doi
    )
    for other in list(copy.iter("{*}doi_data")):
        item = content_item(other)
        parent = item.getparent()
        if item is not own_copy and local(item) == local(own_copy) and parent is not None:
            parent.remove(item)
    return etree.tostring(copy, encoding="unicode")


def work_type(item: etree._Element) -> str:
    name = local(item)
    if name == "book":
        return _BOOK_TYPES.get(item.get("book_type", ""), "book")
    if name == "content_item":
        return _CHAPTER_TYPES.get(item.get("component_type", ""), "other")
    return _TYPES.get(name, "other")


def _date_parts(element: etree._Element) -> list[int]:
    parts = []
    for name in ("year", "month", "day"):
        value = _text(_find(element, name))
        if value is None or not value.isdigit():
            break
        parts.append(int(value))
    return parts


def date_field(parts: list[int]) -> dict[str, Any]:
    return {"date-parts": [parts]}


def _stamp(when: float) -> dict[str, Any]:
    moment = datetime.fromtimestamp(when, UTC)
    return {
        "date-parts": [[moment.year, moment.month, moment.day]],
        "date-time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timestamp": int(when * 1000),
    }


def _contributors(item: etree._Element) -> dict[str, list[dict[str, Any]]]:
    roles: dict[str, list[dict[str, Any]]] = {}
    for person in _findall(item, "contributors/person_name"):
        entry: dict[str, Any] = {}
        if given := _text(_find(person, "given_name")):
            entry["given"] = given
        entry["family"] = _text(_find(person, "surname")) or ""
        if suffix := _text(_find(person, "suffix")):
            entry["suffix"] = suffix
        entry["sequence"] = person.get("sequence", "additional")
        affiliations = [_text(a) for a in _findall(person, "affiliation")]
        affiliations += [
            _text(a) for a in _findall(person, "affiliations/institution/institution_name")
        ]
        entry["affiliation"] = [{"name": a} for a in affiliations if a]
        if orcid := _text(_find(person, "ORCID")):
            entry["ORCID"] = orcid if orcid.startswith("http") else f"https://orcid.org/{orcid}"
            orcid_element = _find(person, "ORCID")
            entry["authenticated-orcid"] = (
                orcid_element is not None and orcid_element.get("authenticated") == "true"
            )
        roles.setdefault(person.get("contributor_role", "author"), []).append(entry)
    for org in _findall(item, "contributors/organization"):
        entry = {
            "name": _text(org) or "",
            "sequence": org.get("sequence", "additional"),
            "affiliation": [],
        }
        roles.setdefault(org.get("contributor_role", "author"), []).append(entry)
    return roles


def _container(item: etree._Element, message: dict[str, Any]) -> None:
    root_item = item.getparent()
    name = local(item)
    if name == "journal_article" and root_item is not None:
        journal_meta = _find(root_item, "journal_metadata")
        if title := _text(_find(journal_meta, "full_title")):
            message["container-title"] = [title]
        if abbrev := _text(_find(journal_meta, "abbrev_title")):
            message["short-container-title"] = [abbrev]
        issns = _findall(journal_meta, "issn")
        if issns:
            message["ISSN"] = [_text(i) for i in issns if _text(i)]
            message["issn-type"] = [
                {"type": i.get("media_type", "print"), "value": _text(i)} for i in issns if _text(i)
            ]
        issue = _find(root_item, "journal_issue")
        if volume := _text(_find(issue, "journal_volume/volume")):
            message["volume"] = volume
        if number := _text(_find(issue, "issue")):
            message["issue"] = number
    elif name == "conference_paper" and root_item is not None:
        if title := _text(_find(root_item, "proceedings_metadata/proceedings_title")):
            message["container-title"] = [title]
    elif name == "content_item" and root_item is not None:
        book_meta = _find(root_item, "book_metadata")
        if book_meta is None:
            book_meta = _find(root_item, "book_series_metadata")
        if title := _text(_find(book_meta, "titles/title")):
            message["container-title"] = [title]
        isbns = [_text(i) for i in _findall(book_meta, "isbn") if _text(i)]
        if isbns:
            message["ISBN"] = isbns
    elif name == "posted_content" and (group := _text(_find(item, "group_title"))):
        message["group-title"] = group
    first = _text(_find(item, "pages/first_page"))
    last = _text(_find(item, "pages/last_page"))
    if first:
        message["page"] = f"{first}-{last}" if last else first


def _dates(item: etree._Element, message: dict[str, Any]) -> None:
    candidates: list[list[int]] = []
    for date in _findall(item, "publication_date") + _findall(
        item, "database_date/publication_date"
    ):
        parts = _date_parts(date)
        if not parts:
            continue
        key = "published-online" if date.get("media_type") == "online" else "published-print"
        message.setdefault(key, date_field(parts))
        candidates.append(parts)
    for tag, key in (
        ("posted_date", "posted"),
        ("approval_date", "approved"),
        ("acceptance_date", "accepted"),
    ):
        found = _find(item, tag)
        if found is not None and (parts := _date_parts(found)):
            message[key] = date_field(parts)
            candidates.append(parts)
    if candidates:
        earliest = min(candidates)
        message["issued"] = date_field(earliest)
        message["published"] = date_field(earliest)
    else:
        message["issued"] = {"date-parts": [[None]]}


def _programs(item: etree._Element, message: dict[str, Any]) -> None:
    licenses = []
    for ref in _findall(item, "program/license_ref"):
        entry: dict[str, Any] = {"URL": _text(ref), "content-version": ref.get("applies_to", "vor")}
        if start := ref.get("start_date"):
            entry["start"] = {"date-parts": [[int(p) for p in start.split("-")]]}
        licenses.append(entry)
    if licenses:
        message["license"] = licenses
    funders = []
    for group in _findall(item, "program/assertion"):
        if group.get("name") != "fundgroup":
            continue
        funder: dict[str, Any] = {"award": []}
        for assertion in group.iter("{*}assertion"):
            name = assertion.get("name")
            if name == "funder_name":
                funder["name"] = (assertion.text or "").strip()
            elif name == "funder_identifier":
                funder["DOI"] = (assertion.text or "").strip().removeprefix("https://doi.org/")
            elif name == "award_number":
                funder["award"].append(_text(assertion))
        funders.append(funder)
    if funders:
        message["funder"] = funders
    relations: dict[str, list[dict[str, str]]] = {}
    for relation in _findall(item, "program/related_item/inter_work_relation") + _findall(
        item, "program/related_item/intra_work_relation"
    ):
        kind = relation.get("relationship-type", "references")
        relations.setdefault(kind, []).append(
            {
                "id-type": relation.get("identifier-type", "doi"),
                "id": _text(relation) or "",
                "asserted-by": "subject",
            }
        )
    message["relation"] = relations
    references = []
    for citation in _findall(item, "citation_list/citation"):
        entry = {"key": citation.get("key", "")}
        if doi := _text(_find(citation, "doi")):
            entry["DOI"] = doi
        if unstructured := _text(_find(citation, "unstructured_citation")):
            entry["unstructured"] = unstructured
        references.append(entry)
    message["reference-count"] = len(references)
    message["references-count"] = len(references)
    if references:
        message["reference"] = references


def work_message(
    doi_data: etree._Element,
    *,
    publisher: str,
    created: float | None = None,
    deposited: float | None = None,
) -> dict[str, Any]:
    """The REST ``work`` message for one deposited ``doi_data``."""
    item = content_item(doi_data)
    doi = (_text(_find(doi_data, "doi")) or "").strip()
    url = _text(_find(doi_data, "resource")) or ""
    now = time.time()
    message: dict[str, Any] = {
        "indexed": _stamp(now),
        "reference-count": 0,
        "publisher": publisher,
        "content-domain": {"domain": [], "crossmark-restriction": False},
        "DOI": doi.lower(),
        "type": work_type(item),
        "created": _stamp(created or now),
        "source": "Crossref",
        "is-referenced-by-count": 0,
        "prefix": doi.split("/", 1)[0],
        "member": SANDBOX_MEMBER,
        "deposited": _stamp(deposited or now),
        "score": 1,
        "resource": {"primary": {"URL": url}},
        "URL": f"https://doi.org/{doi.lower()}",
    }
    title_source = item if _find(item, "titles") is not None else doi_data.getparent()
    titles = [_text(t) for t in _findall(title_source, "titles/title")]
    for alternative in ("full_title", "proceedings_title"):
        titles += [_text(t) for t in _findall(doi_data.getparent(), alternative)]
    message["title"] = [t for t in titles if t]
    message["subtitle"] = [
        s for s in (_text(t) for t in _findall(title_source, "titles/subtitle")) if s
    ]
    for role, people in _contributors(item).items():
        message[
            {
                "author": "author",
                "editor": "editor",
                "chair": "chair",
                "translator": "translator",
            }.get(role, "author")
        ] = people
    _container(item, message)
    _dates(item, message)
    abstract = _find(item, "abstract")
    if abstract is not None:
        message["abstract"] = etree.tostring(abstract, encoding="unicode", with_tail=False)
    if language := item.get("language"):
        message["language"] = language
    if item.get("type") and local(item) == "posted_content":
        message["subtype"] = item.get("type")
    _programs(item, message)
    return message
