"""DataCite REST JSON attributes (or DataCite XML) → Work, listing what a Work cannot hold.

Read back through the DataCite renderers, a record keeps its identifier, creators (names,
ORCID, ROR affiliations), titles, publisher, year, resource type, descriptions, subjects,
rights, funding, related identifiers, language, version (→ ``resource_version``) and dates;
the relatedItem it ``IsPublishedIn`` (or, lacking one, DataCite's derived ``container``)
becomes the Work's ``container``, and an ISBN alternate identifier of a book, report or thesis
its own ISBN. Creators who are all Editor contributors as well (how the renderer writes an
edited book) are read as the editors they are, not as authors besides.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from worker.metadata.adapters.common import build_work, reads, unhandled
from worker.metadata.adapters.datacite import datacite_xml_to_attributes
from worker.metadata.errors import InputError
from worker.metadata.render.datacite_json import funder_reference, item_of_container
from worker.metadata.render.datacite_xml import polygons
from worker.metadata.types import (
    FROM_DATACITE_CONTRIBUTOR_TYPE,
    FROM_DATACITE_GENERAL,
    OWN_ISBN_TYPES,
    ROLES,
    TYPES,
    ContributorRole,
    WorkType,
)
from worker.metadata.vocab import CONTRIBUTOR_TYPES, DESCRIPTION_TYPES, TITLE_TYPES

if TYPE_CHECKING:
    from worker.metadata.work import Work

SOURCE = "datacite"
_HANDLED = {
    "doi", "url", "types", "creators", "titles", "publisher", "publicationYear", "subjects",
    "contributors", "dates", "language", "relatedIdentifiers", "version", "rightsList",
    "descriptions", "fundingReferences", "relatedItems", "container", "identifiers",
    "geoLocations", "sizes", "formats",
}  # fmt: skip
_IGNORED = {
    "prefix", "suffix", "event", "state", "schemaVersion", "metadataVersion", "source", "isActive",
    "created", "registered", "published", "updated", "xml", "landingPage", "viewCount",
    "downloadCount", "citationCount", "referenceCount", "partCount", "partOfCount", "versionCount",
    "versionOfCount", "viewsOverTime", "downloadsOverTime", "citationsOverTime", "reason",
    "contentUrl", "agency",
}  # fmt: skip


def datacite_xml_to_work(xml: bytes | str, *, work_id: str | None = None) -> tuple[Work, list[str]]:
    """A Work from DataCite XML (any kernel-4 version), and what could not be represented."""
    attrs = datacite_xml_to_attributes(xml, publisher_object=True)
    return datacite_attributes_to_work(attrs, work_id=work_id)


def camel_keys(value: Any) -> Any:
    """DataCite JSON with snake_case keys (``resource_type_general``, ``name_identifiers``,
    ``scheme_uri``: some exports and older clients write them) in DataCite's camelCase, at
    every depth; values are left alone."""
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(key, str) and "_" in key.strip("_"):
            head, *rest = key.split("_")
            key = head + "".join(part[:1].upper() + part[1:] for part in rest)  # noqa: PLW2901
        result[key] = camel_keys(item)
    return result


def unwrap_attributes(data: Any) -> dict[str, Any]:
    """The attributes of a DataCite JSON:API document, or the attributes themselves."""
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        raise InputError(
            "datacite-json",
            f'a DataCite list of {len(data["data"])} records ({{"data": [...]}}), not one '
            "record: give one of them (data[i])",
        )
    if isinstance(data, dict) and isinstance(data.get("errors"), list) and "data" not in data:
        said = "; ".join(
            str(e.get("title") or e) if isinstance(e, dict) else str(e) for e in data["errors"]
        )
        raise InputError("datacite-json", f"a DataCite error response, not a record: {said}")
    data = camel_keys(data)
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        data = data["data"]
        if isinstance(data.get("attributes"), dict):
            doi = data.get("id")
            data = dict(data["attributes"])
            if doi and not data.get("doi"):
                data["doi"] = doi
    if not isinstance(data, dict):
        raise InputError("datacite-json", "expected a JSON object of DataCite attributes")
    return data


@reads(SOURCE)
def datacite_attributes_to_work(
    attrs: dict[str, Any], *, work_id: str | None = None
) -> tuple[Work, list[str]]:
    """A Work from DataCite JSON attributes; ``work_id`` defaults to the DOI."""
    attrs = unwrap_attributes(attrs)
    problems = unhandled(attrs, _HANDLED, _IGNORED)
    types = attrs.get("types") or {}
    data: dict[str, Any] = {
        "id": work_id or attrs.get("doi") or attrs.get("url") or "datacite-record",
        "type": _work_type(types, problems),
        "doi": attrs.get("doi"),
        "url": attrs.get("url"),
        "language": attrs.get("language"),
        "resource_version": _text(attrs.get("version")),
        "sizes": [v for v in attrs.get("sizes") or [] if v],
        "formats": [v for v in attrs.get("formats") or [] if v],
        "geo_locations": [_geo(g) for g in attrs.get("geoLocations") or [] if isinstance(g, dict)],
    }
    _publisher(data, attrs.get("publisher"))
    _subjects(data, attrs.get("subjects") or [])
    row = TYPES[WorkType(data["type"])]
    resource_type = types.get("resourceType")
    if resource_type and resource_type != row.datacite_type:
        data["resource_type"] = resource_type
    general = types.get("resourceTypeGeneral")
    if general and general != row.datacite_general:
        data["resource_type_general"] = general
    _titles(data, attrs.get("titles") or [], problems)
    _dates(data, attrs)
    _descriptions(data, attrs.get("descriptions") or [], problems)
    creators = attrs.get("creators") or []
    if _editors_as_creators(creators, attrs.get("contributors") or []):
        creators = []  # the editors, read below as the contributors they also are
    contributors = [_name(c, "author", f"creators[{i}]", problems) for i, c in enumerate(creators)]
    for index, contributor in enumerate(attrs.get("contributors") or []):
        entry = _name(contributor, "other", f"contributors[{index}]", problems)
        entry.update(_role(contributor, index, problems))
        contributors.append(entry)
    data["contributors"] = contributors
    data["related_identifiers"] = [
        _related(r) for r in attrs.get("relatedIdentifiers") or [] if isinstance(r, dict)
    ]
    data["license"], data["rights"] = _rights(attrs.get("rightsList") or [])
    data["funding"] = [_funding(f) for f in attrs.get("fundingReferences") or []]
    data["container"], data["related_items"] = _container(attrs, WorkType(data["type"]))
    _alternate_identifiers(data, attrs, WorkType(data["type"]), problems)
    _fold_issns(data)
    clean = {key: value for key, value in data.items() if value not in (None, [], {})}
    return build_work(clean, problems, SOURCE), problems


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _clean(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if v not in (None, "", [], {})}


def _editors_as_creators(creators: list[Any], contributors: list[Any]) -> bool:
    """True when every creator is also an Editor contributor (an edited work as the renderer
    writes it: its editors are its creators)."""

    def key(name: Any) -> Any:
        if not isinstance(name, dict):
            return None
        return repr(sorted((k, v) for k, v in name.items() if k != "contributorType"))

    editors = {
        key(c) for c in contributors if isinstance(c, dict) and c.get("contributorType") == "Editor"
    }
    return bool(creators) and all(key(c) in editors for c in creators)


_CONTAINER_IDS = {"ISSN": "issn", "EISSN": "eissn", "LISSN": "lissn", "ISBN": "isbn"}


def _container(
    attrs: dict[str, Any], work_type: WorkType
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Work's container and its other related items. The first relatedItem the record
    IsPublishedIn is the container when the container, written back, is that same item (its
    type the one of the work type, nothing the container cannot hold); else it is a related
    item like the others, kept whole. Lacking one, DataCite's derived ``container``."""
    items = [i for i in attrs.get("relatedItems") or [] if isinstance(i, dict)]
    items = [_flat_identifier(i) for i in items]
    container: dict[str, Any] = {}
    others = []
    for item in items:
        candidate = _published_in(item) if not container else None
        if candidate and _same(item_of_container(work_type, candidate), item):
            container = candidate
        else:
            others.append(_item(item))
    published = any(i.get("relationType") == "IsPublishedIn" for i in items)
    if not container and not published and isinstance(attrs.get("container"), dict):
        container = _derived_container(attrs["container"])
    return container, others


