"""Work → ORCID v3.0 work XML (``application/vnd.orcid+xml``), valid against work-3.0.xsd,
and the bulk form (bulk-3.0.xsd). Built from the JSON form, so both always say the same; the
same rules apply (see ``orcid_json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lxml import etree

from worker.metadata.render.common import XML_DECLARATION
from worker.metadata.render.orcid_json import check_bulk_size, render_orcid_work

if TYPE_CHECKING:
    from collections.abc import Sequence

    from worker.metadata.work import Work

WORK_NS = "http://www.orcid.org/ns/work"
COMMON_NS = "http://www.orcid.org/ns/common"
BULK_NS = "http://www.orcid.org/ns/bulk"
_W = "{" + WORK_NS + "}"
_C = "{" + COMMON_NS + "}"
NSMAP = {"work": WORK_NS, "common": COMMON_NS}


def render_orcid_xml(work: Work, *, source: str, put_code: int | None = None) -> str:
    """The ORCID work XML for ``work`` emitted by ``source``."""
    root = orcid_json_to_element(render_orcid_work(work, source=source, put_code=put_code))
    return XML_DECLARATION + etree.tostring(root, encoding="unicode")


def render_orcid_bulk_xml(works: Sequence[Work], *, source: str) -> str:
    check_bulk_size(len(works))
    root = etree.Element("{" + BULK_NS + "}bulk", nsmap={"bulk": BULK_NS, **NSMAP})
    for work in works:
        root.append(orcid_json_to_element(render_orcid_work(work, source=source)))
    return XML_DECLARATION + etree.tostring(root, encoding="unicode")


def orcid_json_to_element(body: dict[str, Any]) -> etree._Element:
    """The ``<work:work>`` element for an ORCID work JSON body as pidsync writes it."""
    root = etree.Element(_W + "work", nsmap=NSMAP)
    if body.get("put-code") is not None:
        root.set("put-code", str(body["put-code"]))
    _title(_sub(root, _W + "title"), body["title"])
    if "journal-title" in body:
        _sub(root, _W + "journal-title", body["journal-title"]["value"])
    if "short-description" in body:
        _sub(root, _W + "short-description", body["short-description"])
    if "citation" in body:
        citation = _sub(root, _W + "citation")
        _sub(citation, _W + "citation-type", body["citation"]["citation-type"])
        _sub(citation, _W + "citation-value", body["citation"]["citation-value"])
    _sub(root, _W + "type", body["type"])
    if "publication-date" in body:
        date = _sub(root, _C + "publication-date")
        for part, value in body["publication-date"].items():
            _sub(date, _C + part, value["value"])
    _external_ids(_sub(root, _C + "external-ids"), body["external-ids"]["external-id"])
    if "url" in body:
        _sub(root, _C + "url", body["url"]["value"])
    if "contributors" in body:
        _contributors(_sub(root, _W + "contributors"), body["contributors"]["contributor"])
    if "language-code" in body:
        _sub(root, _C + "language-code", body["language-code"])
    return root


def _title(element: etree._Element, title: dict[str, Any]) -> None:
    _sub(element, _C + "title", title["title"]["value"])
    if "subtitle" in title:
        _sub(element, _C + "subtitle", title["subtitle"]["value"])
    if "translated-title" in title:
        translated = title["translated-title"]
        _sub(element, _C + "translated-title", translated["value"]).set(
            "language-code", translated["language-code"]
        )


def _external_ids(parent: etree._Element, external_ids: list[dict[str, Any]]) -> None:
    for external_id in external_ids:
        element = _sub(parent, _C + "external-id")
        _sub(element, _C + "external-id-type", external_id["external-id-type"])
        _sub(element, _C + "external-id-value", external_id["external-id-value"])
        if "external-id-url" in external_id:
            _sub(element, _C + "external-id-url", external_id["external-id-url"]["value"])
        _sub(element, _C + "external-id-relationship", external_id["external-id-relationship"])


def _contributors(parent: etree._Element, contributors: list[dict[str, Any]]) -> None:
    for contributor in contributors:
        element = _sub(parent, _W + "contributor")
        if "contributor-orcid" in contributor:
            orcid = _sub(element, _C + "contributor-orcid")
            for part in ("uri", "path", "host"):
                _sub(orcid, _C + part, contributor["contributor-orcid"][part])
        _sub(element, _W + "credit-name", contributor["credit-name"]["value"])
        attributes = _sub(element, _W + "contributor-attributes")
        for part in ("contributor-sequence", "contributor-role"):
            if part in contributor["contributor-attributes"]:
                _sub(attributes, _W + part, contributor["contributor-attributes"][part])


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element
