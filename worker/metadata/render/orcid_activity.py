"""What the ORCID renderers of affiliations, fundings and peer reviews share: organisations,
fuzzy dates, external ids, and the XML building blocks (record_3.0 ``common`` schema).

ORCID requires a disambiguated organisation on every member write: a ROR id (preferred), or
for a funder a Crossref Funder ID (ORCID's ``FUNDREF`` source, written as ORCID shows it:
``http://dx.doi.org/10.13039/...``).
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from worker.metadata.errors import MissingFields
from worker.metadata.orcid_items import Funder, Organization
from worker.metadata.render.orcid_json import source_work_id

COMMON_NS = "http://www.orcid.org/ns/common"
C = "{" + COMMON_NS + "}"
FUNDREF_URL = "http://dx.doi.org/"
SHORT_TEXT_MAX = 1000
_NEEDS_ID = "ORCID needs a disambiguated organisation (a ROR id, or a Crossref Funder ID)"


def ns(section: str) -> str:
    """The namespace of a section's root element (``employment``, ``funding``, ...)."""
    return f"http://www.orcid.org/ns/{section}"


def held(value: str | None) -> dict[str, str] | None:
    return None if value is None else {"value": value}


def fuzzy_date(date: str | None) -> dict[str, Any] | None:
    """``YYYY[-MM[-DD]]`` as ORCID's ``{"year": {"value"}, "month": ..., "day": ...}``."""
    if date is None:
        return None
    parts = date.split("-")
    names = ("year", "month", "day")
    return {name: held(parts[i]) if i < len(parts) else None for i, name in enumerate(names)}


def external_id(kind: str, value: str, url: str | None = None) -> dict[str, Any]:
    """A ``self`` external id (the only relationship these renderers write)."""
    ext: dict[str, Any] = {"external-id-type": kind, "external-id-value": value}
    if url:
        ext["external-id-url"] = {"value": url}
    ext["external-id-relationship"] = "self"
    return ext


def source_id(source: str, item_id: str) -> dict[str, Any]:
    """``source-work-id`` = ``<source>:<id>``: how pidsync finds its own item on a record."""
    return external_id("source-work-id", source_work_id(source, item_id))


def asserting(named: Organization | None, configured: Organization | None) -> Organization:
    """The organisation an item asserts: the one it names, else the client's configured one."""
    org = named or configured
    if org is None:
        raise MissingFields(
            "ORCID", ["organization"], {"organization": "none given and none is configured"}
        )
    return org


def body_with(put_code: int | None) -> dict[str, Any]:
    """A section body's start: the put-code first when updating an item ORCID already holds."""
    return {"put-code": put_code} if put_code is not None else {}


def organization(org: Organization) -> dict[str, Any]:
    if org.ror is None:
        raise MissingFields("ORCID", ["organization.ror"], {"organization.ror": _NEEDS_ID})
    return {
        "name": org.name,
        "address": {"city": org.city, "region": org.region, "country": org.country},
        "disambiguated-organization": {
            "disambiguated-organization-identifier": org.ror,
            "disambiguation-source": "ROR",
        },
    }


def funder_organization(funder: Funder) -> dict[str, Any]:
    if funder.ror is not None:
        identifier, source = funder.ror, "ROR"
    elif funder.funder_id is not None:
        identifier, source = FUNDREF_URL + funder.funder_id, "FUNDREF"
    else:  # the model refuses such a funder; kept for callers that build one by hand
        raise MissingFields("ORCID", ["funder.ror"], {"funder.ror": _NEEDS_ID})
    return {
        "name": funder.name,
        # ORCID's organisation address needs a city; a funder's is often unknown to a CRIS.
        "address": {"city": funder.city or "-", "region": None, "country": funder.country},
        "disambiguated-organization": {
            "disambiguated-organization-identifier": identifier,
            "disambiguation-source": source,
        },
    }


# --- XML --------------------------------------------------------------------------------------


def sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def root(section: str, body: dict[str, Any], tag: str | None = None) -> etree._Element:
    """The root element ``<section:section>`` with ``put-code`` when the body has one."""
    section_ns = ns(section)
    element = etree.Element(
        "{" + section_ns + "}" + (tag or section), nsmap={section: section_ns, "common": COMMON_NS}
    )
    if body.get("put-code") is not None:
        element.set("put-code", str(body["put-code"]))
    return element


def date_xml(parent: etree._Element, tag: str, date: dict[str, Any] | None) -> None:
    if not date:
        return
    element = sub(parent, tag)
    for part in ("year", "month", "day"):
        if date.get(part):
            sub(element, C + part, date[part]["value"])


def external_id_xml(element: etree._Element, ext: dict[str, Any]) -> None:
    sub(element, C + "external-id-type", ext["external-id-type"])
    sub(element, C + "external-id-value", ext["external-id-value"])
    if ext.get("external-id-url"):
        sub(element, C + "external-id-url", ext["external-id-url"]["value"])
    sub(element, C + "external-id-relationship", ext["external-id-relationship"])


def external_ids_xml(parent: etree._Element, tag: str, holder: dict[str, Any] | None) -> None:
    if holder is None:
        return
    element = sub(parent, tag)
    for ext in holder["external-id"]:
        external_id_xml(sub(element, C + "external-id"), ext)


def organization_xml(parent: etree._Element, tag: str, org: dict[str, Any]) -> None:
    element = sub(parent, tag)
    sub(element, C + "name", org["name"])
    address = sub(element, C + "address")
    for part in ("city", "region", "country"):
        if org["address"].get(part):
            sub(address, C + part, org["address"][part])
    disambiguated = org.get("disambiguated-organization")
    if disambiguated:
        holder = sub(element, C + "disambiguated-organization")
        sub(
            holder,
            C + "disambiguated-organization-identifier",
            disambiguated["disambiguated-organization-identifier"],
        )
        sub(holder, C + "disambiguation-source", disambiguated["disambiguation-source"])
