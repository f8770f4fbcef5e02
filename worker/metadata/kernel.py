"""Parts of the Work for what DataCite kernel 4.7 can say beyond a citation: subjects with
their schemes, rights statements, geolocations, related items, alternate identifiers and the
name identifiers of other schemes.

Each mirrors one kernel property, attribute for attribute (snake_case), so a DataCite record
read into a Work is written back with nothing lost (``tests/metadata/test_fidelity.py``).
"""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from worker.metadata.fields import Language, OptText, Text, Uri, Url
from worker.metadata.vocab import (
    ContributorType,
    FunderIdentifierType,
    NameType,
    NumberType,
    RelatedIdentifierType,
    RelationType,
    ResourceTypeGeneral,
    TitleType,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Subject(_Model):
    """A subject from a scheme (or a free one with a language); plain keywords are
    ``Work.keywords``."""

    subject: Text = Field(description="The subject term, as the scheme writes it.")
    scheme: OptText = Field(None, description="Subject scheme, e.g. 'FOS' or 'DDC'.")
    scheme_uri: Url | None = Field(None, description="URI of the subject scheme.")
    value_uri: Url | None = Field(None, description="URI of the term in the scheme.")
    classification_code: OptText = Field(None, description="Code of the term in the scheme.")
    language: Language | None = Field(None, description="Language of the term.")


class Rights(_Model):
    """A rights statement beside the licence (``Work.license``): another licence, an access
    statement, a copyright notice."""

    statement: OptText = Field(None, description="The statement, e.g. 'Open Access'.")
    uri: Uri | None = Field(
        None, description="URI of the rights text or term (http, info:eu-repo, ...)."
    )
    identifier: OptText = Field(None, description="Identifier of the rights, e.g. CC-BY-4.0.")
    identifier_scheme: OptText = Field(None, description="Scheme of the identifier, e.g. SPDX.")
    scheme_uri: Url | None = Field(None, description="URI of the identifier scheme.")
    language: Language | None = Field(None, description="Language of the statement.")

    @model_validator(mode="after")
    def _needs_something(self) -> Self:
        if self.statement is None and self.uri is None and self.identifier is None:
            raise ValueError("a rights entry needs a statement, a uri or an identifier")
        return self


class AlternateIdentifier(_Model):
    """Another identifier of the work itself (a local accession number, a handle...)."""

    identifier: Text = Field(description="The identifier.")
    type: Text = Field(description="Its kind, free text, e.g. 'Local accession number'.")


class NameIdentifier(_Model):
    """A contributor's identifier in a scheme other than ORCID (or an organisation's other
    than ROR): ISNI, a Scopus author id, a GND..."""

    identifier: Text = Field(description="The identifier.")
    scheme: Text = Field(description="Its scheme, e.g. 'ISNI'.")
    scheme_uri: Url | None = Field(None, description="URI of the scheme.")


class FunderIdentifier(_Model):
    """A funder's identifier the Funding's ``funder_id`` (Crossref Funder ID or ROR) cannot
    hold: ISNI, GRID or another scheme."""

    identifier: Text = Field(description="The identifier.")
    type: FunderIdentifierType = Field(description="DataCite funderIdentifierType.")
    scheme_uri: Url | None = Field(None, description="URI of the scheme.")


class Point(_Model):
    longitude: float = Field(ge=-180, le=180, description="Decimal degrees.")
    latitude: float = Field(ge=-90, le=90, description="Decimal degrees.")


class Box(_Model):
    west: float = Field(ge=-180, le=180)
    east: float = Field(ge=-180, le=180)
    south: float = Field(ge=-90, le=90)
    north: float = Field(ge=-90, le=90)


class Polygon(_Model):
    points: list[Point] = Field(
        min_length=4, description="Closed ring: at least four points, the last one the first."
    )
    in_point: Point | None = Field(None, description="A point inside (for a ring over 180°).")


class GeoLocation(_Model):
    place: OptText = Field(None, description="Free-text place name.")
    point: Point | None = None
    box: Box | None = None
    polygons: list[Polygon] = Field(default_factory=list)

    @model_validator(mode="after")
    def _needs_something(self) -> Self:
        if self.place is None and self.point is None and self.box is None and not self.polygons:
            raise ValueError("a geolocation needs a place, a point, a box or a polygon")
        return self


class ItemTitle(_Model):
    title: Text
    type: TitleType | None = Field(None, description="DataCite titleType; none: the main title.")
    language: Language | None = None


class ItemName(_Model):
    """A creator or contributor of a related item: names only, as the kernel has them there."""

    name: Text = Field(description="Full name ('Family, Given' for a person).")
    name_type: NameType | None = None
    given: OptText = None
    family: OptText = None
    language: Language | None = None
    contributor_type: ContributorType | None = Field(
        None, description="For a contributor (required there by DataCite)."
    )


class ItemIdentifier(_Model):
    identifier: Text
    type: RelatedIdentifierType | None = None
    related_metadata_scheme: OptText = None
    scheme_uri: Url | None = None
    scheme_type: OptText = None


class RelatedItem(_Model):
    """A work related to this one, described rather than only identified (DataCite
    relatedItem), besides the ``container`` the Work is published in."""

    type: ResourceTypeGeneral = Field(description="DataCite relatedItemType.")
    relation_type: RelationType = Field(description="This work → the item.")
    relation_type_information: OptText = None
    identifier: ItemIdentifier | None = None
    creators: list[ItemName] = Field(default_factory=list)
    titles: list[ItemTitle] = Field(default_factory=list)
    publication_year: str | None = Field(None, pattern=r"^\d{4}$", description="YYYY.")
    volume: OptText = None
    issue: OptText = None
    number: OptText = None
    number_type: NumberType | None = None
    first_page: OptText = None
    last_page: OptText = None
    publisher: OptText = None
    edition: OptText = None
    contributors: list[ItemName] = Field(default_factory=list)
