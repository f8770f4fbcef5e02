"""Work → DataCite REST JSON attributes (``PUT /dois/{doi}``, camelCase as DataCite takes them).

Required: ``doi``, ``publisher``, ``publication_date`` (for publicationYear), at least one
author in ``contributors`` (DataCite creators) and, unless ``draft=True``, ``url`` (DataCite
needs it for registered and findable DOIs). A draft needs only the DOI.

A work with editors but no authors (an edited book) has its editors as creators; they stay
contributors of type Editor too. The ``container`` (journal, book, proceedings, series) becomes
the relatedItem the work ``IsPublishedIn``: type from the work type, title, one identifier
(ISSN, else eISSN, else ISBN; for a chapter or paper the book's ISBN first), volume, issue,
first and last page. A book's, report's or thesis's own ISBN (``container.isbn`` for those
types) is an alternate identifier instead. No ``container`` attribute is sent: DataCite derives
its read-only ``container`` from the relatedItems.

The ``datacite`` package on PyPI is not used to build these: its JSON schema is an Invenio
flavour of DataCite JSON (publisher as an object, ``schemaVersion`` required, no 4.6/4.7
vocabulary such as Translator, Poster, Presentation), not the attributes the REST API takes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worker.metadata.render.common import require
from worker.metadata.types import (
    DATACITE_CONTAINER_DEFAULT,
    DATACITE_CONTAINER_TYPE,
    OWN_ISBN_TYPES,
    ROLES,
    ContributorRole,
    mapping,
)
from worker.pids.identifiers import doi_url, funder_id_kind

if TYPE_CHECKING:
    from worker.metadata.work import Contributor, Funding, Work

TARGET = "datacite"
CREATOR_NEEDED = "missing: at least one author (or, for an edited work, an editor) is needed"
ORCID_SCHEME = {"nameIdentifierScheme": "ORCID", "schemeUri": "https://orcid.org"}
ROR_SCHEME = {"affiliationIdentifierScheme": "ROR", "schemeUri": "https://ror.org"}
SPDX_SCHEME = {"rightsIdentifierScheme": "SPDX", "schemeUri": "https://spdx.org/licenses/"}


def check_datacite(work: Work, *, draft: bool = False) -> None:
    """Raise MissingFields unless ``work`` has what DataCite needs."""
    if draft:
        require(TARGET, [("doi", work.doi)])
        return
    require(
        TARGET,
        [
            ("doi", work.doi),
            ("url", work.url),
            ("publisher", work.publisher),
            ("publication_date", work.publication_date),
            ("contributors", datacite_creators(work)),
        ],
        {"contributors": CREATOR_NEEDED},
    )


def datacite_creators(work: Work) -> list[Contributor]:
    """DataCite creators: the authors; for a work with editors but no authors (an edited
    book), the editors (who are listed as Editor contributors as well)."""
    return work.authors or work.contributors_with(ContributorRole.EDITOR)


def render_datacite_attributes(work: Work, *, draft: bool = False) -> dict[str, Any]:
    """The ``data.attributes`` of a DataCite ``PUT /dois/{doi}`` for ``work`` (no ``event``)."""
    check_datacite(work, draft=draft)
    return work_to_attributes(work)


def work_to_attributes(work: Work) -> dict[str, Any]:
    """The attributes for whatever ``work`` holds (no requirement check: the XML renderer and
    drafts check for themselves). Empty properties are left out."""
    row = mapping(work.type)
    others = [c for c in work.contributors if c.role != ContributorRole.AUTHOR]
    attrs: dict[str, Any] = {
        "doi": work.doi,
        "url": work.url,
        "types": {
            "resourceTypeGeneral": row.datacite_general,
            "resourceType": work.resource_type or row.datacite_type,
        },
        "creators": [_name(c) for c in datacite_creators(work)],
        "titles": _titles(work),
        "publisher": work.publisher,
        "publicationYear": work.publication_date[:4] if work.publication_date else None,
        "subjects": [{"subject": keyword} for keyword in work.keywords],
        "contributors": [{**_name(c), "contributorType": ROLES[c.role].datacite} for c in others],
        "dates": _dates(work),
        "language": work.language,
        "identifiers": _own_isbn(work),
        "relatedIdentifiers": [
            {
                "relatedIdentifier": rel.identifier,
                "relatedIdentifierType": rel.identifier_type,
                "relationType": rel.relation_type,
            }
            for rel in work.related_identifiers
        ],
        "version": work.resource_version,
        "rightsList": _rights(work),
        "descriptions": _descriptions(work),
        "fundingReferences": [_funding(f) for f in work.funding],
        "relatedItems": _related_items(work),
    }
    return {key: value for key, value in attrs.items() if value}


def _own_isbn(work: Work) -> list[dict[str, str]]:
    if work.type in OWN_ISBN_TYPES and work.container and work.container.isbn:
        return [{"identifier": work.container.isbn, "identifierType": "ISBN"}]
    return []


def _related_items(work: Work) -> list[dict[str, Any]]:
    """The container as the relatedItem the work IsPublishedIn (none without a container, or
    when the container holds only the work's own ISBN)."""
    container = work.container
    if container is None:
        return []
    item: dict[str, Any] = {
        "relationType": "IsPublishedIn",
        "relatedItemType": DATACITE_CONTAINER_TYPE.get(work.type, DATACITE_CONTAINER_DEFAULT),
    }
    isbn = None if work.type in OWN_ISBN_TYPES else container.isbn
    candidates = [("ISSN", container.issn), ("EISSN", container.eissn), ("ISBN", isbn)]
    if item["relatedItemType"] in ("Book", "ConferenceProceeding"):
        candidates.insert(0, candidates.pop())  # a book is known by its ISBN first
    for kind, value in candidates:
        if value:
            item["relatedItemIdentifier"] = {
                "relatedItemIdentifier": value,
                "relatedItemIdentifierType": kind,
            }
            break
    if container.title:
        item["titles"] = [{"title": container.title}]
    parts = {"volume": container.volume, "issue": container.issue,
             "firstPage": container.first_page, "lastPage": container.last_page}  # fmt: skip
    item.update({key: value for key, value in parts.items() if value})
    return [item] if len(item) > 2 else []


def _titles(work: Work) -> list[dict[str, str]]:
    titles: list[dict[str, str]] = [{"title": work.title}]
    if work.subtitle:
        titles.append({"title": work.subtitle, "titleType": "Subtitle"})
    for alt in work.alternative_titles:
        title = {"title": alt.title, "titleType": alt.type}
        if alt.language:
            title["lang"] = alt.language
        titles.append(title)
    return titles


def _rights(work: Work) -> list[dict[str, str]]:
    if work.license is None:
        return []
    rights: dict[str, str] = {"rightsUri": work.license.url}
    if work.license.name:
        rights["rights"] = work.license.name
    if work.license.identifier:
        rights["rightsIdentifier"] = work.license.identifier
        rights.update(SPDX_SCHEME)
    return [rights]


def _name(contributor: Contributor) -> dict[str, Any]:
    if contributor.is_person:
        name: dict[str, Any] = {"name": contributor.inverted_name, "nameType": "Personal"}
        if contributor.given:
            name["givenName"] = contributor.given
        if contributor.family:
            name["familyName"] = contributor.family
    else:
        name = {"name": contributor.name, "nameType": "Organizational"}
    if contributor.orcid:
        name["nameIdentifiers"] = [
            {"nameIdentifier": "https://orcid.org/" + contributor.orcid, **ORCID_SCHEME}
        ]
    elif contributor.ror:
        name["nameIdentifiers"] = [
            {"nameIdentifier": contributor.ror, "nameIdentifierScheme": "ROR",
             "schemeUri": "https://ror.org"}
        ]  # fmt: skip
    if contributor.affiliations:
        affiliations = []
        for affiliation in contributor.affiliations:
            entry: dict[str, str] = {"name": affiliation.name or affiliation.ror or ""}
            if affiliation.ror:
                entry["affiliationIdentifier"] = affiliation.ror
                entry.update(ROR_SCHEME)
            affiliations.append(entry)
        name["affiliation"] = affiliations
    return name


def _dates(work: Work) -> list[dict[str, str]]:
    dates = []
    # The year alone travels as publicationYear; a finer publication date as an Issued date.
    if work.publication_date and len(work.publication_date) > 4:
        dates.append({"date": work.publication_date, "dateType": "Issued"})
    for entry in work.dates:
        date = {"date": entry.date, "dateType": entry.type}
        if entry.information:
            date["dateInformation"] = entry.information
        dates.append(date)
    return dates


def _descriptions(work: Work) -> list[dict[str, str]]:
    descriptions = []
    if work.abstract:
        descriptions.append({"description": work.abstract, "descriptionType": "Abstract"})
    descriptions += [{"description": d.text, "descriptionType": d.type} for d in work.descriptions]
    return descriptions


def _funding(funding: Funding) -> dict[str, str]:
    reference = {"funderName": funding.funder_name}
    if funding.funder_id:
        if funder_id_kind(funding.funder_id) == "ror":
            reference["funderIdentifier"] = funding.funder_id
            reference["funderIdentifierType"] = "ROR"
        else:
            reference["funderIdentifier"] = doi_url(funding.funder_id)
            reference["funderIdentifierType"] = "Crossref Funder ID"
    if funding.award_number:
        reference["awardNumber"] = funding.award_number
    if funding.award_uri:
        reference["awardUri"] = funding.award_uri
    if funding.award_title:
        reference["awardTitle"] = funding.award_title
    return reference
