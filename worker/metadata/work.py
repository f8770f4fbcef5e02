"""The canonical Work (DESIGN.md §3, §7): pidsync's own neutral record of a research output.

Only ``id``, ``type`` and ``title`` are required; each render target checks what else it needs
(``worker.metadata.errors.MissingFields``). Identifiers are normalised here, once, through
``worker.pids.identifiers``; unknown keys are refused (``extra="forbid"``) so typos surface.
"""

import re
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from worker.metadata.errors import WorkValidationError
from worker.metadata.fields import (
    DOI_PATTERN,
    ISBN_PATTERN,
    ISSN_PATTERN,
    URL_PATTERN,
    DateOrRange,
    Doi,
    FunderId,
    Isbn,
    Issn,
    Language,
    LongText,
    OptLongText,
    OptText,
    Orcid,
    PartialDate,
    PositiveInt,
    Ror,
    Text,
    Url,
    WorkId,
    check_url,
)
from worker.metadata.kernel import (
    AlternateIdentifier,
    FunderIdentifier,
    GeoLocation,
    NameIdentifier,
    RelatedItem,
    Rights,
    Subject,
)
from worker.metadata.types import TYPES, ContributorRole, WorkType
from worker.metadata.vocab import (
    ContributorType,
    DateType,
    DescriptionType,
    RelatedIdentifierType,
    RelationType,
    ResourceTypeGeneral,
    TitleType,
)
from worker.pids import identifiers as ids

WORK_SCHEMA_ID = "urn:pidsync:schema:work:1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Affiliation(_Model):
    """An organisation a contributor belongs to: a name, a ROR id, or both."""

    name: OptText = Field(None, description="Organisation name as written on the work.")
    ror: Ror | None = Field(None, description="ROR id (normalised to https://ror.org/...).")
    identifier: NameIdentifier | None = Field(
        None, description="An identifier of another scheme than ROR (ISNI, GRID...)."
    )

    @model_validator(mode="after")
    def _needs_something(self) -> Self:
        if self.name is None and self.ror is None:
            raise ValueError("an affiliation needs a name or a ror")
        return self


class Contributor(_Model):
    """A person (given/family, or a literal name) or an organisation (name only)."""

    type: Literal["person", "organization"] | None = Field(
        None,
        description="person or organization; inferred when absent (an orcid, given or family "
        "name means a person, a lone name an organisation).",
    )
    given: OptText = Field(None, description="Given name(s) of a person.")
    family: OptText = Field(None, description="Family name of a person.")
    name: OptText = Field(None, description="Organisation name, or a person's full literal name.")
    orcid: Orcid | None = Field(None, description="ORCID iD; only persons carry one.")
    ror: Ror | None = Field(
        None,
        description="ROR id of an organization that is itself a contributor (a person's "
        "organisations are affiliations).",
    )
    role: ContributorRole = Field(ContributorRole.AUTHOR, description="Contribution role.")
    contributor_type: ContributorType | None = Field(
        None,
        description="DataCite contributorType, when the role alone does not say it (e.g. "
        "DataCollector, a role 'other'); targets without it use the role.",
    )
    language: Language | None = Field(None, description="Language of the name as written.")
    identifiers: list[NameIdentifier] = Field(
        default_factory=list, description="Identifiers other than the ORCID iD / ROR id."
    )
    sequence: Literal["first", "additional"] | None = Field(
        None, description="first or additional; derived from list order when absent."
    )
    affiliations: list[Affiliation] = Field(
        default_factory=list, description="Organisations, by name and/or ROR id."
    )

    @model_validator(mode="after")
    def _person_or_organization(self) -> Self:
        personal = self.given is not None or self.family is not None or self.orcid is not None
        if self.type is None:
            self.type = "person" if personal else "organization"
        if self.type == "organization":
            if personal:
                raise ValueError("an organization has a name only (no given, family or orcid)")
            if self.name is None:
                raise ValueError("an organization needs a name")
        elif self.family is None and self.name is None:
            raise ValueError("a person needs a family name or a name")
        elif self.ror is not None:
            raise ValueError("only an organization carries a ror (a person's go in affiliations)")
        return self

    @property
    def is_person(self) -> bool:
        return self.type == "person"

    @property
    def full_name(self) -> str:
        """'Given Family', the literal name, or the organisation's name."""
        if self.family is not None:
            return f"{self.given} {self.family}" if self.given else self.family
        return self.name or ""

    @property
    def inverted_name(self) -> str:
        """'Family, Given' for persons with a family name, else the literal name."""
        if self.family is not None:
            return f"{self.family}, {self.given}" if self.given else self.family
        return self.name or ""


