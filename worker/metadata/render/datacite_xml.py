"""Work → DataCite XML (Metadata Schema kernel-4; valid against the 4.7 XSD).

Built from the same attributes as the REST JSON (``work_to_attributes``), so both say the same.
Required: ``doi``, ``publisher``, ``publication_date`` and an author or, for an edited work,
an editor (DataCite's mandatory identifier, creators, titles, publisher, publicationYear,
resourceType); the URL does not travel in the XML. An affiliation known only by its ROR id is
written with the ROR URL as its name, because the schema needs text there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lxml import etree

from worker.metadata.render.common import XML_DECLARATION, require, shape_problems
from worker.metadata.render.datacite_json import (
    CREATOR_NEEDED,
    TARGET,
    datacite_creators,
    work_to_attributes,
)

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
            ("contributors", datacite_creators(work)),
        ],
        {"contributors": CREATOR_NEEDED},
    )
    return attributes_to_xml(work_to_attributes(work))


def attributes_to_xml(attrs: dict[str, Any]) -> str:
    """DataCite XML from DataCite REST JSON attributes: every property of kernel 4.7
    (:data:`ATTRIBUTES_SHAPE` lists every key carried)."""
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
                     funderIdentifierType=ref.get("funderIdentifierType", "Other"),
                     schemeURI=ref.get("schemeUri"))  # fmt: skip
            if ref.get("awardNumber") or ref.get("awardUri"):
                _sub(element, "awardNumber", ref.get("awardNumber"), awardURI=ref.get("awardUri"))
            if ref.get("awardTitle"):
                _sub(element, "awardTitle", ref["awardTitle"])
    _geo_locations(root, attrs.get("geoLocations"))
    _related_items(root, attrs.get("relatedItems"))


_BOX = ("westBoundLongitude", "eastBoundLongitude", "southBoundLatitude", "northBoundLatitude")


def _geo_locations(root: etree._Element, locations: list[dict[str, Any]] | None) -> None:
    if not locations:
        return
    outer = _sub(root, "geoLocations")
    for location in locations:
        element = _sub(outer, "geoLocation")
        if location.get("geoLocationPlace"):
            _sub(element, "geoLocationPlace", location["geoLocationPlace"])
        if location.get("geoLocationPoint"):
            _point(_sub(element, "geoLocationPoint"), location["geoLocationPoint"])
        if location.get("geoLocationBox"):
            box = _sub(element, "geoLocationBox")
            for key in _BOX:
                _sub(box, key, _number(location["geoLocationBox"][key]))
        for polygon in polygons(location.get("geoLocationPolygon")):
            element_polygon = _sub(element, "geoLocationPolygon")
            for point in polygon.get("polygonPoint") or []:
                _point(_sub(element_polygon, "polygonPoint"), point)
            if polygon.get("inPolygonPoint"):
                _point(_sub(element_polygon, "inPolygonPoint"), polygon["inPolygonPoint"])


def polygons(value: Any) -> list[dict[str, Any]]:
    """Polygons as ``[{polygonPoint: [...], inPolygonPoint: {...}}]``; DataCite's REST JSON
    writes one polygon as a list of one-key objects (``[{polygonPoint: {...}}, ...]``)."""
    if not value:
        return []
    if isinstance(value, dict):
        value = [value]
    if all(isinstance(p, dict) and isinstance(p.get("polygonPoint"), list | type(None))
           and "polygonPoint" in p for p in value):  # fmt: skip
        return value  # type: ignore[no-any-return]
    polygon: dict[str, Any] = {"polygonPoint": []}
    for entry in value:
        if isinstance(entry, dict) and isinstance(entry.get("polygonPoint"), dict):
            polygon["polygonPoint"].append(entry["polygonPoint"])
        elif isinstance(entry, dict) and isinstance(entry.get("inPolygonPoint"), dict):
            polygon["inPolygonPoint"] = entry["inPolygonPoint"]
    return [polygon]


def _point(element: etree._Element, point: dict[str, Any]) -> None:
    _sub(element, "pointLongitude", _number(point["pointLongitude"]))
    _sub(element, "pointLatitude", _number(point["pointLatitude"]))


def _number(value: Any) -> str:
    """Decimal degrees as text: an integral float without its '.0' (12.0 → '12')."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# relatedItem children, in the order of the schema's sequence (after identifier, creators
