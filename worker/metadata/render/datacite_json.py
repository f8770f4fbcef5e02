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
    WorkType,
    mapping,
)
from worker.metadata.work import SPDX_SCHEME, Container
from worker.pids.identifiers import (
    InvalidIdentifier,
    doi_url,
    funder_id_kind,
    normalize_funder_id,
)

if TYPE_CHECKING:
    from worker.metadata.kernel import GeoLocation, ItemName, Point, RelatedItem
    from worker.metadata.work import Affiliation, Contributor, Funding, Work

TARGET = "datacite"
CREATOR_NEEDED = "missing: at least one author (or, for an edited work, an editor) is needed"
ORCID_SCHEME = {"nameIdentifierScheme": "ORCID", "schemeUri": "https://orcid.org"}
ROR_SCHEME = {"affiliationIdentifierScheme": "ROR", "schemeUri": "https://ror.org"}


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
            "resourceTypeGeneral": work.resource_type_general or row.datacite_general,
            "resourceType": work.resource_type or row.datacite_type,
        },
        "creators": [_name(c) for c in datacite_creators(work)],
        "titles": _titles(work),
        "publisher": _publisher(work),
        "publicationYear": work.publication_date[:4] if work.publication_date else None,
        "subjects": [{"subject": keyword} for keyword in work.keywords]
        + [_subject(s) for s in work.subjects],
        "contributors": [
            {**_name(c), "contributorType": c.contributor_type or ROLES[c.role].datacite}
            for c in others
        ],
        "dates": _dates(work),
        "language": work.language,
        "identifiers": _own_isbn(work)
        + [
            {"identifier": alt.identifier, "identifierType": alt.type}
            for alt in work.alternate_identifiers
        ],
        "sizes": list(work.sizes),
        "formats": list(work.formats),
        "relatedIdentifiers": [_related(rel) for rel in work.related_identifiers]
        + _other_issns(work),
        "version": work.resource_version,
        "rightsList": _rights(work),
        "descriptions": _descriptions(work),
        "geoLocations": [_geo(g) for g in work.geo_locations],
        "fundingReferences": [_funding(f) for f in work.funding],
        "relatedItems": _related_items(work) + [_item(i) for i in work.related_items],
    }
    return {key: value for key, value in attrs.items() if value}


def _clean(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if value not in (None, "", [], {})}


def _publisher(work: Work) -> str | dict[str, Any] | None:
    """A plain name, or (DataCite 4.5) an object with the publisher's identifier and language."""
    plain = work.publisher_identifier is None and not work.publisher_language
    if work.publisher is None or plain:
        return work.publisher
    ident = work.publisher_identifier
    return _clean({
        "name": work.publisher,
        "publisherIdentifier": ident.identifier if ident else None,
        "publisherIdentifierScheme": ident.scheme if ident else None,
        "schemeUri": ident.scheme_uri if ident else None,
        "lang": work.publisher_language,
    })  # fmt: skip


def _subject(subject: Any) -> dict[str, Any]:
    return _clean({
        "subject": subject.subject, "subjectScheme": subject.scheme,
        "schemeUri": subject.scheme_uri, "valueUri": subject.value_uri,
        "classificationCode": subject.classification_code, "lang": subject.language,
    })  # fmt: skip


def _related(rel: Any) -> dict[str, Any]:
    return _clean({
        "relatedIdentifier": rel.identifier, "relatedIdentifierType": rel.identifier_type,
        "relationType": rel.relation_type, "resourceTypeGeneral": rel.resource_type_general,
        "relationTypeInformation": rel.relation_type_information,
        "relatedMetadataScheme": rel.related_metadata_scheme, "schemeUri": rel.scheme_uri,
        "schemeType": rel.scheme_type,
    })  # fmt: skip


def container_issns(container: Container) -> list[tuple[str, str]]:
    return [(kind, value) for kind, value in
            (("ISSN", container.issn), ("EISSN", container.eissn), ("LISSN", container.lissn))
            if value]  # fmt: skip


def _other_issns(work: Work) -> list[dict[str, Any]]:
    """The container's ISSNs its relatedItem has no room for (it holds one identifier), as
    relatedIdentifiers the work IsPublishedIn: an eISSN beside the print ISSN stays."""
    items = _related_items(work)
    if work.container is None:
        return []
    identifier = items[0].get("relatedItemIdentifier", {}) if items else {}
    written = identifier.get("relatedItemIdentifier")
    return [
        {"relatedIdentifier": value, "relatedIdentifierType": kind, "relationType": "IsPublishedIn"}
        for kind, value in container_issns(work.container)
        if value != written
    ]


