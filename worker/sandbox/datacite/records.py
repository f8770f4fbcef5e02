"""DataCite DOI records: attributes, the AASM state machine, validation, JSON:API form.

Facts from datacite/lupo (``app/models/doi.rb``, ``serializers/datacite_doi_serializer.rb``):
states draft → registered → findable, events ``register``/``publish``/``hide``/``show``
(invalid transitions silently ignored), registered/findable records need ``url`` and the
kernel-4 mandatory properties, DOI pattern checked on create.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DOI_PATTERN = re.compile(r"\A10\.\d{4,5}/[-._;()/:a-zA-Z0-9*~$=]+\Z")
URL_PATTERN = re.compile(r"\A(ftp|http|https)://\S+")
KERNEL = "{http://datacite.org/schema/kernel-4}"

#: Metadata attributes a record carries (the serializer's list, metadata part), with the
#: empty value a draft shows.
METADATA_DEFAULTS: dict[str, Any] = {
    "identifiers": [],
    "alternateIdentifiers": [],
    "creators": [],
    "titles": [],
    "publisher": None,
    "container": {},
    "publicationYear": None,
    "subjects": [],
    "contributors": [],
    "dates": [],
    "language": None,
    "types": {},
    "relatedIdentifiers": [],
    "relatedItems": [],
    "sizes": [],
    "formats": [],
    "version": None,
    "rightsList": [],
    "descriptions": [],
    "geoLocations": [],
    "fundingReferences": [],
    "url": None,
    "contentUrl": None,
    "schemaVersion": None,
}
#: Attributes the client may not set (computed by DataCite), ignored on input.
READ_ONLY = frozenset(
    {
        "doi",
        "prefix",
        "suffix",
        "state",
        "event",
        "xml",
        "created",
        "registered",
        "published",
        "updated",
        "isActive",
        "metadataVersion",
        "source",
        "reason",
        "landingPage",
        "viewCount",
        "downloadCount",
        "citationCount",
        "referenceCount",
        "partCount",
        "partOfCount",
        "versionCount",
        "versionOfCount",
    }
)
EVENTS = {
    "register": ({"draft"}, "registered"),
    "publish": ({"draft", "registered"}, "findable"),
    "hide": ({"findable"}, "registered"),
    "show": ({"registered"}, "findable"),
}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"


@dataclass
class DoiRecord:
    """One DOI as DataCite holds it."""

    doi: str  # lower case
    client: str  # repository id
    state: str = "draft"
    metadata: dict[str, Any] = field(default_factory=dict)
    xml: str | None = None  # the DataCite XML last sent, if any (text)
    created: str = field(default_factory=now_iso)
    updated: str = field(default_factory=now_iso)
    registered: str | None = None
    published: str | None = None
    sequence: int = 0  # creation order, the cursor's sort key
    metadata_version: int = 0
    media: list[tuple[str, str]] = field(default_factory=list)  # MDS media: (type, url)

    @property
    def prefix(self) -> str:
        return self.doi.split("/", 1)[0]

    @property
    def suffix(self) -> str:
        return self.doi.split("/", 1)[1]

    @property
    def url(self) -> str | None:
        value = self.metadata.get("url")
        return value if isinstance(value, str) else None

    def merge(self, attributes: dict[str, Any]) -> None:
        """Merge the given attributes in (PUT/PATCH semantics: keys given replace)."""
        for key, value in attributes.items():
            if key not in READ_ONLY:
                self.metadata[key] = copy.deepcopy(value)

    def apply_event(self, event: str | None) -> None:
        """Run an AASM event; an event that doesn't apply is ignored, as lupo does."""
        if event not in EVENTS:
            return
        sources, target = EVENTS[event]
        if self.state not in sources:
            return
        if target in {"registered", "findable"} and self.registered is None:
            self.registered = now_iso()
        if target == "findable" and self.published is None:
            self.published = now_iso()
        self.state = target

    def attributes(
        self, *, publisher_object: bool = False, xml_b64: str | None = None
    ) -> dict[str, Any]:
        """The JSON:API attributes DataCite answers with."""
        attributes: dict[str, Any] = {"doi": self.doi, "prefix": self.prefix, "suffix": self.suffix}
        for key, default in METADATA_DEFAULTS.items():
            attributes[key] = copy.deepcopy(self.metadata.get(key, default))
        publisher = attributes["publisher"]
        if isinstance(publisher, dict) and not publisher_object:
            attributes["publisher"] = publisher.get("name")
        elif isinstance(publisher, str) and publisher_object:
            attributes["publisher"] = {"name": publisher}
        attributes.update(
            {
                "xml": xml_b64,
                "metadataVersion": self.metadata_version,
                "source": "api",
                "isActive": self.state == "findable",
                "state": self.state,
                "reason": None,
                "landingPage": None,
                "viewCount": 0,
                "downloadCount": 0,
                "referenceCount": 0,
                "citationCount": 0,
                "partCount": 0,
                "partOfCount": 0,
                "versionCount": 0,
                "versionOfCount": 0,
                "created": self.created,
                "registered": self.registered,
                "published": self.published,
                "updated": self.updated,
            }
        )
        return attributes

    def snapshot(self) -> dict[str, Any]:
        return {
            "doi": self.doi,
            "state": self.state,
            "url": self.url,
            "client": self.client,
            "metadata": copy.deepcopy(self.metadata),
            "xml": self.xml,
            "created": self.created,
            "updated": self.updated,
            "registered": self.registered,
            "published": self.published,
            "media": [list(m) for m in self.media],
        }

    @classmethod
    def from_snapshot(cls, saved: dict[str, Any], sequence: int) -> DoiRecord:
        return cls(
            doi=saved["doi"],
            client=saved["client"],
            state=saved.get("state", "draft"),
            metadata=dict(saved.get("metadata") or {}),
            xml=saved.get("xml"),
            created=saved.get("created") or now_iso(),
            updated=saved.get("updated") or now_iso(),
            registered=saved.get("registered"),
            published=saved.get("published"),
            sequence=sequence,
            media=[(str(m[0]), str(m[1])) for m in saved.get("media") or []],
        )


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str | list | dict):
        return len(value) == 0
    return False


