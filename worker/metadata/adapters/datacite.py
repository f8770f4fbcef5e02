"""DataCite XML (any kernel-4 version) → DataCite REST JSON attributes → Work.

``datacite_xml_to_attributes`` reads the XML into the camelCase attributes DataCite's REST API
shows (the sandbox uses it to show XML-submitted records as JSON); ``datacite_attributes_to_work``
turns attributes into a Work and lists what a Work cannot hold.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from worker.metadata.errors import InputError

NS = "http://datacite.org/schema/kernel-4"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

# XML attribute → JSON key where they differ (URI → Uri, xml:lang → lang).
_RENAME = {"schemeURI": "schemeUri", "valueURI": "valueUri", "rightsURI": "rightsUri",
           "awardURI": "awardUri", XML_LANG: "lang"}  # fmt: skip


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _attrs(element: etree._Element) -> dict[str, str]:
    return {
        _RENAME.get(key, key): value
        for key, value in element.attrib.items()
        if "{" not in key or key == XML_LANG
    }


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    text = "".join(element.itertext()).strip()
    return text or None


def _with_text(element: etree._Element, key: str) -> dict[str, Any]:
    text = _text(element)
    entry: dict[str, Any] = {key: text} if text else {}
    entry.update(_attrs(element))
    return entry


def _alternate_identifiers(element: etree._Element) -> dict[str, Any]:
    items = [
        {"identifier": _text(child) or "", "identifierType": child.get("alternateIdentifierType")}
        for child in element
        if isinstance(child.tag, str)
    ]
    return {"identifiers": items}


def parse_datacite_xml(xml: bytes | str) -> etree._Element:
    """The ``<resource>`` root of a DataCite kernel-4 document, or InputError."""
    data = xml.encode() if isinstance(xml, str) else xml
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise InputError("datacite-xml", f"not well-formed XML ({exc})") from None
    if etree.QName(root).namespace != NS or _local(root) != "resource":
        raise InputError("datacite-xml", f"root is {root.tag!r}, not a kernel-4 <resource>")
    return root


def datacite_xml_to_attributes(
    xml: bytes | str, *, publisher_object: bool = False
) -> dict[str, Any]:
    """DataCite REST JSON attributes for a DataCite XML document (kernel-4, 4.0-4.7).

    ``publisher`` is a string, as DataCite answers by default, or with ``publisher_object``
    an object carrying publisherIdentifier (DataCite's ``?publisher=true``).
    """
    root = parse_datacite_xml(xml)
    attrs: dict[str, Any] = {}
    for child in root:
        if not isinstance(child.tag, str):
            continue
        name = _local(child)
        reader = _READERS.get(name)
        if reader is not None:
            for key, value in reader(child).items():
                if isinstance(value, list) and isinstance(attrs.get(key), list):
                    attrs[key] = attrs[key] + value
                else:
                    attrs[key] = value
        else:
            attrs.setdefault("unknownElements", []).append(name)
    if "publisher" in attrs and not publisher_object:
        attrs["publisher"] = attrs["publisher"].get("name")
    attrs["schemaVersion"] = NS
    return attrs


def _identifier(element: etree._Element) -> dict[str, Any]:
    value = _text(element) or ""
    if element.get("identifierType", "DOI").upper() == "DOI":
        return {"doi": value.lower()}
    return {"identifiers": [{"identifier": value, "identifierType": element.get("identifierType")}]}


def _name(element: etree._Element, kind: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        local = _local(child)
        if local == kind + "Name":
            entry["name"] = _text(child) or ""
            if child.get("nameType"):
                entry["nameType"] = child.get("nameType")
            if child.get(XML_LANG):
                entry["lang"] = child.get(XML_LANG)
        elif local in ("givenName", "familyName"):
            entry[local] = _text(child)
        elif local == "nameIdentifier":
            entry.setdefault("nameIdentifiers", []).append(_with_text(child, "nameIdentifier"))
        elif local == "affiliation":
            entry.setdefault("affiliation", []).append(_with_text(child, "name"))
    entry.update({k: v for k, v in element.attrib.items() if k == "contributorType"})
    return entry


def _names(kind: str) -> Any:
    def read(element: etree._Element) -> dict[str, Any]:
        names = [_name(child, kind[:-1]) for child in element if isinstance(child.tag, str)]
        return {kind: names}

    return read


def _simple_list(key: str, text_key: str) -> Any:
    def read(element: etree._Element) -> dict[str, Any]:
        items = [_with_text(child, text_key) for child in element if isinstance(child.tag, str)]
        return {key: items}

    return read


def _strings(key: str) -> Any:
    def read(element: etree._Element) -> dict[str, Any]:
        return {key: [_text(child) or "" for child in element if isinstance(child.tag, str)]}

    return read


def _descriptions(element: etree._Element) -> dict[str, Any]:
    items = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        parts = [child.text or ""]
        parts += ["\n" + (node.tail or "") for node in child]  # <br/> → newline
        entry: dict[str, Any] = {"description": "".join(parts).strip()}
        entry.update(_attrs(child))
        items.append(entry)
    return {"descriptions": items}


def _funding(element: etree._Element) -> dict[str, Any]:
    items = []
    for reference in element:
        if not isinstance(reference.tag, str):
            continue
        entry: dict[str, Any] = {}
        for child in reference:
            if not isinstance(child.tag, str):
                continue
            local = _local(child)
            entry[local] = _text(child)
            entry.update(_attrs(child))
        items.append({k: v for k, v in entry.items() if v is not None})
    return {"fundingReferences": items}


def _geo(element: etree._Element) -> dict[str, Any]:
    def tree(node: etree._Element) -> Any:
        children = [c for c in node if isinstance(c.tag, str)]
        if not children:
            return _text(node)
        result: dict[str, Any] = {}
        for child in children:
            value = tree(child)
            if _local(child) in ("polygonPoint", "geoLocationPolygon"):
                result.setdefault(_local(child), []).append(value)
            else:
                result[_local(child)] = value
        return result

    return {"geoLocations": [tree(child) for child in element if isinstance(child.tag, str)]}


def _related_items(element: etree._Element) -> dict[str, Any]:
    items = []
    for item in element:
        if not isinstance(item.tag, str):
            continue
        entry: dict[str, Any] = dict(item.attrib)
        for child in item:
            if not isinstance(child.tag, str):
                continue
            local = _local(child)
            if local in ("creators", "contributors"):
                entry.update(_names(local)(child))
            elif local == "titles":
                entry.update(_simple_list("titles", "title")(child))
            elif local == "relatedItemIdentifier":
                entry[local] = _with_text(child, local)
            else:
                entry[local] = _text(child)
                if local == "number" and child.get("numberType"):
                    entry["numberType"] = child.get("numberType")
        items.append(entry)
    return {"relatedItems": items}


_READERS: dict[str, Any] = {
    "identifier": _identifier,
    "creators": _names("creators"),
    "titles": _simple_list("titles", "title"),
    "publisher": lambda e: {"publisher": {"name": _text(e) or "", **_attrs(e)}},
    "publicationYear": lambda e: {"publicationYear": _text(e)},
    "resourceType": lambda e: {
        "types": {"resourceTypeGeneral": e.get("resourceTypeGeneral"), "resourceType": _text(e)}
    },
    "subjects": _simple_list("subjects", "subject"),
    "contributors": _names("contributors"),
    "dates": _simple_list("dates", "date"),
    "language": lambda e: {"language": _text(e)},
    "alternateIdentifiers": _alternate_identifiers,
    "relatedIdentifiers": _simple_list("relatedIdentifiers", "relatedIdentifier"),
    "sizes": _strings("sizes"),
    "formats": _strings("formats"),
    "version": lambda e: {"version": _text(e)},
    "rightsList": _simple_list("rightsList", "rights"),
    "descriptions": _descriptions,
    "geoLocations": _geo,
    "fundingReferences": _funding,
    "relatedItems": _related_items,
}