def _geo(geo: GeoLocation) -> dict[str, Any]:
    return _clean({
        "geoLocationPlace": geo.place,
        "geoLocationPoint": _point(geo.point) if geo.point else None,
        "geoLocationBox": {
            "westBoundLongitude": geo.box.west, "eastBoundLongitude": geo.box.east,
            "southBoundLatitude": geo.box.south, "northBoundLatitude": geo.box.north,
        } if geo.box else None,
        "geoLocationPolygon": [
            _clean({"polygonPoint": [_point(p) for p in polygon.points],
                    "inPolygonPoint": _point(polygon.in_point) if polygon.in_point else None})
            for polygon in geo.polygons
        ],
    })  # fmt: skip


def _point(point: Point) -> dict[str, float]:
    return {"pointLongitude": point.longitude, "pointLatitude": point.latitude}


def _item(item: RelatedItem) -> dict[str, Any]:
    ident = item.identifier
    return _clean({
        "relatedItemType": item.type, "relationType": item.relation_type,
        "relationTypeInformation": item.relation_type_information,
        "relatedItemIdentifier": _clean({
            "relatedItemIdentifier": ident.identifier, "relatedItemIdentifierType": ident.type,
            "relatedMetadataScheme": ident.related_metadata_scheme,
            "schemeUri": ident.scheme_uri, "schemeType": ident.scheme_type,
        }) if ident else None,
        "creators": [_item_name(n) for n in item.creators],
        "titles": [_clean({"title": t.title, "titleType": t.type, "lang": t.language})
                   for t in item.titles],
        "publicationYear": item.publication_year, "volume": item.volume, "issue": item.issue,
        "number": item.number, "numberType": item.number_type, "firstPage": item.first_page,
        "lastPage": item.last_page, "publisher": item.publisher, "edition": item.edition,
        "contributors": [_item_name(n) for n in item.contributors],
    })  # fmt: skip


def _item_name(name: ItemName) -> dict[str, Any]:
    return _clean({
        "name": name.name, "nameType": name.name_type, "givenName": name.given,
        "familyName": name.family, "lang": name.language, "contributorType": name.contributor_type,
    })  # fmt: skip


def _own_isbn(work: Work) -> list[dict[str, str]]:
    if work.type in OWN_ISBN_TYPES and work.container and work.container.isbn:
        return [{"identifier": work.container.isbn, "identifierType": "ISBN"}]
    return []


def _related_items(work: Work) -> list[dict[str, Any]]:
    """The container as the relatedItem the work IsPublishedIn (none without a container, or
    when the container holds only the work's own ISBN)."""
    if work.container is None:
        return []
    item = item_of_container(work.type, work.container.model_dump(exclude_none=True))
    return [item] if item is not None else []


def item_of_container(work_type: WorkType | str, fields: dict[str, Any]) -> dict[str, Any] | None:
    """The relatedItem a container (its fields as a dict) is written as, or None when it has
    nothing the item can carry. The adapter asks it too: a relatedItem is read as the container
    only when the container writes it back the same."""
    try:
        container = Container.model_validate(fields)
    except ValueError:
        return None
    work_type = WorkType(work_type)
    item: dict[str, Any] = {
        "relationType": "IsPublishedIn",
        "relatedItemType": DATACITE_CONTAINER_TYPE.get(work_type, DATACITE_CONTAINER_DEFAULT),
    }
    isbn = None if work_type in OWN_ISBN_TYPES else container.isbn
    candidates = [("ISSN", container.issn), ("EISSN", container.eissn),
                  ("LISSN", container.lissn), ("ISBN", isbn)]  # fmt: skip
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
    return item if len(item) > 2 else None


def _titles(work: Work) -> list[dict[str, str]]:
    titles: list[dict[str, str]] = [_clean({"title": work.title, "lang": work.title_language})]
    if work.subtitle:
        subtitle = {"title": work.subtitle, "titleType": "Subtitle", "lang": work.subtitle_language}
        titles.append(_clean(subtitle))
    titles += [
        _clean({"title": alt.title, "titleType": alt.type, "lang": alt.language})
        for alt in work.alternative_titles
    ]
    return titles