class Container(_Model):
    """The journal, book or proceedings a work appears in."""

    title: OptText = Field(None, description="Journal, book or proceedings title.")
    issn: Issn | None = Field(None, description="Print (or only) ISSN.")
    eissn: Issn | None = Field(None, description="Electronic ISSN.")
    lissn: Issn | None = Field(None, description="Linking ISSN (ISSN-L).")
    isbn: Isbn | None = Field(None, description="ISBN of the book or proceedings.")
    volume: OptText = Field(None, description="Volume number (free text).")
    issue: OptText = Field(None, description="Issue number (free text).")
    pages: OptText = Field(None, description="Page range 'first-last' or a single page.")
    first_page: OptText = Field(None, description="First page (filled from pages if absent).")
    last_page: OptText = Field(None, description="Last page (filled from pages if absent).")

    @model_validator(mode="after")
    def _pages(self) -> Self:
        """pages, first_page and last_page agree: 'first-last' (hyphen) or a single page."""
        if self.pages and self.first_page is None:
            parts = re.split(r"\s*[-\u2013\u2014]+\s*", self.pages, maxsplit=1)
            self.first_page = parts[0] or None
            self.last_page = parts[1] if len(parts) > 1 and parts[1] else None
        if self.first_page is None and self.last_page is not None:
            raise ValueError("last_page without first_page")
        if self.first_page is not None:
            self.pages = (
                f"{self.first_page}-{self.last_page}" if self.last_page else self.first_page
            )
        return self


class Event(_Model):
    """The conference or meeting a paper, poster or presentation belongs to."""

    name: Text = Field(description="Conference or event name.")
    acronym: OptText = Field(None, description="Short name, e.g. 'PIDA22'.")
    location: OptText = Field(None, description="Place, e.g. 'Lisbon, Portugal'.")
    start_date: PartialDate | None = Field(None, description="First day, YYYY[-MM[-DD]].")
    end_date: PartialDate | None = Field(None, description="Last day, YYYY[-MM[-DD]].")


class Funding(_Model):
    funder_name: Text = Field(description="Name of the funding organisation.")
    funder_id: FunderId | None = Field(
        None, description="Crossref Funder ID (a 10.13039 DOI) or ROR id of the funder."
    )
    award_number: OptText = Field(None, description="Grant or award number.")
    award_title: OptText = Field(None, description="Title of the grant or award.")
    award_uri: Url | None = Field(None, description="URL of the award.")
    funder_identifier: FunderIdentifier | None = Field(
        None, description="A funder identifier funder_id cannot hold (ISNI, GRID, other)."
    )


def _identifier_patterns() -> dict[str, Any]:
    """JSON Schema: the identifier's pattern follows its identifier_type (as the model's
    normalisers do)."""
    patterns = {"DOI": DOI_PATTERN, "ISSN": ISSN_PATTERN, "EISSN": ISSN_PATTERN,
                "ISBN": ISBN_PATTERN, "URL": URL_PATTERN}  # fmt: skip
    return {
        "allOf": [
            {
                "if": {
                    "properties": {"identifier_type": {"const": kind}},
                    "required": ["identifier_type"],
                },
                "then": {"properties": {"identifier": {"pattern": pattern}}},
            }
            for kind, pattern in patterns.items()
        ]
    }