# and titles).
_ITEM_TEXTS = ("publicationYear", "volume", "issue", "number", "firstPage", "lastPage",
               "publisher", "edition")  # fmt: skip


def _related_items(root: etree._Element, items: list[dict[str, Any]] | None) -> None:
    if not items:
        return
    outer = _sub(root, "relatedItems")
    for item in items:
        element = _sub(
            outer,
            "relatedItem",
            relatedItemType=item.get("relatedItemType"),
            relationType=item.get("relationType"),
            relationTypeInformation=item.get("relationTypeInformation"),
        )
        identifier = item.get("relatedItemIdentifier")
        if isinstance(identifier, str):  # the flat form some DataCite JSON uses
            kind = item.get("relatedItemIdentifierType")
            identifier = {"relatedItemIdentifier": identifier, "relatedItemIdentifierType": kind}
        if identifier and identifier.get("relatedItemIdentifier"):
            _sub(element, "relatedItemIdentifier", identifier["relatedItemIdentifier"],
                 relatedItemIdentifierType=identifier.get("relatedItemIdentifierType"),
                 relatedMetadataScheme=identifier.get("relatedMetadataScheme"),
                 schemeURI=identifier.get("schemeUri"),
                 schemeType=identifier.get("schemeType"))  # fmt: skip
        _item_names(element, "creator", item.get("creators"))
        _list(element, "titles", "title", item.get("titles"), {"titleType": "titleType",
                                                               "lang": "lang"})  # fmt: skip
        for key in _ITEM_TEXTS:
            value = item.get(key)
            if value not in (None, ""):
                number_type = item.get("numberType") if key == "number" else None
                _sub(element, key, str(value), numberType=number_type)
        _item_names(element, "contributor", item.get("contributors"))


def _item_names(parent: etree._Element, kind: str, names: list[dict[str, Any]] | None) -> None:
    """A relatedItem's creators or contributors: names only (no identifiers, affiliations)."""
    if not names:
        return
    outer = _sub(parent, kind + "s")
    for name in names:
        element = _sub(outer, kind, contributorType=name.get("contributorType"))
        _sub(element, kind + "Name", name.get("name"), nameType=name.get("nameType"),
             lang=name.get("lang"))  # fmt: skip
        for part in ("givenName", "familyName"):
            if name.get(part):
                _sub(element, part, name[part])


# JSON key → XML attribute, for the simple list elements.
_SUBJECT = {"subjectScheme": "subjectScheme", "schemeUri": "schemeURI", "valueUri": "valueURI",
            "classificationCode": "classificationCode", "lang": "lang"}  # fmt: skip
_DATE = {"dateType": "dateType", "dateInformation": "dateInformation"}
_RELATED = {"relatedIdentifierType": "relatedIdentifierType", "relationType": "relationType",
            "resourceTypeGeneral": "resourceTypeGeneral",
            "relatedMetadataScheme": "relatedMetadataScheme", "schemeUri": "schemeURI",
            "schemeType": "schemeType",
            "relationTypeInformation": "relationTypeInformation"}  # fmt: skip
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
    parent: etree._Element, tag: str, text: str | int | None = None, **attributes: Any
) -> etree._Element:
    element = etree.SubElement(parent, _Q + tag)
    if text is not None:
        element.text = str(text)
    for key, value in attributes.items():
        if value is not None:
            element.set(XML_LANG if key == "lang" else key, str(value))
    return element


