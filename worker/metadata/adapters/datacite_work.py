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

from worker.metadata.adapters.common import build_work, unhandled
from worker.metadata.adapters.datacite import datacite_xml_to_attributes
from worker.metadata.errors import InputError
from worker.metadata.types import (
    DATACITE_CONTAINER_DEFAULT,
    DATACITE_CONTAINER_TYPE,
    FROM_DATACITE_CONTRIBUTOR_TYPE,
    FROM_DATACITE_GENERAL,
    OWN_ISBN_TYPES,
    TYPES,
    WorkType,
)
from worker.metadata.vocab import DESCRIPTION_TYPES, TITLE_TYPES

if TYPE_CHECKING:
    from worker.metadata.work import Work

SOURCE = "datacite"
_HANDLED = {
    "doi", "url", "types", "creators", "titles", "publisher", "publicationYear", "subjects",
    "contributors", "dates", "language", "relatedIdentifiers", "version", "rightsList",
    "descriptions", "fundingReferences", "relatedItems", "container", "identifiers",
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
        "publisher": _publisher(attrs.get("publisher"), problems),
        "language": attrs.get("language"),
        "resource_version": attrs.get("version"),
        "keywords": _keywords(attrs.get("subjects") or [], problems),
    }
    resource_type = types.get("resourceType")
    if resource_type and resource_type != TYPES[WorkType(data["type"])].datacite_type:
        data["resource_type"] = resource_type
    _titles(data, attrs.get("titles") or [], problems)
    _dates(data, attrs)
    _descriptions(data, attrs.get("descriptions") or [], problems)
    creators = attrs.get("creators") or []
    if _editors_as_creators(creators, attrs.get("contributors") or []):
        creators = []  # the editors, read below as the contributors they also are
    contributors = [_name(c, "author", f"creators[{i}]", problems) for i, c in enumerate(creators)]
    for index, contributor in enumerate(attrs.get("contributors") or []):
        contributors.append(
            _name(
                contributor, _role(contributor, index, problems), f"contributors[{index}]", problems
            )
        )
    data["contributors"] = contributors
    data["related_identifiers"] = [
        _related(r, i, problems) for i, r in enumerate(attrs.get("relatedIdentifiers") or [])
    ]
    data["license"] = _license(attrs.get("rightsList") or [], problems)
    data["funding"] = [
        _funding(f, i, problems) for i, f in enumerate(attrs.get("fundingReferences") or [])
    ]
    data["container"] = _container(attrs, WorkType(data["type"]), problems)
    clean = {key: value for key, value in data.items() if value not in (None, [], {})}
    return build_work(clean, problems, SOURCE), problems


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


_CONTAINER_IDS = {"ISSN": "issn", "EISSN": "eissn", "ISBN": "isbn"}


def _container(attrs: dict[str, Any], work_type: WorkType, problems: list[str]) -> dict[str, Any]:
    """The Work's container: the relatedItem the record IsPublishedIn (else DataCite's derived
    ``container`` attribute), and the record's own ISBN for a book, report or thesis."""
    container: dict[str, Any] = {}
    items = [i for i in attrs.get("relatedItems") or [] if isinstance(i, dict)]
    published_in = [i for i in items if i.get("relationType") == "IsPublishedIn"]
    for index, item in enumerate(attrs.get("relatedItems") or []):
        if not isinstance(item, dict) or item.get("relationType") != "IsPublishedIn":
            problems.append(f"relatedItems[{index}]: not represented in a Work")
        elif item is not published_in[0]:
            problems.append(f"relatedItems[{index}]: only one IsPublishedIn item is represented")
        else:
            container = _published_in(item, f"relatedItems[{index}]", problems)
            written = DATACITE_CONTAINER_TYPE.get(work_type, DATACITE_CONTAINER_DEFAULT)
            if item.get("relatedItemType") not in (None, written):
                problems.append(
                    f"relatedItems[{index}]: relatedItemType {item['relatedItemType']!r} not "
                    f"represented (a {work_type.value}'s container is written as {written!r})"
                )
    if not published_in and isinstance(attrs.get("container"), dict):
        container = _derived_container(attrs["container"])
    for index, alternate in enumerate(attrs.get("identifiers") or []):
        kind = (alternate.get("identifierType") or "") if isinstance(alternate, dict) else ""
        value = alternate.get("identifier") if isinstance(alternate, dict) else alternate
        if kind.upper() == "ISBN" and work_type in OWN_ISBN_TYPES and "isbn" not in container:
            container["isbn"] = value
        elif kind.upper() == "DOI" and str(value).lower().endswith(str(attrs.get("doi")).lower()):
            continue  # the record's own DOI, as older DataCite JSON repeats it
        else:
            problems.append(f"identifiers[{index}]: {kind or '?'} identifier not represented")
    return container