class RelatedIdentifier(_Model):
    model_config = ConfigDict(json_schema_extra=_identifier_patterns())

    identifier: Text = Field(description="The related identifier (DOIs, ISSNs, ISBNs normalised).")
    identifier_type: RelatedIdentifierType = Field(description="DataCite relatedIdentifierType.")
    relation_type: RelationType = Field(description="DataCite relationType (this work → it).")
    resource_type_general: ResourceTypeGeneral | None = Field(
        None, description="DataCite resourceTypeGeneral of the related work."
    )
    relation_type_information: OptText = Field(
        None, description="Free text about the relation (DataCite 4.7)."
    )
    related_metadata_scheme: OptText = Field(
        None, description="For HasMetadata/IsMetadataFor: the metadata scheme."
    )
    scheme_uri: Url | None = Field(None, description="URI of that metadata scheme.")
    scheme_type: OptText = Field(None, description="Type of that scheme, e.g. XSD.")

    @model_validator(mode="after")
    def _normalise(self) -> Self:
        normalizer = {
            "DOI": ids.normalize_doi,
            "ISSN": ids.normalize_issn,
            "EISSN": ids.normalize_issn,
            "ISBN": ids.normalize_isbn,
            "URL": check_url,
        }.get(self.identifier_type)
        if normalizer is not None:
            self.identifier = normalizer(self.identifier)
        return self


class License(_Model):
    url: Url = Field(description="URL of the licence text.")
    name: OptText = Field(None, description="Human-readable licence name.")
    identifier: OptText = Field(None, description="SPDX licence identifier, e.g. CC-BY-4.0.")
    language: Language | None = Field(None, description="Language of the licence name.")


class DateEntry(_Model):
    date: DateOrRange = Field(
        description="YYYY[-MM[-DD]], an ISO 8601 datetime, or a range 'start/end'."
    )
    type: DateType = Field(description="DataCite dateType.")
    information: OptText = Field(None, description="Free text about the date.")


class Description(_Model):
    """A description other than the abstract (methods, technical info, ...)."""

    text: LongText = Field(description="The description, plain text.")
    type: DescriptionType = Field(
        "Other",
        description="DataCite descriptionType; 'Abstract' here is a further abstract (another "
        "language) beside the Work's abstract.",
    )
    language: Language | None = Field(None, description="Language tag of this description.")


class AlternativeTitle(_Model):
    title: Text = Field(description="The title.")
    type: TitleType | None = Field(
        "AlternativeTitle",
        description="DataCite titleType; 'Subtitle' here is a further subtitle (another "
        "language) beside the Work's subtitle; null: another main title (the same title in "
        "another language, untyped in DataCite).",
    )
    language: Language | None = Field(None, description="Language tag of this title.")


class Review(_Model):
    """What a peer review (type ``peer-review``) says about itself, in Crossref's vocabulary
    (5.3.1 ``<peer_review>``); the reviewed work is the related identifier of relation type
    Reviews."""

    stage: Literal["pre-publication", "post-publication"] | None = Field(
        None, description="Whether the review came before or after the reviewed work's publication."
    )
    type: (
        Literal[
            "referee-report", "editor-report", "author-comment", "community-comment",
            "manuscript", "aggregate", "recommendation",
        ]
        | None
    ) = Field(None, description="Kind of review document.")  # fmt: skip
    recommendation: (
        Literal[
            "major-revision", "minor-revision", "reject", "reject-with-resubmit", "accept",
            "accept-with-reservation",
        ]
        | None
    ) = Field(None, description="The reviewer's recommendation.")  # fmt: skip
    revision_round: int | None = Field(
        None, ge=0, description="Review round; the first submission is round 0."
    )


class Registration(_Model):
    registrar: Literal["datacite", "crossref", "none"] = Field(
        "none", description="Agency registering the DOI; 'none': the DOI (if any) is external."
    )
    account: OptText = Field(None, description="Configured registrar account (default account).")
    state: Literal["findable", "registered"] = Field(
        "findable", description="DataCite DOI state to reach."
    )
    new_doi: bool | None = Field(
        None,
        description="The emitting system vouches that no DOI exists yet for this work: the "
        "duplicate guard (when enabled) is skipped.",
    )


