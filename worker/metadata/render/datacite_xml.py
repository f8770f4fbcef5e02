"""Work → DataCite XML (Metadata Schema kernel-4; valid against the 4.7 XSD).

Built from the same attributes as the REST JSON (``work_to_attributes``), so both say the same.
Required: ``doi``, ``publisher``, ``publication_date`` and an author (DataCite's mandatory
identifier, creators, titles, publisher, publicationYear, resourceType); the URL does not
travel in the XML. An affiliation known only by its ROR id is written with the ROR URL as its
name, because the schema needs text there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lxml import etree

from worker.metadata.render.common import XML_DECLARATION, require
from worker.metadata.render.datacite_json import TARGET, work_to_attributes

if TYPE_CHECKING:
    from worker.metadata.work import Work

NS = "http://datacite.org/schema/kernel-4"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SCHEMA_LOCATION = f"{NS} http://schema.datacite.org/meta/kernel-4/metadata.xsd"
_Q = "{" + NS + "}"


def render_datacite_xml(work: Work) -> str:
    """DataCite XML for ``work``; MissingFields when it lacks a mandatory property."""
    require(
        TARGET,
        [
            ("doi", work.doi),
            ("publisher", work.publisher),
            ("publication_date", work.publication_date),
            ("contributors", work.authors),
        ],
    )
    return attributes_to_xml(work_to_attributes(work))


def attributes_to_xml(attrs: dict[str, Any]) -> str:
    """DataCite XML from DataCite REST JSON attributes: what pidsync writes, plus alternate
    identifiers, sizes, formats and a 4.5 publisher object (geoLocations and relatedItems are
    not written)."""
    root = etree.Element(_Q + "resource", nsmap={None: NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    _sub(root, "identifier", attrs["doi"].upper(), identifierType="DOI")
    creators = _sub(root, "creators")
    for creator in attrs.get("creators", []):
        _name(_sub(creators, "creator"), "creator", creator)
    titles = _sub(root, "titles")
    for title in attrs.get("titles", []):
        _sub(
            titles,
            "title",
            title["title"],
            titleType=title.get("titleType"),
            lang=title.get("lang"),
        )
    publisher = attrs.get("publisher")
    if isinstance(publisher, dict):
        _sub(
            root,
            "publisher",
            publisher.get("name"),
            publisherIdentifier=publisher.get("publisherIdentifier"),
            publisherIdentifierScheme=publisher.get("publisherIdentifierScheme"),
            schemeURI=publisher.get("schemeUri"),
            lang=publisher.get("lang"),
        )
    else:
        _sub(root, "publisher", publisher)
    _sub(root, "publicationYear", str(attrs.get("publicationYear", "")))
    types = attrs.get("types", {})
    _sub(
        root,
        "resourceType",
        types.get("resourceType"),
        resourceTypeGeneral=types.get("resourceTypeGeneral"),
    )
    _rest(root, attrs)
    return XML_DECLARATION + etree.tostring(root, encoding="unicode")


def _rest(root: etree._Element, attrs: dict[str, Any]) -> None:
    _list(root, "subjects", "subject", attrs.get("subjects"), _SUBJECT)
    if attrs.get("contributors"):
        contributors = _sub(root, "contributors")
        for contributor in attrs["contributors"]:
            element = _sub(
                contributors, "contributor", contributorType=contributor["contributorType"]
            )
            _name(element, "contributor", contributor)
    _list(root, "dates", "date", attrs.get("dates"), _DATE)
    if attrs.get("language"):
        _sub(root, "language", attrs["language"])
    if attrs.get("identifiers"):
        alternates = _sub(root, "alternateIdentifiers")
        for alt in attrs["identifiers"]:
            _sub(alternates, "alternateIdentifier", alt.get("identifier"),
                 alternateIdentifierType=alt.get("identifierType") or "Other")  # fmt: skip
    for outer, inner in (("sizes", "size"), ("formats", "format")):
        if attrs.get(outer):
            element = _sub(root, outer)
            for value in attrs[outer]:
                _sub(element, inner, value)
    _list(
        root, "relatedIdentifiers", "relatedIdentifier", attrs.get("relatedIdentifiers"), _RELATED
    )
    if attrs.get("version"):
        _sub(root, "version", attrs["version"])
    _list(root, "rightsList", "rights", attrs.get("rightsList"), _RIGHTS)
    _list(root, "descriptions", "description", attrs.get("descriptions"), _DESC)
    if attrs.get("fundingReferences"):
        funding = _sub(root, "fundingReferences")
        for ref in attrs["fundingReferences"]:
            element = _sub(funding, "fundingReference")
            _sub(element, "funderName", ref["funderName"])
            if ref.get("funderIdentifier"):
                _sub(element, "funderIdentifier", ref["funderIdentifier"],
                     funderIdentifierType=ref.get("funderIdentifierType", "Other"))  # fmt: skip
            if ref.get("awardNumber") or ref.get("awardUri"):
                _sub(element, "awardNumber", ref.get("awardNumber"), awardURI=ref.get("awardUri"))
            if ref.get("awardTitle"):
                _sub(element, "awardTitle", ref["awardTitle"])


# JSON key → XML attribute, for the simple list elements.
_SUBJECT = {"subjectScheme": "subjectScheme", "schemeUri": "schemeURI", "valueUri": "valueURI",
            "classificationCode": "classificationCode", "lang": "lang"}  # fmt: skip
_DATE = {"dateType": "dateType", "dateInformation": "dateInformation"}
_RELATED = {"relatedIdentifierType": "relatedIdentifierType", "relationType": "relationType",
            "resourceTypeGeneral": "resourceTypeGeneral"}  # fmt: skip
_RIGHTS = {"rightsUri": "rightsURI", "rightsIdentifier": "rightsIdentifier",
           "rightsIdentifierScheme": "rightsIdentifierScheme", "schemeUri": "schemeURI",
           "lang": "lang"}  # fmt: skip
_DESC = {"descriptionType": "descriptionType", "lang": "lang"}


def _list(
    root: etree._Element,
    outer: str,
    inner: str,
    items: list[dict[str, Any]] | None,
    attributes: dict[str, str],
) -> None:
    if not items:
        return
    container = _sub(root, outer)
    for item in items:
        attrs = {xml: item[key] for key, xml in attributes.items() if item.get(key)}
        _sub(container, inner, item.get(inner), **attrs)


def _name(element: etree._Element, kind: str, name: dict[str, Any]) -> None:
    _sub(element, kind + "Name", name["name"], nameType=name.get("nameType"), lang=name.get("lang"))
    if name.get("givenName"):
        _sub(element, "givenName", name["givenName"])
    if name.get("familyName"):
        _sub(element, "familyName", name["familyName"])
    for identifier in name.get("nameIdentifiers", []):
        _sub(element, "nameIdentifier", identifier["nameIdentifier"],
             nameIdentifierScheme=identifier["nameIdentifierScheme"],
             schemeURI=identifier.get("schemeUri"))  # fmt: skip
    for affiliation in name.get("affiliation", []):
        if isinstance(affiliation, str):
            _sub(element, "affiliation", affiliation)
            continue
        name_text = affiliation.get("name") or affiliation.get("affiliationIdentifier")
        _sub(element, "affiliation", name_text,
             affiliationIdentifier=affiliation.get("affiliationIdentifier"),
             affiliationIdentifierScheme=affiliation.get("affiliationIdentifierScheme"),
             schemeURI=affiliation.get("schemeUri"))  # fmt: skip


def _sub(
    parent: etree._Element, tag: str, text: str | None = None, **attributes: Any
) -> etree._Element:
    element = etree.SubElement(parent, _Q + tag)
    if text is not None:
        element.text = text
    for key, value in attributes.items():
        if value is not None:
            element.set(XML_LANG if key == "lang" else key, value)
    return element
