"""Review → ORCID v3.0 JSON and XML (``peer-review:peer-review``), valid against
peer-review-3.0.xsd.

The review belongs to its journal's group, ``issn:<ISSN>`` (registered in ORCID's group-id
registry before the first review of that journal is placed). Its ``self`` review identifiers
are the ones the event gives plus ``source-work-id`` = ``<source>:<id>``; the reviewed work's
DOI, when known, is the subject. The convening organisation is the event's or the client's.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from worker.metadata.orcid_items import Organization, Review
from worker.metadata.render import orcid_activity as a
from worker.metadata.render.common import XML_DECLARATION, truncate
from worker.metadata.render.orcid_json import TITLE_MAX

C = a.C
P = "{" + a.ns("peer-review") + "}"


def group_record(item: Review) -> dict[str, Any]:
    """The group-id record ORCID needs for the review's journal (``POST /group-id-record``)."""
    return {
        "name": truncate(item.journal.title, a.SHORT_TEXT_MAX),
        "group-id": item.group_id,
        "description": truncate(f"Peer reviews for {item.journal.title}", a.SHORT_TEXT_MAX),
        "type": "journal",
    }


def render_review_json(
    item: Review,
    *,
    source: str,
    organization: Organization | None = None,
    put_code: int | None = None,
) -> dict[str, Any]:
    org = a.asserting(item.organization, organization)
    identifiers = [a.external_id(i.type, i.value) for i in item.identifiers]
    identifiers.append(a.source_id(source, item.id))
    body = a.body_with(put_code)
    body |= {
        "reviewer-role": item.role,
        "review-identifiers": {"external-id": identifiers},
        "review-url": a.held(item.url),
        "review-type": item.type,
        "review-completion-date": a.fuzzy_date(item.completion_date),
        "review-group-id": item.group_id,
        "subject-external-identifier": None
        if item.subject_doi is None
        else a.external_id("doi", item.subject_doi, "https://doi.org/" + item.subject_doi),
        "subject-container-name": a.held(truncate(item.journal.title, a.SHORT_TEXT_MAX)),
        "subject-type": "journal-article" if item.subject_doi or item.subject_title else None,
        "subject-name": None
        if item.subject_title is None
        else {"title": {"value": truncate(item.subject_title, TITLE_MAX)}},
        "convening-organization": a.organization(org),
    }
    return body


def review_json_to_element(body: dict[str, Any]) -> etree._Element:
    root = a.root("peer-review", body)
    a.sub(root, P + "reviewer-role", body["reviewer-role"])
    a.external_ids_xml(root, P + "review-identifiers", body["review-identifiers"])
    if body.get("review-url"):
        a.sub(root, P + "review-url", body["review-url"]["value"])
    a.sub(root, P + "review-type", body["review-type"])
    a.date_xml(root, P + "review-completion-date", body["review-completion-date"])
    a.sub(root, P + "review-group-id", body["review-group-id"])
    if body.get("subject-external-identifier"):
        subject = a.sub(root, P + "subject-external-identifier")
        a.external_id_xml(subject, body["subject-external-identifier"])
    if body.get("subject-container-name"):
        a.sub(root, P + "subject-container-name", body["subject-container-name"]["value"])
    if body.get("subject-type"):
        a.sub(root, P + "subject-type", body["subject-type"])
    if body.get("subject-name"):
        name = a.sub(root, P + "subject-name")
        a.sub(name, C + "title", body["subject-name"]["title"]["value"])
    a.organization_xml(root, P + "convening-organization", body["convening-organization"])
    return root


def render_review_xml(
    item: Review,
    *,
    source: str,
    organization: Organization | None = None,
    put_code: int | None = None,
) -> str:
    body = render_review_json(item, source=source, organization=organization, put_code=put_code)
    return XML_DECLARATION + etree.tostring(review_json_to_element(body), encoding="unicode")
