"""Work → ORCID v3.0 work XML (``application/vnd.orcid+xml``), valid against work-3.0.xsd,
and the bulk form (bulk-3.0.xsd). Built from the JSON form, so both always say the same; the
same rules apply (see ``orcid_json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lxml import etree

from worker.metadata.render.common import XML_DECLARATION, shape_problems
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
    """The ``<work:work>`` element for an ORCID work JSON body as pidsync writes it (the keys
    of :data:`WORK_JSON_SHAPE`; a null value counts as absent)."""
    root = etree.Element(_W + "work", nsmap=NSMAP)
    if body.get("put-code") is not None:
        root.set("put-code", str(body["put-code"]))
    _title(_sub(root, _W + "title"), body["title"])
    if body.get("journal-title"):
        _sub(root, _W + "journal-title", body["journal-title"]["value"])
    if body.get("short-description"):
        _sub(root, _W + "short-description", body["short-description"])
    if body.get("citation"):
        citation = _sub(root, _W + "citation")
        _sub(citation, _W + "citation-type", body["citation"]["citation-type"])
        _sub(citation, _W + "citation-value", body["citation"]["citation-value"])
    _sub(root, _W + "type", body["type"])
    if body.get("publication-date"):
        date = _sub(root, _C + "publication-date")
        for part in ("year", "month", "day"):  # the schema's order, whatever the JSON's
            if body["publication-date"].get(part):
                _sub(date, _C + part, body["publication-date"][part]["value"])
    _external_ids(_sub(root, _C + "external-ids"), body["external-ids"]["external-id"])
    if body.get("url"):
        _sub(root, _C + "url", body["url"]["value"])
    if body.get("contributors"):
        _contributors(_sub(root, _W + "contributors"), body["contributors"]["contributor"])
    if body.get("language-code"):
        _sub(root, _C + "language-code", body["language-code"])
    return root


def _title(element: etree._Element, title: dict[str, Any]) -> None:
    _sub(element, _C + "title", title["title"]["value"])
    if title.get("subtitle"):
        _sub(element, _C + "subtitle", title["subtitle"]["value"])
    if title.get("translated-title"):
        translated = title["translated-title"]
        _sub(element, _C + "translated-title", translated["value"]).set(
            "language-code", translated["language-code"]
        )


def _external_ids(parent: etree._Element, external_ids: list[dict[str, Any]]) -> None:
    for external_id in external_ids:
        element = _sub(parent, _C + "external-id")
        _sub(element, _C + "external-id-type", external_id["external-id-type"])
        _sub(element, _C + "external-id-value", external_id["external-id-value"])
        if external_id.get("external-id-url"):
            _sub(element, _C + "external-id-url", external_id["external-id-url"]["value"])
        _sub(element, _C + "external-id-relationship", external_id["external-id-relationship"])


def _contributors(parent: etree._Element, contributors: list[dict[str, Any]]) -> None:
    for contributor in contributors:
        element = _sub(parent, _W + "contributor")
        if contributor.get("contributor-orcid"):
            orcid = _sub(element, _C + "contributor-orcid")
            for part in ("uri", "path", "host"):
                _sub(orcid, _C + part, contributor["contributor-orcid"][part])
        _sub(element, _W + "credit-name", contributor["credit-name"]["value"])
        attributes = _sub(element, _W + "contributor-attributes")
        for part in ("contributor-sequence", "contributor-role"):
            if contributor["contributor-attributes"].get(part):
                _sub(attributes, _W + part, contributor["contributor-attributes"][part])


_VALUE = {"value!": str}
#: What orcid_json_to_element carries, for ``--validate`` of ORCID JSON ("!": needed; see
#: ``worker.metadata.render.common.shape_problems``).
WORK_JSON_SHAPE: dict[str, Any] = {
    "put-code": int,
    "title!": {"title!": _VALUE, "subtitle": _VALUE,
               "translated-title": {"value!": str, "language-code!": str}},
    "journal-title": _VALUE,
    "short-description": str,
    "citation": {"citation-type!": str, "citation-value!": str},
    "type!": str,
    "publication-date": {"year": _VALUE, "month": _VALUE, "day": _VALUE},
    "external-ids!": {"external-id!": [{
        "external-id-type!": str, "external-id-value!": str, "external-id-url": _VALUE,
        "external-id-relationship!": str,
    }]},
    "url": _VALUE,
    "contributors": {"contributor!": [{
        "contributor-orcid": {"uri!": str, "path!": str, "host!": str},
        "credit-name!": _VALUE,
        "contributor-attributes!": {"contributor-sequence": str, "contributor-role": str},
    }]},
    "language-code": str,
}  # fmt: skip
BULK_JSON_SHAPE: dict[str, Any] = {"bulk!": [{"work!": WORK_JSON_SHAPE}]}


def orcid_json_problems(payload: Any) -> list[str]:
    """Keys of an ORCID work (or bulk) JSON body the XML conversion would not carry."""
    bulk = isinstance(payload, dict) and "bulk" in payload
    return shape_problems(payload, BULK_JSON_SHAPE if bulk else WORK_JSON_SHAPE)


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element
