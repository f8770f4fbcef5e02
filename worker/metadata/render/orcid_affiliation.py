"""Affiliation → ORCID v3.0 JSON and XML (``common:affiliation`` under the section's element:
``employment:employment``, ``education:education``, ...), valid against the section's XSD.

The organisation is the event's, or the one the caller passes (the client's configured
organisation: an institution asserts affiliations with itself). The item always carries
``source-work-id`` = ``<source>:<id>`` as a ``self`` external id, so pidsync can recognise its
own item when an answer was lost.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from worker.metadata.orcid_items import Affiliation, Organization
from worker.metadata.render import orcid_activity as a
from worker.metadata.render.common import XML_DECLARATION, truncate

C = a.C


def render_affiliation_json(
    item: Affiliation,
    *,
    source: str,
    organization: Organization | None = None,
    put_code: int | None = None,
) -> dict[str, Any]:
    """The ORCID JSON body of ``item`` (``organization``: used when the item names none)."""
    org = a.asserting(item.organization, organization)
    body = a.body_with(put_code)
    body |= {
        "department-name": truncate(item.department, a.SHORT_TEXT_MAX) if item.department else None,
        "role-title": truncate(item.role, a.SHORT_TEXT_MAX) if item.role else None,
        "start-date": a.fuzzy_date(item.start_date),
        "end-date": a.fuzzy_date(item.end_date),
        "organization": a.organization(org),
        "url": a.held(item.url),
        "external-ids": {"external-id": [a.source_id(source, item.id)]},
    }
    return body


def affiliation_json_to_element(section: str, body: dict[str, Any]) -> etree._Element:
    """The ``<section:section>`` element for an affiliation JSON body as rendered above."""
    root = a.root(section, body)
    if body.get("department-name"):
        a.sub(root, C + "department-name", body["department-name"])
    if body.get("role-title"):
        a.sub(root, C + "role-title", body["role-title"])
    a.date_xml(root, C + "start-date", body.get("start-date"))
    a.date_xml(root, C + "end-date", body.get("end-date"))
    a.organization_xml(root, C + "organization", body["organization"])
    if body.get("url"):
        a.sub(root, C + "url", body["url"]["value"])
    a.external_ids_xml(root, C + "external-ids", body.get("external-ids"))
    return root


def render_affiliation_xml(
    item: Affiliation,
    *,
    source: str,
    organization: Organization | None = None,
    put_code: int | None = None,
) -> str:
    body = render_affiliation_json(
        item, source=source, organization=organization, put_code=put_code
    )
    element = affiliation_json_to_element(item.kind, body)
    return XML_DECLARATION + etree.tostring(element, encoding="unicode")