# What attributes_to_xml carries, for ``--validate`` of DataCite JSON (see
# ``worker.metadata.render.common.shape_problems``; "!" marks a key the conversion needs).
# ``url`` and ``event`` do not travel in the XML but are DataCite attributes all the same.
_TEXT = (str, int)
_TITLE = {"title!": str, "titleType": str, "lang": str}
_AFFILIATION = (
    str,
    {
        "name": str,
        "affiliationIdentifier": str,
        "affiliationIdentifierScheme": str,
        "schemeUri": str,
        "lang": str,
    },
)
_NAME = {
    "name!": str,
    "nameType": str,
    "givenName": str,
    "familyName": str,
    "lang": str,
    "nameIdentifiers": [{"nameIdentifier!": str, "nameIdentifierScheme!": str, "schemeUri": str}],
    "affiliation": [_AFFILIATION],
}
_ITEM_NAME = {"name!": str, "nameType": str, "givenName": str, "familyName": str, "lang": str}
_PUBLISHER = {
    "name!": str,
    "publisherIdentifier": str,
    "publisherIdentifierScheme": str,
    "schemeUri": str,
    "lang": str,
}
_FUNDING = {
    "funderName!": str,
    "funderIdentifier": str,
    "funderIdentifierType": str,
    "awardNumber": _TEXT,
    "awardUri": str,
    "awardTitle": str,
    "schemeUri": str,
}
_POINT = {"pointLongitude!": (int, float, str), "pointLatitude!": (int, float, str)}
_ITEM_IDENTIFIER = {
    "relatedItemIdentifier!": str,
    "relatedItemIdentifierType": str,
    "relatedMetadataScheme": str,
    "schemeUri": str,
    "schemeType": str,
}
_RELATED_ITEM = {
    "relatedItemType!": str,
    "relationType!": str,
    "relationTypeInformation": str,
    "relatedItemIdentifier": (str, _ITEM_IDENTIFIER),
    "relatedItemIdentifierType": str,
    "creators": [_ITEM_NAME],
    "titles": [_TITLE],
    **dict.fromkeys(_ITEM_TEXTS, _TEXT),
    "numberType": str,
    "contributors": [{**_ITEM_NAME, "contributorType!": str}],
}
ATTRIBUTES_SHAPE: dict[str, Any] = {
    "doi!": str,
    "url": str,
    "event": str,
    "types": {"resourceTypeGeneral": str, "resourceType": str},
    "creators": [_NAME],
    "titles": [_TITLE],
    "publisher": (str, _PUBLISHER),
    "publicationYear": _TEXT,
    "subjects": [{"subject!": str, **dict.fromkeys(_SUBJECT, str)}],
    "contributors": [{**_NAME, "contributorType!": str}],
    "dates": [{"date!": str, **dict.fromkeys(_DATE, str)}],
    "language": str,
    "identifiers": [{"identifier!": str, "identifierType": str}],
    "sizes": [str],
    "formats": [str],
    "relatedIdentifiers": [{"relatedIdentifier!": str, **dict.fromkeys(_RELATED, str)}],
    "version": _TEXT,
    "rightsList": [{"rights": str, **dict.fromkeys(_RIGHTS, str)}],
    "descriptions": [{"description!": str, **dict.fromkeys(_DESC, str)}],
    "fundingReferences": [_FUNDING],
    "geoLocations": [
        {
            "geoLocationPlace": str,
            "geoLocationPoint": _POINT,
            "geoLocationBox": dict.fromkeys((k + "!" for k in _BOX), (int, float, str)),
            "geoLocationPolygon": (
                [{"polygonPoint": (_POINT, [_POINT]), "inPolygonPoint": _POINT}],
                {"polygonPoint!": [_POINT], "inPolygonPoint": _POINT},
            ),
        }
    ],
    "relatedItems": [_RELATED_ITEM],
}


def attributes_problems(attrs: Any) -> list[str]:
    """Keys of DataCite JSON attributes the XML conversion would not carry (or cannot take)."""
    return shape_problems(attrs, ATTRIBUTES_SHAPE)