class Work(_Model):
    """pidsync's canonical Work. Identity: (CloudEvent source, id)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        title="Work",
        json_schema_extra={"description": "A research output as pidsync receives it."},
    )

    id: WorkId = Field(description="Stable id of the work in the emitting system.")
    type: WorkType = Field(description="Work type (mapped to each agency's vocabulary).")
    title: Text = Field(description="Main title.")
    title_language: Language | None = Field(
        None, description="Language tag of the main title (default: the work's language)."
    )
    subtitle: OptText = Field(None, description="Subtitle.")
    subtitle_language: Language | None = Field(None, description="Language tag of the subtitle.")
    alternative_titles: list[AlternativeTitle] = Field(
        default_factory=list, description="Alternative and translated titles."
    )
    abstract: OptLongText = Field(
        None, description="Abstract as plain text; blank lines split paragraphs."
    )
    abstract_language: Language | None = Field(
        None, description="Language tag of the abstract; translations go in descriptions."
    )
    descriptions: list[Description] = Field(
        default_factory=list,
        description="Descriptions other than the abstract, and the abstract in other languages.",
    )
    language: Language | None = Field(None, description="Language tag (ISO 639-1, e.g. 'en').")
    publication_date: PartialDate | None = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD.")
    publisher: OptText = Field(
        None, description="Publisher (for a dissertation: the degree-granting institution)."
    )
    publisher_language: Language | None = Field(None, description="Language of its name.")
    publisher_identifier: NameIdentifier | None = Field(
        None, description="The publisher's identifier, e.g. a ROR id (DataCite 4.5)."
    )
    url: Url | None = Field(None, description="Landing page.")
    doi: Doi | None = Field(None, description="The work's DOI (normalised: lower case, bare).")
    registration: Registration | None = Field(
        None, description="Where to register the DOI; absent = registrar 'none'."
    )
    version: PositiveInt | None = Field(
        None,
        description="Monotonic version (an integer >= 1, never a string); an older one never "
        "overwrites a newer one.",
    )
    resource_version: OptText = Field(None, description="Free-text version (DataCite <version>).")
    resource_type: OptText = Field(
        None, description="Free-text resource type (DataCite resourceType); default: from type."
    )
    resource_type_general: ResourceTypeGeneral | None = Field(
        None,
        description="DataCite resourceTypeGeneral when it is not the one of the type (e.g. "
        "Instrument, StudyRegistration, Award, Project for a type 'other').",
    )
    contributors: list[Contributor] = Field(
        default_factory=list, description="Authors, editors and others, in credit order."
    )
    container: Container | None = Field(
        None,
        description="Journal, book or proceedings the work is in (for a book: its own ISBN).",
    )
    event: Event | None = Field(None, description="Conference or event of the work.")
    funding: list[Funding] = Field(default_factory=list, description="Funders and awards.")
    related_identifiers: list[RelatedIdentifier] = Field(
        default_factory=list, description="Identifiers of related works, with the relation."
    )
    # Issue 15: the version family this work belongs to (Zenodo/InvenioRDM's concept DOI), for
    # ORCID's one-work-per-family setting; related identifiers can say the same.
    concept_id: OptText = Field(
        None,
        description="Identifier of the work's version family (the concept DOI), when the "
        "related identifiers do not name it (IsVersionOf).",
    )
    keywords: list[Text] = Field(default_factory=list, description="Free keywords.")
    subjects: list[Subject] = Field(
        default_factory=list,
        description="Subjects with a scheme, URIs, a code or a language (keywords: plain ones).",
    )
    license: License | None = Field(None, description="Licence of the work.")
    rights: list[Rights] = Field(
        default_factory=list, description="Rights statements besides the licence."
    )
    dates: list[DateEntry] = Field(default_factory=list, description="Other dated events.")
    alternate_identifiers: list[AlternateIdentifier] = Field(
        default_factory=list, description="Other identifiers of the work itself."
    )
    related_items: list[RelatedItem] = Field(
        default_factory=list, description="Related works described (besides the container)."
    )
    geo_locations: list[GeoLocation] = Field(
        default_factory=list, description="Places the work is about."
    )
    review: Review | None = Field(
        None, description="For a peer review: stage, type, recommendation, revision round."
    )
    sizes: list[Text] = Field(default_factory=list, description="Sizes, e.g. '15 pages'.")
    formats: list[Text] = Field(default_factory=list, description="Formats, e.g. 'text/csv'.")

    @model_validator(mode="after")
    def _canonical(self) -> Self:
        """One form for one meaning, so a Work read back from its DataCite record is the Work
        written: a further abstract (subtitle) without a first one is the abstract (subtitle);
        a rights entry the licence can hold, without a licence, is the licence."""
        if self.resource_type_general == TYPES[self.type].datacite_general:
            self.resource_type_general = None
        if self.abstract is None:
            for index, description in enumerate(self.descriptions):
                if description.type == "Abstract":
                    self.abstract, self.abstract_language = description.text, description.language
                    del self.descriptions[index]
                    break
        if self.subtitle is None:
            for index, title in enumerate(self.alternative_titles):
                if title.type == "Subtitle":
                    self.subtitle, self.subtitle_language = title.title, title.language
                    del self.alternative_titles[index]
                    break
        if self.license is None:
            for index, rights in enumerate(self.rights):
                if rights.uri and _is_url(rights.uri) and _licence_form(rights):
                    self.license = License(url=rights.uri, name=rights.statement,
                                           identifier=rights.identifier,
                                           language=rights.language)  # fmt: skip
                    del self.rights[index]
                    break
        return self

    @property
    def publication_year(self) -> int | None:
        return int(self.publication_date[:4]) if self.publication_date else None

    def date_parts(self) -> list[int]:
        """[year], [year, month] or [year, month, day] of the publication date."""
        return (
            [int(part) for part in self.publication_date.split("-")]
            if self.publication_date
            else []
        )

    def contributors_with(self, role: ContributorRole) -> list[Contributor]:
        return [c for c in self.contributors if c.role == role]

    @property
    def authors(self) -> list[Contributor]:
        return self.contributors_with(ContributorRole.AUTHOR)

    @property
    def registrar(self) -> str:
        return self.registration.registrar if self.registration else "none"


#: How a licence's SPDX identifier is written (DataCite rightsIdentifierScheme and schemeURI).
SPDX_SCHEME = {"rightsIdentifierScheme": "SPDX", "schemeUri": "https://spdx.org/licenses/"}


def _is_url(value: str) -> bool:
    try:
        check_url(value)
    except ValueError:
        return False
    return True


def _licence_form(rights: Rights) -> bool:
    """A rights entry is a licence as pidsync writes one: no identifier and no scheme, or an
    identifier in the SPDX scheme."""
    scheme = {
        key: value
        for key, value in (("rightsIdentifierScheme", rights.identifier_scheme),
                           ("schemeUri", rights.scheme_uri))
        if value
    }  # fmt: skip
    if rights.identifier is None:
        return not scheme
    return scheme == SPDX_SCHEME


def work_json_schema(schema_id: str = WORK_SCHEMA_ID) -> dict[str, Any]:
    """The Work's JSON Schema (draft 2020-12), generated from the model.

    It accepts every Work the model accepts. Identifier, date, URL and language fields carry
    patterns (``worker.metadata.fields``); what no pattern can check - ORCID, ISSN and ISBN
    check digits, ROR checksums, 29 February of a common year - pidsync checks on receipt.
    """
    schema = Work.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        **schema,
    }


def validate_work(data: Any) -> Work:
    """A Work from JSON-shaped data, or :class:`WorkValidationError` listing each problem."""
    if not isinstance(data, dict):
        raise WorkValidationError([("", "a Work must be a JSON object")])
    try:
        return Work.model_validate(data)
    except ValidationError as exc:
        raise WorkValidationError(problems_of(exc)) from None


def problems_of(exc: ValidationError) -> list[tuple[str, str]]:
    """Pydantic's errors as (JSON path, message) pairs, e.g. ('contributors[0].orcid', ...)."""
    problems = []
    for error in exc.errors():
        path = json_path(error["loc"])
        problems.append((path, _message(error)))
    return problems


def json_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(("function-", "function_")) or "[" in part:
            continue
        else:
            path += f".{part}" if path else part
    return path


def _message(error: Any) -> str:
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ids.InvalidIdentifier):
        return cause.reason
    if isinstance(cause, ValueError):
        return str(cause)
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    return str(error["msg"])


def work_to_json(work: Work) -> dict[str, Any]:
    """The Work as JSON data, without empty optional fields."""
    return _prune(work.model_dump(mode="json", exclude_none=True))  # type: ignore[no-any-return]


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v not in ([], {})}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value