def _same(a: dict[str, Any] | None, b: dict[str, Any]) -> bool:
    def canon(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: canon(v) for k, v in value.items() if v not in (None, "", [], {})}
        if isinstance(value, list):
            return [canon(v) for v in value]
        return str(value)

    return a is not None and canon(a) == canon(b)


def _flat_identifier(item: dict[str, Any]) -> dict[str, Any]:
    identifier = item.get("relatedItemIdentifier")
    if isinstance(identifier, str):  # the flat form some DataCite JSON uses
        item = {k: v for k, v in item.items() if k != "relatedItemIdentifierType"}
        item["relatedItemIdentifier"] = {
            "relatedItemIdentifier": identifier,
            "relatedItemIdentifierType": identifier and item.get("relatedItemIdentifierType"),
        }
    return item


def _published_in(item: dict[str, Any]) -> dict[str, Any] | None:
    if item.get("relationType") != "IsPublishedIn":
        return None
    container: dict[str, Any] = {}
    identifier = item.get("relatedItemIdentifier")
    if isinstance(identifier, dict) and identifier.get("relatedItemIdentifier"):
        kind = (identifier.get("relatedItemIdentifierType") or "").upper()
        if kind not in _CONTAINER_IDS:
            return None
        container[_CONTAINER_IDS[kind]] = identifier["relatedItemIdentifier"]
    titles = [t for t in item.get("titles") or [] if isinstance(t, dict) and t.get("title")]
    if titles:
        container["title"] = titles[0]["title"]
    for key, field in (("volume", "volume"), ("issue", "issue"), ("firstPage", "first_page"),
                       ("lastPage", "last_page")):  # fmt: skip
        if item.get(key) not in (None, ""):
            container[field] = str(item[key])
    return container


