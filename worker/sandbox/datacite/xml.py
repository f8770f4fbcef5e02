"""DataCite XML sent to the sandbox: decoding, XSD validation, conversion to attributes."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from lxml import etree

from worker.metadata.adapters import datacite_xml_to_attributes
from worker.metadata.errors import InputError
from worker.reference import xsd

_ELEMENT = re.compile(r"^Element '\{[^}]*\}(?P<name>[\w]+)'(?:, attribute '[^']*')?: ")
#: XML element → the attribute lupo names as the error's ``source``.
_SOURCES = {
    "resource": "xml",
    "identifier": "doi",
    "creators": "creators",
    "creator": "creators",
    "creatorName": "creators",
    "titles": "titles",
    "title": "titles",
    "publisher": "publisher",
    "publicationYear": "publicationYear",
    "resourceType": "types",
    "subjects": "subjects",
    "subject": "subjects",
    "contributors": "contributors",
    "contributor": "contributors",
    "dates": "dates",
    "date": "dates",
    "language": "language",
    "relatedIdentifiers": "relatedIdentifiers",
    "relatedIdentifier": "relatedIdentifiers",
    "rightsList": "rightsList",
    "rights": "rightsList",
    "descriptions": "descriptions",
    "description": "descriptions",
    "fundingReferences": "fundingReferences",
    "version": "version",
}


class XmlInputError(ValueError):
    """The ``xml`` attribute could not be used; ``errors`` are DataCite 422 items."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(errors[0]["title"] if errors else "invalid xml")
        self.errors = errors


def decode(value: str, doi: str) -> bytes:
    """The XML bytes of a base64 ``xml`` attribute (plain XML text is accepted too)."""
    stripped = value.strip()
    if stripped.startswith("<"):
        return value.encode("utf-8")
    try:
        raw = base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=False)
    except (binascii.Error, ValueError):
        raise XmlInputError(
            [{"source": "xml", "title": "Xml is not valid base64", "uid": doi}]
        ) from None
    if not raw.lstrip().startswith(b"<"):
        raise XmlInputError(
            [{"source": "xml", "title": "Metadata format not recognized", "uid": doi}]
        )
    return raw


def parse(raw: bytes, doi: str) -> etree._Element:
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        return etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise XmlInputError([{"source": "xml", "title": f"DOI {doi}: {exc}", "uid": doi}]) from None


def schema_errors(root: etree._Element, doi: str) -> list[dict[str, str]] | None:
    """XSD errors in lupo's shape, [] when valid, None when the schema is not at hand."""
    schema = xsd("datacite")
    if schema is None:
        return None
    if schema.validate(root):
        return []
    errors = []
    for entry in schema.error_log:
        message = entry.message
        match = _ELEMENT.match(message)
        source = _SOURCES.get(match.group("name"), match.group("name")) if match else "xml"
        text = message[match.end() :] if match else message
        title = f"DOI {doi}: {text} at line {entry.line}, column {entry.column}"
        errors.append({"source": source, "title": title, "uid": doi})
    return errors


def to_attributes(raw: bytes, doi: str) -> dict[str, Any]:
    """DataCite JSON attributes from DataCite XML (pidsync's own adapter)."""
    try:
        attributes = datacite_xml_to_attributes(raw)
    except InputError as exc:
        raise XmlInputError([{"source": "xml", "title": f"DOI {doi}: {exc}", "uid": doi}]) from None
    attributes.pop("unknownElements", None)
    return attributes
