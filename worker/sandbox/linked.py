"""Linked-data forms of a record: RDF/XML and Turtle (from CSL-JSON), schema.org JSON-LD.

The RDF uses Dublin Core terms, BIBO and FOAF, as the DOI content negotiation services do;
schema.org is built from DataCite attributes (DataCite serves it, Crossref does not).
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

DCT = "http://purl.org/dc/terms/"
BIBO = "http://purl.org/ontology/bibo/"
FOAF = "http://xmlns.com/foaf/0.1/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
OWL = "http://www.w3.org/2002/07/owl#"

_BIBO_TYPES = {
    "article-journal": "AcademicArticle",
    "article": "Article",
    "book": "Book",
    "chapter": "Chapter",
    "paper-conference": "Article",
    "report": "Report",
    "thesis": "Thesis",
    "dataset": "Document",
    "software": "Document",
}
_SCHEMA_TYPES = {
    "Dataset": "Dataset",
    "Software": "SoftwareSourceCode",
    "JournalArticle": "ScholarlyArticle",
    "Text": "ScholarlyArticle",
    "Preprint": "ScholarlyArticle",
    "Book": "Book",
    "BookChapter": "Chapter",
    "Collection": "Collection",
    "Image": "ImageObject",
    "Audiovisual": "MediaObject",
    "Report": "Report",
    "Dissertation": "Thesis",
}


def _subject(item: dict[str, Any]) -> str:
    return f"https://doi.org/{item.get('DOI', '')}"


def _statements(
    item: dict[str, Any],
) -> tuple[str, list[tuple[str, str, Any]], list[dict[str, str]]]:
    """(rdf:type, literal triples (namespace, name, value), creators)."""
    kind = BIBO + _BIBO_TYPES.get(str(item.get("type")), "Document")
    title = item.get("title")
    literals: list[tuple[str, str, Any]] = []
    if title:
        literals.append((DCT, "title", title[0] if isinstance(title, list) else title))
    if doi := item.get("DOI"):
        literals += [(DCT, "identifier", doi), (BIBO, "doi", doi)]
    date = (item.get("issued") or {}).get("date-parts")
    if date and date[0] and date[0][0]:
        literals.append(
            (
                DCT,
                "date",
                "-".join(f"{int(p):02d}" if i else str(p) for i, p in enumerate(date[0])),
            )
        )
    if publisher := item.get("publisher"):
        literals.append((DCT, "publisher", publisher))
    if abstract := item.get("abstract"):
        literals.append((BIBO, "abstract", abstract))
    for key, name in (("volume", "volume"), ("issue", "issue"), ("page", "pages")):
        if value := item.get(key):
            literals.append((BIBO, name, str(value)))
    if container := item.get("container-title"):
        literals.append(
            (DCT, "isPartOf", container[0] if isinstance(container, list) else container)
        )
    if url := item.get("URL"):
        literals.append((FOAF, "homepage", url))
    creators = [p for p in item.get("author") or [] if isinstance(p, dict)]
    return kind, literals, creators


def _escape_turtle(value: Any) -> str:
    text = (
        str(value)
        .replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )
    return f'"{text}"'


def to_turtle(item: dict[str, Any]) -> str:
    kind, literals, creators = _statements(item)
    prefixes = {DCT: "dct", BIBO: "bibo", FOAF: "foaf"}
    lines = [f"@prefix {name}: <{uri}> ." for uri, name in prefixes.items()]
    lines.append("")
    body = [f"a <{kind}>"]
    body += [f"{prefixes[ns]}:{name} {_escape_turtle(value)}" for ns, name, value in literals]
    for index in range(len(creators)):
        body.append(f"dct:creator _:creator{index}")
    lines.append(f"<{_subject(item)}> " + " ;\n    ".join(body) + " .")
    for index, person in enumerate(creators):
        parts = ["a foaf:Person", f"foaf:name {_escape_turtle(_full_name(person))}"]
        if given := person.get("given"):
            parts.append(f"foaf:givenName {_escape_turtle(given)}")
        if family := person.get("family"):
            parts.append(f"foaf:familyName {_escape_turtle(family)}")
        if orcid := person.get("ORCID"):
            parts.append(f"<{OWL}sameAs> <{orcid}>")
        lines.append(f"_:creator{index} " + " ;\n    ".join(parts) + " .")
    return "\n".join(lines) + "\n"


def _full_name(person: dict[str, str]) -> str:
    if person.get("literal"):
        return person["literal"]
    return " ".join(
        part for part in (person.get("given"), person.get("family")) if part
    ) or person.get("name", "")


def to_rdf_xml(item: dict[str, Any]) -> str:
    kind, literals, creators = _statements(item)
    nsmap = {"rdf": RDF, "dct": DCT, "bibo": BIBO, "foaf": FOAF, "owl": OWL}
    root = etree.Element(f"{{{RDF}}}RDF", nsmap=nsmap)
    description = etree.SubElement(
        root, f"{{{RDF}}}Description", {f"{{{RDF}}}about": _subject(item)}
    )
    etree.SubElement(description, f"{{{RDF}}}type", {f"{{{RDF}}}resource": kind})
    for namespace, name, value in literals:
        etree.SubElement(description, f"{{{namespace}}}{name}").text = str(value)
    for person in creators:
        creator = etree.SubElement(description, f"{{{DCT}}}creator")
        node = etree.SubElement(creator, f"{{{FOAF}}}Person")
        if orcid := person.get("ORCID"):
            node.set(f"{{{RDF}}}about", orcid)
        etree.SubElement(node, f"{{{FOAF}}}name").text = _full_name(person)
        if given := person.get("given"):
            etree.SubElement(node, f"{{{FOAF}}}givenName").text = given
        if family := person.get("family"):
            etree.SubElement(node, f"{{{FOAF}}}familyName").text = family
    return etree.tostring(
        root,
        encoding="unicode",
        pretty_print=True,
        doctype='<?xml version="1.0" encoding="UTF-8"?>',
    )


def to_schema_org(doi: str, attributes: dict[str, Any]) -> str:
    """schema.org JSON-LD from DataCite attributes."""
    types = attributes.get("types") or {}
    data: dict[str, Any] = {
        "@context": "http://schema.org",
        "@type": _SCHEMA_TYPES.get(types.get("resourceTypeGeneral", ""), "CreativeWork"),
        "@id": f"https://doi.org/{doi}",
        "identifier": {
            "@type": "PropertyValue",
            "propertyID": "DOI",
            "value": f"https://doi.org/{doi}",
        },
        "url": attributes.get("url"),
    }
    titles = attributes.get("titles") or []
    if titles:
        data["name"] = titles[0].get("title")
    authors = []
    for creator in attributes.get("creators") or []:
        person: dict[str, Any] = {
            "@type": "Organization" if creator.get("nameType") == "Organizational" else "Person",
            "name": creator.get("name"),
        }
        if creator.get("givenName"):
            person["givenName"] = creator["givenName"]
        if creator.get("familyName"):
            person["familyName"] = creator["familyName"]
        for identifier in creator.get("nameIdentifiers") or []:
            if identifier.get("nameIdentifierScheme") == "ORCID":
                person["@id"] = identifier.get("nameIdentifier")
        authors.append(person)
    if authors:
        data["author"] = authors[0] if len(authors) == 1 else authors
    publisher = attributes.get("publisher")
    if isinstance(publisher, dict):
        publisher = publisher.get("name")
    if publisher:
        data["publisher"] = {"@type": "Organization", "name": publisher}
    if year := attributes.get("publicationYear"):
        data["datePublished"] = str(year)
    descriptions = attributes.get("descriptions") or []
    if descriptions:
        data["description"] = descriptions[0].get("description")
    if subjects := [s.get("subject") for s in attributes.get("subjects") or [] if s.get("subject")]:
        data["keywords"] = ", ".join(subjects)
    if rights := [
        r.get("rightsUri") for r in attributes.get("rightsList") or [] if r.get("rightsUri")
    ]:
        data["license"] = rights[0]
    if version := attributes.get("version"):
        data["version"] = version
    if language := attributes.get("language"):
        data["inLanguage"] = language
    data["schemaVersion"] = attributes.get("schemaVersion") or "http://datacite.org/schema/kernel-4"
    data["provider"] = {"@type": "Organization", "name": "DataCite"}
    return json.dumps({k: v for k, v in data.items() if v is not None}, indent=2)
