"""Funding → ORCID v3.0 JSON and XML (``funding:funding``), valid against funding-3.0.xsd.

The funder is a disambiguated organisation (ROR, else its Crossref Funder ID as ``FUNDREF``).
``self`` external ids: the grant number (``grant_number``), the grant DOI (``doi``) and always
``source-work-id`` = ``<source>:<id>``; ORCID refuses a second funding from the same client
sharing one of them (409/9021), which pidsync adopts. Every contributor is listed with their
role; the item is the same on each contributor's record.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from worker.metadata.orcid_items import Funding
from worker.metadata.render import orcid_activity as a
from worker.metadata.render.common import XML_DECLARATION, truncate
from worker.metadata.render.orcid_json import CREDIT_NAME_MAX, TITLE_MAX

C = a.C
F = "{" + a.ns("funding") + "}"


def _contributors(item: Funding) -> list[dict[str, Any]]:
    out = []
    for contributor in item.contributors:
        entry: dict[str, Any] = {}
        if contributor.orcid:
            entry["contributor-orcid"] = {
                "uri": "https://orcid.org/" + contributor.orcid,
                "path": contributor.orcid,
                "host": "orcid.org",
            }
        name = contributor.credit_name
        entry["credit-name"] = a.held(truncate(name, CREDIT_NAME_MAX) if name else None)
        entry["contributor-attributes"] = {"contributor-role": contributor.role}
        out.append(entry)
    return out


def self_ids(item: Funding, source: str) -> list[dict[str, Any]]:
    ids = []
    if item.grant_number:
        ids.append(a.external_id("grant_number", item.grant_number))
    if item.doi:
        ids.append(a.external_id("doi", item.doi, "https://doi.org/" + item.doi))
    ids.append(a.source_id(source, item.id))
    return ids


def render_funding_json(
    item: Funding, *, source: str, put_code: int | None = None
) -> dict[str, Any]:
    body = a.body_with(put_code)
    body |= {
        "type": item.type,
        "title": {"title": {"value": truncate(item.title, TITLE_MAX)}},
        "amount": None
        if item.amount is None
        else {"value": item.amount.value, "currency-code": item.amount.currency},
        "url": a.held(item.url),
        "start-date": a.fuzzy_date(item.start_date),
        "end-date": a.fuzzy_date(item.end_date),
        "external-ids": {"external-id": self_ids(item, source)},
        "contributors": {"contributor": _contributors(item)},
        "organization": a.funder_organization(item.funder),
    }
    return body


def funding_json_to_element(body: dict[str, Any]) -> etree._Element:
    """The ``<funding:funding>`` element for a funding JSON body as rendered above."""
    root = a.root("funding", body)
    a.sub(root, F + "type", body["type"])
    title = a.sub(root, F + "title")
    a.sub(title, C + "title", body["title"]["title"]["value"])
    if body.get("amount"):
        amount = a.sub(root, F + "amount", body["amount"]["value"])
        amount.set("currency-code", body["amount"]["currency-code"])
    if body.get("url"):
        a.sub(root, C + "url", body["url"]["value"])
    a.date_xml(root, C + "start-date", body.get("start-date"))
    a.date_xml(root, C + "end-date", body.get("end-date"))
    a.external_ids_xml(root, C + "external-ids", body.get("external-ids"))
    contributors = (body.get("contributors") or {}).get("contributor") or []
    if contributors:
        holder = a.sub(root, F + "contributors")
        for contributor in contributors:
            element = a.sub(holder, F + "contributor")
            if contributor.get("contributor-orcid"):
                orcid = a.sub(element, C + "contributor-orcid")
                for part in ("uri", "path", "host"):
                    a.sub(orcid, C + part, contributor["contributor-orcid"][part])
            if contributor.get("credit-name"):
                a.sub(element, F + "credit-name", contributor["credit-name"]["value"])
            attributes = a.sub(element, F + "contributor-attributes")
            role = contributor["contributor-attributes"]["contributor-role"]
            a.sub(attributes, F + "contributor-role", role)
    a.organization_xml(root, C + "organization", body["organization"])
    return root


def render_funding_xml(item: Funding, *, source: str, put_code: int | None = None) -> str:
    element = funding_json_to_element(render_funding_json(item, source=source, put_code=put_code))
    return XML_DECLARATION + etree.tostring(element, encoding="unicode")