def _published_in(item: dict[str, Any], path: str, problems: list[str]) -> dict[str, Any]:
    container: dict[str, Any] = {}
    identifier = item.get("relatedItemIdentifier")
    if isinstance(identifier, str):  # the flat form
        kind = item.get("relatedItemIdentifierType")
        identifier = {"relatedItemIdentifier": identifier, "relatedItemIdentifierType": kind}
    if isinstance(identifier, dict) and identifier.get("relatedItemIdentifier"):
        kind = identifier.get("relatedItemIdentifierType") or ""
        if kind.upper() in _CONTAINER_IDS:
            container[_CONTAINER_IDS[kind.upper()]] = identifier["relatedItemIdentifier"]
        else:
            problems.append(f"{path}.relatedItemIdentifier: {kind or '?'} not represented")
    titles = [t for t in item.get("titles") or [] if isinstance(t, dict) and t.get("title")]
    if titles:
        container["title"] = titles[0]["title"]
    if len(titles) > 1:
        problems.append(f"{path}.titles: only the first title is represented")
    for key, field in (("volume", "volume"), ("issue", "issue"), ("firstPage", "first_page"),
                       ("lastPage", "last_page")):  # fmt: skip
        if item.get(key) not in (None, ""):
            container[field] = str(item[key])
    handled = {"relationType", "relatedItemType", "relatedItemIdentifier",
               "relatedItemIdentifierType", "titles", "volume", "issue", "firstPage",
               "lastPage"}  # fmt: skip
    lost = sorted(k for k, v in item.items() if k not in handled and v not in (None, "", [], {}))
    if lost:
        problems.append(f"{path}: {', '.join(lost)} not represented")
    return container


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
    if general in FROM_DATACITE_GENERAL:
        return FROM_DATACITE_GENERAL[general].value
    problems.append(f"types.resourceTypeGeneral: {general!r} has no Work type; read as 'other'")
    return WorkType.OTHER.value


def _publisher(value: Any, problems: list[str]) -> str | None:
    if isinstance(value, dict):
        extra = {k for k, v in value.items() if k not in ("name", "lang") and v}
        if extra:
            problems.append(f"publisher: {', '.join(sorted(extra))} not represented in a Work")
        return value.get("name")
    return value if isinstance(value, str) else None


def _keywords(subjects: list[dict[str, Any]], problems: list[str]) -> list[str]:
    keywords = []
    for index, subject in enumerate(subjects):
        if subject.get("subject"):
            keywords.append(subject["subject"])
        lost = {k for k, v in subject.items() if k not in ("subject", "lang") and v}
        if lost:
            problems.append(f"subjects[{index}]: {', '.join(sorted(lost))} not represented")
    return keywords


def _titles(data: dict[str, Any], titles: list[dict[str, Any]], problems: list[str]) -> None:
    alternatives = []
    for index, title in enumerate(titles):
        kind, text = title.get("titleType"), title.get("title")
        if not text:
            continue
        lang = title.get("lang")
        if (kind is None and "title" not in data) or (
            kind == "Subtitle" and "subtitle" not in data
        ):
            data["subtitle" if kind else "title"] = text
            if lang and lang != data.get("language"):
                problems.append(f"titles[{index}]: language {lang!r} not represented")
        elif kind in TITLE_TYPES or kind is None:
            if kind is None:
                problems.append(f"titles[{index}]: a second main title is kept as titleType Other")
            alt = {"title": text, "type": kind or "Other", "language": lang}
            alternatives.append({k: v for k, v in alt.items() if v})
        else:
            problems.append(f"titles[{index}]: a second {kind} is not represented")
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
            and year
            and value.startswith(year)
            and data["publication_date"] == year
        ):
            data["publication_date"] = value  # a finer publication date (see the renderer)
            continue
        dates.append({"date": value, "type": kind, "information": entry.get("dateInformation")})
    data["dates"] = [{k: v for k, v in d.items() if v} for d in dates]


def _descriptions(data: dict[str, Any], items: list[dict[str, Any]], problems: list[str]) -> None:
    others = []
    for index, item in enumerate(items):
        kind, text = item.get("descriptionType"), item.get("description")
        if not text:
            continue
        lang = item.get("lang")
        if lang and lang != data.get("language"):
            problems.append(f"descriptions[{index}]: language {lang!r} not represented")
        if kind == "Abstract" and "abstract" not in data:
            data["abstract"] = text
        elif kind in DESCRIPTION_TYPES:
            others.append({"text": text, "type": kind})
        else:
            problems.append(f"descriptions[{index}]: another {kind} is not represented")
    data["descriptions"] = others