def _missing_child(doi: str, child: str) -> str:
    return f"DOI {doi}: Missing child element(s). Expected is ( {KERNEL}{child} )."


def validation_errors(record: DoiRecord) -> list[dict[str, str]]:
    """What keeps a registered/findable record from being valid: one error per problem.

    ``url`` gets Rails' "Can't be blank"; the metadata properties get the messages DataCite
    relays from its XSD check of the XML it generates from the attributes.
    """
    doi, metadata = record.doi, record.metadata
    errors: list[dict[str, str]] = []

    def add(source: str, title: str) -> None:
        errors.append({"source": source, "title": title, "uid": doi})

    url = metadata.get("url")
    if _blank(url):
        add("url", "Can't be blank")
    elif not isinstance(url, str) or not URL_PATTERN.match(url):
        add("url", "URL is not valid")
    creators = metadata.get("creators")
    if _blank(creators) or not any(
        isinstance(c, dict) and not _blank(c.get("name") or c.get("familyName"))
        for c in creators or []
    ):
        add("creators", _missing_child(doi, "creator"))
    titles = metadata.get("titles")
    if _blank(titles) or not any(
        isinstance(t, dict) and not _blank(t.get("title")) for t in titles or []
    ):
        add("titles", _missing_child(doi, "title"))
    publisher = metadata.get("publisher")
    if isinstance(publisher, dict):
        publisher = publisher.get("name")
    if _blank(publisher):
        add(
            "publisher",
            f"DOI {doi}: Element '{KERNEL}publisher': [facet 'minLength'] The value has a length "
            "of '0'; this underruns the allowed minimum length of '1'.",
        )
    year = metadata.get("publicationYear")
    if _blank(year) or not re.fullmatch(r"\d{4}", str(year)):
        add(
            "publicationYear",
            f"DOI {doi}: Element '{KERNEL}publicationYear': '{year or ''}' is not a valid value "
            "of the atomic type 'xs:gYear'.",
        )
    types = metadata.get("types")
    if not isinstance(types, dict) or _blank(types.get("resourceTypeGeneral")):
        add(
            "types",
            f"DOI {doi}: Element '{KERNEL}resourceType': The attribute 'resourceTypeGeneral' "
            "is required but missing.",
        )
    return errors
