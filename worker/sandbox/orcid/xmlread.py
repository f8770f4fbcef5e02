"""Reading ORCID XML request bodies (``work:work``, ``bulk:bulk``) into the JSON shape.

The body is checked against the official schema when ``worker.reference`` has it (a failure is
400/9001 with the schema's message), then read into the same dict a JSON body gives, so one
validator and one store serve both formats.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from worker import reference
from worker.sandbox.orcid.errors import api_error
from worker.sandbox.orcid.xml import Element, q

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _parse(data: bytes, schema_name: str) -> Element:
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise api_error(9001, str(exc)) from None
    schema = reference.xsd(schema_name)
    if schema is not None and not schema.validate(root):
        error = schema.error_log.last_error
        raise api_error(9001, f"{error.message} (line {error.line})" if error else "invalid XML")
    return root


def _child(parent: Element, prefix: str, name: str) -> Element | None:
    return parent.find(q(prefix, name))


def _text(parent: Element | None, prefix: str, name: str) -> str | None:
    if parent is None:
        return None
    node = _child(parent, prefix, name)
    return None if node is None or node.text is None else node.text.strip()


def _held(parent: Element, prefix: str, name: str) -> dict[str, Any] | None:
    node = _child(parent, prefix, name)
    if node is None:
        return None
    return {"value": (node.text or "").strip()}


def _work_dict(node: Element) -> dict[str, Any]:
    """A ``work:work`` element as the JSON object a client would have sent."""
    work: dict[str, Any] = {}
    if node.get("put-code") is not None:
        work["put-code"] = node.get("put-code")
    if node.get("visibility") is not None:
        work["visibility"] = node.get("visibility")
    title = _child(node, "work", "title")
    if title is not None:
        translated = _child(title, "common", "translated-title")
        work["title"] = {
            "title": _held(title, "common", "title"),
            "subtitle": _held(title, "common", "subtitle"),
            "translated-title": None
            if translated is None
            else {
                "value": (translated.text or "").strip(),
                "language-code": translated.get("language-code"),
            },
        }
    work["journal-title"] = _held(node, "work", "journal-title")
    work["short-description"] = _text(node, "work", "short-description")
    citation = _child(node, "work", "citation")
    if citation is not None:
        work["citation"] = {
            "citation-type": _text(citation, "work", "citation-type"),
            "citation-value": _text(citation, "work", "citation-value"),
        }
    work["type"] = _text(node, "work", "type")
    date = _child(node, "common", "publication-date")
    if date is not None:
        work["publication-date"] = {
            part: _held(date, "common", part) for part in ("year", "month", "day")
        }
    ext_ids = _child(node, "common", "external-ids")
    if ext_ids is not None:
        work["external-ids"] = {
            "external-id": [
                {
                    "external-id-type": _text(ext, "common", "external-id-type"),
                    "external-id-value": _text(ext, "common", "external-id-value"),
                    "external-id-url": _held(ext, "common", "external-id-url"),
                    "external-id-relationship": _text(ext, "common", "external-id-relationship"),
                }
                for ext in ext_ids.findall(q("common", "external-id"))
            ]
        }
    work["url"] = _held(node, "common", "url")
    contributors = _child(node, "work", "contributors")
    if contributors is not None:
        work["contributors"] = {
            "contributor": [_contributor(c) for c in contributors.findall(q("work", "contributor"))]
        }
    work["language-code"] = _text(node, "common", "language-code")
    work["country"] = _held(node, "common", "country")
    return work


def _contributor(node: Element) -> dict[str, Any]:
    orcid = _child(node, "common", "contributor-orcid")
    attrs = _child(node, "work", "contributor-attributes")
    return {
        "contributor-orcid": None
        if orcid is None
        else {part: _text(orcid, "common", part) for part in ("uri", "path", "host")},
        "credit-name": _held(node, "work", "credit-name"),
        "contributor-email": _text(node, "work", "contributor-email"),
        "contributor-attributes": None
        if attrs is None
        else {
            "contributor-sequence": _text(attrs, "work", "contributor-sequence"),
            "contributor-role": _text(attrs, "work", "contributor-role"),
        },
    }


def read_work(data: bytes) -> dict[str, Any]:
    root = _parse(data, "orcid-work")
    if root.tag != q("work", "work"):
        raise api_error(9001, f"unexpected element {root.tag!r}")
    return _work_dict(root)


def read_bulk(data: bytes) -> dict[str, Any]:
    root = _parse(data, "orcid-bulk")
    if root.tag != q("bulk", "bulk"):
        raise api_error(9001, f"unexpected element {root.tag!r}")
    return {"bulk": [{"work": _work_dict(node)} for node in root.findall(q("work", "work"))]}