def _role(contributor: dict[str, Any], index: int, problems: list[str]) -> str:
    kind = contributor.get("contributorType")
    role = FROM_DATACITE_CONTRIBUTOR_TYPE.get(kind or "")
    if role is None:
        problems.append(f"contributors[{index}]: contributorType {kind!r} read as role 'other'")
        return "other"
    return role.value


def _name(name: dict[str, Any], role: str, path: str, problems: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"role": role}
    name_type = name.get("nameType")
    personal = name_type == "Personal" or bool(name.get("givenName") or name.get("familyName"))
    orcid = ror = None
    for identifier in name.get("nameIdentifiers") or []:
        scheme = (identifier.get("nameIdentifierScheme") or "").upper()
        if scheme == "ORCID" and orcid is None:
            orcid = identifier.get("nameIdentifier")
        elif scheme == "ROR" and ror is None and not personal:
            ror = identifier.get("nameIdentifier")
        else:
            problems.append(f"{path}: name identifier {scheme or '?'} not represented")
    if orcid:
        personal = True
    if orcid and ror:
        problems.append(f"{path}: name identifier ROR of a person not represented")
        ror = None
    if name.get("lang"):
        problems.append(f"{path}: language {name['lang']!r} of the name not represented")
    if name_type is None and not personal:
        problems.append(f"{path}: no nameType; read as an organization")
    entry["type"] = "person" if personal else "organization"
    if personal and name.get("familyName"):
        entry.update(given=name.get("givenName"), family=name.get("familyName"))
    else:
        entry["name"] = name.get("name")
    entry["orcid"] = orcid
    entry["ror"] = ror
    entry["affiliations"] = [
        _affiliation(a, f"{path}.affiliation[{i}]", problems)
        for i, a in enumerate(name.get("affiliation") or [])
    ]
    return {k: v for k, v in entry.items() if v not in (None, [])}


def _affiliation(affiliation: Any, path: str, problems: list[str]) -> dict[str, Any]:
    if isinstance(affiliation, str):
        return {"name": affiliation}
    entry = {"name": affiliation.get("name")}
    identifier = affiliation.get("affiliationIdentifier")
    if identifier and (affiliation.get("affiliationIdentifierScheme") or "").upper() == "ROR":
        entry["ror"] = identifier
        if entry["name"] == identifier:
            del entry["name"]  # written by the renderer as a stand-in name
    elif identifier:
        problems.append(
            f"{path}: {affiliation.get('affiliationIdentifierScheme')} identifier not represented"
        )
    return {k: v for k, v in entry.items() if v}


def _related(item: dict[str, Any], index: int, problems: list[str]) -> dict[str, Any]:
    lost = {
        k
        for k, v in item.items()
        if v and k not in ("relatedIdentifier", "relatedIdentifierType", "relationType")
    }
    if lost:
        problems.append(f"relatedIdentifiers[{index}]: {', '.join(sorted(lost))} not represented")
    return {
        "identifier": item.get("relatedIdentifier"),
        "identifier_type": item.get("relatedIdentifierType"),
        "relation_type": item.get("relationType"),
    }


def _license(rights_list: list[dict[str, Any]], problems: list[str]) -> dict[str, Any] | None:
    chosen = None
    for index, rights in enumerate(rights_list):
        if chosen is None and rights.get("rightsUri"):
            chosen = {
                "url": rights["rightsUri"],
                "name": rights.get("rights"),
                "identifier": rights.get("rightsIdentifier"),
            }
        else:
            problems.append(f"rightsList[{index}]: only one licence (with a URI) is represented")
    return {k: v for k, v in chosen.items() if v} if chosen else None


def _funding(item: dict[str, Any], index: int, problems: list[str]) -> dict[str, Any]:
    entry = {
        "funder_name": item.get("funderName"),
        "award_number": item.get("awardNumber"),
        "award_title": item.get("awardTitle"),
        "award_uri": item.get("awardUri"),
    }
    identifier, kind = item.get("funderIdentifier"), item.get("funderIdentifierType")
    if identifier and kind in ("Crossref Funder ID", "ROR"):
        entry["funder_id"] = identifier
    elif identifier:
        problems.append(f"fundingReferences[{index}]: {kind} funder identifier not represented")
    return {k: v for k, v in entry.items() if v}