def _item(item: dict[str, Any]) -> dict[str, Any]:
    identifier = item.get("relatedItemIdentifier")
    if isinstance(identifier, dict) and identifier.get("relatedItemIdentifier"):
        identifier = _clean({
            "identifier": identifier["relatedItemIdentifier"],
            "type": identifier.get("relatedItemIdentifierType"),
            "related_metadata_scheme": identifier.get("relatedMetadataScheme"),
            "scheme_uri": identifier.get("schemeUri"),
            "scheme_type": identifier.get("schemeType"),
        })  # fmt: skip
    else:
        identifier = None
    return _clean({
        "type": item.get("relatedItemType"),
        "relation_type": item.get("relationType"),
        "relation_type_information": item.get("relationTypeInformation"),
        "identifier": identifier,
        "creators": [_item_name(n) for n in item.get("creators") or [] if isinstance(n, dict)],
        "titles": [
            _clean({"title": t.get("title"), "type": t.get("titleType"), "language": t.get("lang")})
            for t in item.get("titles") or [] if isinstance(t, dict)
        ],
        "publication_year": _text(item.get("publicationYear")),
        "volume": _text(item.get("volume")), "issue": _text(item.get("issue")),
        "number": _text(item.get("number")), "number_type": item.get("numberType"),
        "first_page": _text(item.get("firstPage")), "last_page": _text(item.get("lastPage")),
        "publisher": _text(item.get("publisher")), "edition": _text(item.get("edition")),
        "contributors": [
            _item_name(n) for n in item.get("contributors") or [] if isinstance(n, dict)
        ],
    })  # fmt: skip


def _item_name(name: dict[str, Any]) -> dict[str, Any]:
    return _clean({
        "name": name.get("name"), "name_type": name.get("nameType"),
        "given": name.get("givenName"), "family": name.get("familyName"),
        "language": name.get("lang"), "contributor_type": name.get("contributorType"),
    })  # fmt: skip


def _alternate_identifiers(
    data: dict[str, Any], attrs: dict[str, Any], work_type: WorkType, problems: list[str]
) -> None:
    """A book's, report's or thesis's ISBN is its own (``container.isbn``); the record's own
    DOI repeated (older DataCite JSON) is skipped; every other one is kept."""
    container = data["container"]
    alternates = []
    for alternate in attrs.get("identifiers") or []:
        if isinstance(alternate, str):
            alternate = {"identifier": alternate}  # noqa: PLW2901
        if not isinstance(alternate, dict):
            continue
        kind = alternate.get("identifierType") or ""
        value = alternate.get("identifier")
        if kind.upper() == "ISBN" and work_type in OWN_ISBN_TYPES and "isbn" not in container:
            container["isbn"] = value
        elif kind.upper() == "DOI" and str(value).lower().endswith(str(attrs.get("doi")).lower()):
            continue
        else:
            if not kind:
                problems.append(f"identifiers: {value!r} has no identifierType; kept as 'Other'")
            alternates.append({"identifier": value, "type": kind or "Other"})
    data["alternate_identifiers"] = alternates


