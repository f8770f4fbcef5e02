"""Records the sandbox holds, rendered in the content-negotiation formats.

CSL-JSON, BibTeX, RIS and DataCite XML come from pidsync's own metadata layer
(``worker.metadata``): the record becomes a Work through the adapters, then a renderer writes
it. Formatted citations and the linked-data forms are built from the CSL-JSON here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from worker.sandbox import citation, linked

if TYPE_CHECKING:
    from worker.metadata.work import Work


@dataclass(frozen=True)
class Entry:
    """One resolvable DOI: who registered it, where it points, what it says."""

    doi: str
    agency: str  # "datacite" | "crossref"
    url: str
    attributes: dict[str, Any] = field(default_factory=dict)  # DataCite JSON attributes
    message: dict[str, Any] = field(default_factory=dict)  # Crossref REST work message
    xml: str | None = None  # DataCite XML / Crossref content item XML, when known
    owner: str = ""
    timestamp: int = 0

    @property
    def agency_label(self) -> str:
        return {"datacite": "DataCite", "crossref": "Crossref"}[self.agency]


def to_work(entry: Entry) -> Work:
    """The record as a pidsync Work (raises worker.metadata.errors.MetadataError)."""
    from worker.metadata import adapters

    if entry.agency == "datacite":
        attributes = {**entry.attributes, "doi": entry.doi, "url": entry.url}
        work, _problems = adapters.datacite_attributes_to_work(attributes)
    else:
        work, _problems = adapters.crossref_message_to_work(entry.message)
    return work


def csl(entry: Entry) -> dict[str, Any]:
    from worker.metadata.render.csl import render_csl

    item = render_csl(to_work(entry))
    item["id"] = f"https://doi.org/{entry.doi}"
    item["DOI"] = entry.doi
    item.setdefault("URL", entry.url or f"https://doi.org/{entry.doi}")
    return item


def bibtex(entry: Entry) -> str:
    from worker.metadata.render.bibtex import render_bibtex

    return render_bibtex(to_work(entry))


def ris(entry: Entry) -> str:
    from worker.metadata.render.ris import render_ris

    return render_ris(to_work(entry))


def datacite_xml(entry: Entry) -> str:
    if entry.xml:
        return entry.xml
    from worker.metadata.render.datacite_xml import attributes_to_xml

    return attributes_to_xml({**entry.attributes, "doi": entry.doi})


def unixref(entry: Entry) -> str:
    """Crossref's UNIXREF: the deposited content item inside ``doi_records``."""
    prefix = entry.doi.split("/", 1)[0]
    item = entry.xml or ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<doi_records>\n"
        f'  <doi_record owner="{prefix}" timestamp="{entry.timestamp}">\n'
        f"    <crossref>{item}</crossref>\n"
        "  </doi_record>\n"
        "</doi_records>\n"
    )


def render(entry: Entry, mime: str, params: dict[str, str]) -> tuple[str, str]:
    """(body, Content-Type) of ``entry`` as ``mime`` (a type :func:`supported` lists)."""
    if mime == "application/vnd.citationstyles.csl+json":
        return json.dumps(csl(entry), indent=2), mime
    if mime == "application/x-bibtex":
        return bibtex(entry), "application/x-bibtex; charset=utf-8"
    if mime == "application/x-research-info-systems":
        return ris(entry), "application/x-research-info-systems; charset=utf-8"
    if mime == "text/x-bibliography":
        style = params.get("style", "apa")
        locale = params.get("locale", "en-US")
        text = citation.format_citation(csl(entry), style, locale)
        return text + "\n", "text/x-bibliography; charset=utf-8"
    if mime == "application/vnd.datacite.datacite+xml":
        return datacite_xml(entry), "application/vnd.datacite.datacite+xml; charset=utf-8"
    if mime == "application/vnd.datacite.datacite+json":
        attributes = {**entry.attributes, "doi": entry.doi, "url": entry.url}
        return json.dumps(attributes, indent=2), "application/vnd.datacite.datacite+json"
    if mime in {"application/vnd.crossref.unixref+xml", "application/vnd.crossref.unixsd+xml"}:
        return unixref(entry), f"{mime}; charset=utf-8"
    if mime == "application/rdf+xml":
        return linked.to_rdf_xml(csl(entry)), "application/rdf+xml; charset=utf-8"
    if mime in {"text/turtle", "application/x-turtle"}:
        return linked.to_turtle(csl(entry)), f"{mime}; charset=utf-8"
    if mime in {"application/vnd.schemaorg.ld+json", "application/ld+json"}:
        attributes = {**entry.attributes, "url": entry.url}
        return linked.to_schema_org(entry.doi, attributes), f"{mime}; charset=utf-8"
    raise ValueError(f"unsupported type {mime}")


#: Types each agency's service renders (API_FACTS.md §4 support matrix).
COMMON = (
    "application/vnd.citationstyles.csl+json",
    "application/x-bibtex",
    "application/x-research-info-systems",
    "text/x-bibliography",
    "application/rdf+xml",
    "text/turtle",
)
SUPPORTED = {
    "datacite": (
        *COMMON,
        "application/x-turtle",
        "application/vnd.datacite.datacite+xml",
        "application/vnd.datacite.datacite+json",
        "application/vnd.schemaorg.ld+json",
        "application/ld+json",
    ),
    "crossref": (
        *COMMON,
        "application/vnd.crossref.unixref+xml",
        "application/vnd.crossref.unixsd+xml",
    ),
}
