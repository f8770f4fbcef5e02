"""DataCite XML compared order aside: each element as (name, attributes, text, children), the
children sorted, so two records are equal when they say the same (DataCite's ``resource`` is
an ``xs:all`` and no list in it carries meaning by its order here)."""

from __future__ import annotations

from typing import Any

from lxml import etree

XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


def _number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return repr(value)


def canonical(element: etree._Element, *, numbers: bool = False) -> Any:
    name = etree.QName(element).localname
    attributes = tuple(sorted((k, v) for k, v in element.attrib.items() if not k.startswith(XSI)))
    text = " ".join("".join(element.itertext()).split()) if len(element) == 0 else ""
    numeric = name.endswith(("Longitude", "Latitude"))
    if numeric and not numbers:  # 12.50 and 12.5 are the same longitude
        text = _number(text)
    children = sorted(
        (
            canonical(c)
            for c in element
            if isinstance(c.tag, str) and etree.QName(c).localname != "br"
        ),
        key=repr,
    )
    if name == "description":  # a <br/> is a line break, as a newline is
        parts = [element.text or ""] + [" " + (child.tail or "") for child in element]
        text = " ".join("".join(parts).split())
    return (name, attributes, text, tuple(children))


def canonical_xml(xml: str | bytes) -> Any:
    data = xml.encode() if isinstance(xml, str) else xml
    return canonical(etree.fromstring(data))


def differences(before: str | bytes, after: str | bytes) -> list[str]:
    """What ``before`` says that ``after`` does not, and the reverse (top-level properties)."""
    a = {repr(c): c for c in canonical_xml(before)[3]}
    b = {repr(c): c for c in canonical_xml(after)[3]}
    return [f"lost: {k}" for k in a if k not in b] + [f"added: {k}" for k in b if k not in a]