def _fold_issns(data: dict[str, Any]) -> None:
    """The container's further ISSNs, written as bare IsPublishedIn relatedIdentifiers (the
    relatedItem holds one identifier), go back into the container."""
    container = data["container"]
    if not container:
        return
    kept = []
    for rel in data["related_identifiers"]:
        field = _CONTAINER_IDS.get(str(rel.get("identifier_type")))
        bare = set(rel) == {"identifier", "identifier_type", "relation_type"}
        if (
            bare and rel["relation_type"] == "IsPublishedIn" and field in ("issn", "eissn", "lissn")
            and field not in container
        ):  # fmt: skip
            container[field] = rel["identifier"]
        else:
            kept.append(rel)
    data["related_identifiers"] = kept


def _derived_container(value: dict[str, Any]) -> dict[str, Any]:
    """DataCite's read-only ``container`` ({type, identifier, identifierType, title, volume,
    issue, firstPage, lastPage}) as a Work container."""
    container: dict[str, Any] = {
        "title": value.get("title"),
        "volume": value.get("volume"),
        "issue": value.get("issue"),
        "first_page": value.get("firstPage"),
        "last_page": value.get("lastPage"),
    }
    kind = str(value.get("identifierType") or "").upper()
    if kind in _CONTAINER_IDS:
        container[_CONTAINER_IDS[kind]] = value.get("identifier")
    return {k: str(v) for k, v in container.items() if v not in (None, "")}


def _work_type(types: dict[str, Any], problems: list[str]) -> str:
    general = types.get("resourceTypeGeneral")
    specific = (types.get("resourceType") or "").strip().lower()
    for work_type, row in TYPES.items():
        if row.datacite_general == general and row.datacite_type.lower() == specific:
            return work_type.value
    # the resourceType text pidsync writes names the Work type when the general type is
    # another (a journal article typed Instrument keeps both)
    for work_type, row in TYPES.items():
        if row.datacite_type.lower() == specific:
            return work_type.value
    if general in FROM_DATACITE_GENERAL:
        return FROM_DATACITE_GENERAL[general].value
    if general is None:
        problems.append("types.resourceTypeGeneral: absent; read as 'other'")
    # any other kernel type (Instrument, Award, ...) is kept as resource_type_general
    return WorkType.OTHER.value


def _publisher(data: dict[str, Any], value: Any) -> None:
    if isinstance(value, dict):
        data["publisher"] = value.get("name")
        data["publisher_language"] = value.get("lang")
        if value.get("publisherIdentifier"):
            data["publisher_identifier"] = _clean({
                "identifier": value["publisherIdentifier"],
                "scheme": value.get("publisherIdentifierScheme") or "Other",
                "scheme_uri": value.get("schemeUri"),
            })  # fmt: skip
    elif isinstance(value, str):
        data["publisher"] = value


def _subjects(data: dict[str, Any], subjects: list[Any]) -> None:
    """A bare subject is a keyword; one with a scheme, URI, code or language a subject."""
    keywords, kept = [], []
    for subject in subjects:
        if isinstance(subject, str):
            keywords.append(subject)
        elif isinstance(subject, dict) and subject.get("subject"):
            entry = _clean({
                "subject": subject["subject"], "scheme": subject.get("subjectScheme"),
                "scheme_uri": subject.get("schemeUri"), "value_uri": subject.get("valueUri"),
                "classification_code": subject.get("classificationCode"),
                "language": subject.get("lang"),
            })  # fmt: skip
            if set(entry) == {"subject"}:
                keywords.append(entry["subject"])
            else:
                kept.append(entry)
    data["keywords"], data["subjects"] = keywords, kept