def _rights(work: Work) -> list[dict[str, str]]:
    rights_list = []
    if work.license is not None:
        rights: dict[str, str] = {"rightsUri": work.license.url}
        if work.license.name:
            rights["rights"] = work.license.name
        if work.license.identifier:
            rights["rightsIdentifier"] = work.license.identifier
            rights.update(SPDX_SCHEME)
        if work.license.language:
            rights["lang"] = work.license.language
        rights_list.append(rights)
    rights_list += [
        _clean({
            "rights": entry.statement, "rightsUri": entry.uri,
            "rightsIdentifier": entry.identifier,
            "rightsIdentifierScheme": entry.identifier_scheme, "schemeUri": entry.scheme_uri,
            "lang": entry.language,
        })
        for entry in work.rights
    ]  # fmt: skip
    return rights_list


def _name(contributor: Contributor) -> dict[str, Any]:
    if contributor.is_person:
        name: dict[str, Any] = {"name": contributor.inverted_name, "nameType": "Personal"}
        if contributor.given:
            name["givenName"] = contributor.given
        if contributor.family:
            name["familyName"] = contributor.family
    else:
        name = {"name": contributor.name, "nameType": "Organizational"}
    if contributor.language:
        name["lang"] = contributor.language
    identifiers = []
    if contributor.orcid:
        orcid = "https://orcid.org/" + contributor.orcid
        identifiers.append({"nameIdentifier": orcid, **ORCID_SCHEME})
    elif contributor.ror:
        identifiers.append({"nameIdentifier": contributor.ror, "nameIdentifierScheme": "ROR",
                            "schemeUri": "https://ror.org"})  # fmt: skip
    identifiers += [
        _clean({"nameIdentifier": other.identifier, "nameIdentifierScheme": other.scheme,
                "schemeUri": other.scheme_uri})
        for other in contributor.identifiers
    ]  # fmt: skip
    if identifiers:
        name["nameIdentifiers"] = identifiers
    if contributor.affiliations:
        name["affiliation"] = [_affiliation(a) for a in contributor.affiliations]
    return name


def _affiliation(affiliation: Affiliation) -> dict[str, str]:
    entry: dict[str, str] = {"name": affiliation.name or affiliation.ror or ""}
    if affiliation.ror:
        entry["affiliationIdentifier"] = affiliation.ror
        entry.update(ROR_SCHEME)
    elif affiliation.identifier:
        other = affiliation.identifier
        entry.update(_clean({"affiliationIdentifier": other.identifier,
                             "affiliationIdentifierScheme": other.scheme,
                             "schemeUri": other.scheme_uri}))  # fmt: skip
    return entry


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
        descriptions.append(_clean({"description": work.abstract, "descriptionType": "Abstract",
                                    "lang": work.abstract_language}))  # fmt: skip
    descriptions += [
        _clean({"description": d.text, "descriptionType": d.type, "lang": d.language})
        for d in work.descriptions
    ]
    return descriptions


def funder_reference(funder_id: str) -> dict[str, str]:
    """funderIdentifier and its type for a Funding's funder_id (a Crossref Funder ID, a ROR
    id), as written; the adapter keeps another form whole (``funder_identifier``)."""
    try:
        funder_id = normalize_funder_id(funder_id)
    except InvalidIdentifier:
        return {}
    if funder_id_kind(funder_id) == "ror":
        return {"funderIdentifier": funder_id, "funderIdentifierType": "ROR"}
    return {"funderIdentifier": doi_url(funder_id), "funderIdentifierType": "Crossref Funder ID"}


def _funding(funding: Funding) -> dict[str, str]:
    reference = {"funderName": funding.funder_name}
    if funding.funder_identifier:
        other = funding.funder_identifier
        reference["funderIdentifier"] = other.identifier
        reference["funderIdentifierType"] = other.type
        if other.scheme_uri:
            reference["schemeUri"] = other.scheme_uri
    elif funding.funder_id:
        reference.update(funder_reference(funding.funder_id))
    if funding.award_number:
        reference["awardNumber"] = funding.award_number
    if funding.award_uri:
        reference["awardUri"] = funding.award_uri
    if funding.award_title:
        reference["awardTitle"] = funding.award_title
    return reference