def _titles(data: dict[str, Any], titles: list[dict[str, Any]], problems: list[str]) -> None:
    """The first untyped title is the title, the first Subtitle the subtitle (each with its
    language); every other title is an alternative title of its type (untyped: another main
    title, in another language)."""
    alternatives = []
    for index, title in enumerate(titles):
        if not isinstance(title, dict):
            continue
        kind, text, lang = title.get("titleType"), title.get("title"), title.get("lang")
        if not text:
            continue
        if kind is None and "title" not in data:
            data["title"], data["title_language"] = text, lang
        elif kind == "Subtitle" and "subtitle" not in data:
            data["subtitle"], data["subtitle_language"] = text, lang
        elif kind in TITLE_TYPES or kind is None:
            # an untyped title stays untyped (type null), not an AlternativeTitle
            alternatives.append({**_clean({"title": text, "language": lang}), "type": kind})
        else:
            problems.append(f"titles[{index}]: titleType {kind!r} is not a kernel type (dropped)")
    data["alternative_titles"] = alternatives


def _dates(data: dict[str, Any], attrs: dict[str, Any]) -> None:
    """publicationYear, refined by an Issued date of the same year; every date is kept (an
    invalid one is reported by build_work)."""
    year = str(attrs.get("publicationYear") or "").strip() or None
    data["publication_date"] = year
    dates = []
    for entry in attrs.get("dates") or []:
        value, kind = entry.get("date"), entry.get("dateType")
        finer = isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value)
        if (
            kind == "Issued"
            and finer
            and not entry.get("dateInformation")
            and year
            and value.startswith(year)
            and data["publication_date"] == year
        ):
            data["publication_date"] = value  # a finer publication date (see the renderer)
            continue
        dates.append({"date": value, "type": kind, "information": entry.get("dateInformation")})
    data["dates"] = [{k: v for k, v in d.items() if v} for d in dates]


def _descriptions(data: dict[str, Any], items: list[dict[str, Any]], problems: list[str]) -> None:
    """The first Abstract is the abstract (with its language); the others, abstracts in other
    languages included, are descriptions of their type."""
    others = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        kind, text, lang = item.get("descriptionType"), item.get("description"), item.get("lang")
        if not text:
            continue
        if kind == "Abstract" and "abstract" not in data:
            data["abstract"], data["abstract_language"] = text, lang
        elif kind in DESCRIPTION_TYPES:
            others.append(_clean({"text": text, "type": kind, "language": lang}))
        else:
            problems.append(f"descriptions[{index}]: descriptionType {kind!r} is not a kernel type")
    data["descriptions"] = others


def _role(contributor: dict[str, Any], index: int, problems: list[str]) -> dict[str, Any]:
    """The role, and the exact contributorType when the role's own one is another."""
    kind = contributor.get("contributorType")
    role = FROM_DATACITE_CONTRIBUTOR_TYPE.get(kind or "", ContributorRole.OTHER)
    entry: dict[str, Any] = {"role": role.value}
    if kind in CONTRIBUTOR_TYPES and kind != ROLES[role].datacite:
        entry["contributor_type"] = kind
    elif kind not in CONTRIBUTOR_TYPES:
        problems.append(f"contributors[{index}]: contributorType {kind!r} read as role 'other'")
    return entry


def _name(name: dict[str, Any], role: str, path: str, problems: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"role": role}
    name_type = name.get("nameType")
    personal = name_type == "Personal" or bool(name.get("givenName") or name.get("familyName"))
    orcid = ror = None
    others = []
    for identifier in name.get("nameIdentifiers") or []:
        if not isinstance(identifier, dict):
            continue
        scheme = identifier.get("nameIdentifierScheme") or ""
        if scheme.upper() == "ORCID" and orcid is None:
            orcid = identifier.get("nameIdentifier")
        elif scheme.upper() == "ROR" and ror is None and not personal:
            ror = identifier.get("nameIdentifier")
        else:
            others.append(_clean({"identifier": identifier.get("nameIdentifier"),
                                  "scheme": scheme or "Other",
                                  "scheme_uri": identifier.get("schemeUri")}))  # fmt: skip
    if orcid:
        personal = True
    if name_type is None and not personal:
        problems.append(f"{path}: no nameType; read as an organization")
    entry["type"] = "person" if personal else "organization"
    if personal and name.get("familyName"):
        entry.update(given=name.get("givenName"), family=name.get("familyName"))
    else:
        entry["name"] = name.get("name")
    entry["orcid"] = orcid
    entry["ror"] = ror
    entry["language"] = name.get("lang")
    entry["identifiers"] = others
    entry["affiliations"] = [_affiliation(a) for a in name.get("affiliation") or []]
    return {k: v for k, v in entry.items() if v not in (None, [])}


def _affiliation(affiliation: Any) -> dict[str, Any]:
    if isinstance(affiliation, str):
        return {"name": affiliation}
    entry: dict[str, Any] = {"name": affiliation.get("name")}
    identifier = affiliation.get("affiliationIdentifier")
    scheme = affiliation.get("affiliationIdentifierScheme") or ""
    if identifier and scheme.upper() == "ROR":
        entry["ror"] = identifier
        if entry["name"] == identifier:
            del entry["name"]  # written by the renderer as a stand-in name
    elif identifier:
        entry["identifier"] = _clean({"identifier": identifier, "scheme": scheme or "Other",
                                      "scheme_uri": affiliation.get("schemeUri")})  # fmt: skip
    return {k: v for k, v in entry.items() if v}


def _related(item: dict[str, Any]) -> dict[str, Any]:
    return _clean({
        "identifier": item.get("relatedIdentifier"),
        "identifier_type": item.get("relatedIdentifierType"),
        "relation_type": item.get("relationType"),
        "resource_type_general": item.get("resourceTypeGeneral"),
        "relation_type_information": item.get("relationTypeInformation"),
        "related_metadata_scheme": item.get("relatedMetadataScheme"),
        "scheme_uri": item.get("schemeUri"),
        "scheme_type": item.get("schemeType"),
    })  # fmt: skip


def _rights(
    rights_list: list[dict[str, Any]],
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Every rights entry as a rights statement; the Work takes the first one its licence can
    hold as written as the licence (``Work._canonical``)."""
    others = [
        _clean({
            "statement": rights.get("rights"), "uri": rights.get("rightsUri"),
            "identifier": rights.get("rightsIdentifier"),
            "identifier_scheme": rights.get("rightsIdentifierScheme"),
            "scheme_uri": rights.get("schemeUri"), "language": rights.get("lang"),
        })
        for rights in rights_list
        if isinstance(rights, dict)
    ]  # fmt: skip
    return None, others


def _funding(item: dict[str, Any]) -> dict[str, Any]:
    """funder_id holds a Crossref Funder ID or ROR id as pidsync writes it; any other
    identifier (or one with a scheme URI) is kept whole as funder_identifier."""
    entry = _clean({
        "funder_name": item.get("funderName"),
        "award_number": _text(item.get("awardNumber")),
        "award_title": item.get("awardTitle"),
        "award_uri": item.get("awardUri"),
    })  # fmt: skip
    identifier, kind = item.get("funderIdentifier"), item.get("funderIdentifierType")
    if not identifier:
        return entry
    simple = kind in ("Crossref Funder ID", "ROR") and not item.get("schemeUri")
    if simple and _same(funder_reference(identifier), {"funderIdentifier": identifier,
                                                        "funderIdentifierType": kind}):  # fmt: skip
        entry["funder_id"] = identifier
    else:
        entry["funder_identifier"] = _clean({"identifier": identifier, "type": kind or "Other",
                                             "scheme_uri": item.get("schemeUri")})  # fmt: skip
    return entry


def _geo(geo: dict[str, Any]) -> dict[str, Any]:
    box = geo.get("geoLocationBox")
    return _clean({
        "place": geo.get("geoLocationPlace"),
        "point": _point(geo.get("geoLocationPoint")),
        "box": {
            "west": box.get("westBoundLongitude"), "east": box.get("eastBoundLongitude"),
            "south": box.get("southBoundLatitude"), "north": box.get("northBoundLatitude"),
        } if isinstance(box, dict) else None,
        "polygons": [
            _clean({
                "points": [_point(p) for p in polygon.get("polygonPoint") or []],
                "in_point": _point(polygon.get("inPolygonPoint")),
            })
            for polygon in polygons(geo.get("geoLocationPolygon"))
        ],
    })  # fmt: skip


def _point(point: Any) -> dict[str, Any] | None:
    if not isinstance(point, dict):
        return None
    return {"longitude": point.get("pointLongitude"), "latitude": point.get("pointLatitude")}
