"""Affiliations, fundings and peer reviews as events carry them (DESIGN.md §3, §7): pure data.

Identity is (CloudEvent ``source``, ``id``) and ``version`` works as for a Work. Identifiers are
normalised here, once (ORCID iDs, ROR ids, Crossref Funder IDs, DOIs, ISSNs). What a target
needs beyond the schema (an organisation for an affiliation: the event's, or the client's
configured one) is decided by the caller, which knows the configuration.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from worker.metadata.errors import WorkValidationError
from worker.metadata.fields import (
    Doi,
    FunderId,
    Issn,
    OptText,
    Orcid,
    PartialDate,
    PositiveInt,
    Ror,
    Text,
    Url,
    WorkId,
)
from worker.metadata.work import problems_of

AffiliationKind = Literal[
    "employment",
    "education",
    "qualification",
    "invited-position",
    "distinction",
    "membership",
    "service",
]
AFFILIATION_KINDS: tuple[str, ...] = AffiliationKind.__args__  # type: ignore[attr-defined]
FundingType = Literal["grant", "contract", "award", "salary-award"]
FundingRole = Literal["lead", "co-lead", "supported-by", "other-contribution"]
ReviewerRole = Literal["reviewer", "editor", "member", "chair", "organizer"]
ReviewType = Literal["review", "evaluation"]

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _country(value: str) -> str:
    upper = value.upper()
    if not _COUNTRY.match(upper):
        raise ValueError("an ISO 3166-1 alpha-2 country code, e.g. 'NZ'")
    return upper


Country = Annotated[str, AfterValidator(_country)]


class Organization(_Model):
    """An organisation as ORCID records it: name, address, and (where known) its ROR id."""

    name: Text = Field(description="Name of the organisation.")
    city: Text = Field(description="City.")
    region: OptText = Field(None, description="Region or state.")
    country: Country = Field(description="ISO 3166-1 alpha-2 country code.")
    ror: Ror | None = Field(None, description="ROR id (normalised to https://ror.org/...).")


def _disambiguated(org: Organization | None) -> Organization | None:
    """ORCID expects every organisation a member asserts to carry a persistent id."""
    if org is not None and org.ror is None:
        raise ValueError("needs its ror id: ORCID expects a disambiguated organisation")
    return org


class Funder(_Model):
    """A funder: ORCID needs a disambiguated id, a ROR id or a Crossref Funder ID."""

    name: Text = Field(description="Name of the funder.")
    country: Country = Field(description="ISO 3166-1 alpha-2 country code.")
    city: OptText = Field(None, description="City.")
    ror: Ror | None = Field(None, description="ROR id of the funder.")
    funder_id: FunderId | None = Field(
        None, description="Crossref Funder ID (a 10.13039 DOI); a ROR id here counts as ror."
    )

    @model_validator(mode="after")
    def _disambiguated(self) -> Self:
        if self.funder_id is not None and self.funder_id.startswith("https://ror.org/"):
            self.ror = self.ror or self.funder_id
            self.funder_id = None
        if self.ror is None and self.funder_id is None:
            raise ValueError("a funder needs a ror or a funder_id (ORCID requires one)")
        return self


class Affiliation(_Model):
    """An employment, education, qualification, invited position, distinction, membership or
    service of one researcher."""

    id: WorkId = Field(description="Stable id of the affiliation in the emitting system.")
    version: PositiveInt | None = Field(None, description="Monotonic version (integer >= 1).")
    orcid: Orcid = Field(description="The researcher's ORCID iD.")
    kind: AffiliationKind = Field(description="The ORCID section it goes to.")
    organization: Organization | None = Field(
        None, description="The organisation; absent = the client's configured organisation."
    )
    department: OptText = Field(None, description="Department.")
    role: OptText = Field(None, description="Role or title.")
    start_date: PartialDate | None = Field(None, description="YYYY[-MM[-DD]].")
    end_date: PartialDate | None = Field(None, description="YYYY[-MM[-DD]].")
    url: Url | None = Field(None, description="A page about it.")

    _org = field_validator("organization")(classmethod(lambda _c, v: _disambiguated(v)))

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class Amount(_Model):
    value: str = Field(description="A decimal string, e.g. '250000.00'.")
    currency: str = Field(description="ISO 4217 code, e.g. 'EUR'.")

    @field_validator("value")
    @classmethod
    def _decimal(cls, v: str) -> str:
        try:
            number = Decimal(v)
        except InvalidOperation:
            raise ValueError("a decimal number as a string, e.g. '250000.00'") from None
        if not number.is_finite() or number < 0:
            raise ValueError("a non-negative decimal number")
        return v

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if not _CURRENCY.match(v.upper()):
            raise ValueError("an ISO 4217 currency code, e.g. 'EUR'")
        return v.upper()


class FundingContributor(_Model):
    orcid: Orcid | None = Field(None, description="ORCID iD: the funding is placed on it.")
    given: OptText = None
    family: OptText = None
    name: OptText = None
    role: FundingRole = Field(description="lead, co-lead, supported-by or other-contribution.")

    @property
    def credit_name(self) -> str | None:
        if self.name:
            return self.name
        parts = [p for p in (self.given, self.family) if p]
        return " ".join(parts) or None


class Funding(_Model):
    """A grant (contract, award, salary award) held by one or more contributors."""

    id: WorkId = Field(description="Stable id of the funding in the emitting system.")
    version: PositiveInt | None = Field(None, description="Monotonic version (integer >= 1).")
    title: Text = Field(description="Title of the grant.")
    type: FundingType = Field(description="grant, contract, award or salary-award.")
    funder: Funder
    grant_number: OptText = Field(None, description="The funder's grant number.")
    doi: Doi | None = Field(None, description="The grant's DOI.")
    url: Url | None = Field(None, description="A page about the grant.")
    amount: Amount | None = None
    start_date: PartialDate | None = None
    end_date: PartialDate | None = None
    contributors: list[FundingContributor] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self

    def orcids(self) -> list[str]:
        """Contributors' iDs, each once, in order: the records the funding goes on."""
        return list(dict.fromkeys(c.orcid for c in self.contributors if c.orcid))


class Journal(_Model):
    title: Text = Field(description="The journal's title.")
    issn: Issn = Field(description="Its ISSN: the review's ORCID group is issn:<ISSN>.")


class ReviewIdentifier(_Model):
    type: Literal["doi", "uri", "source-work-id", "other-id"] = "source-work-id"
    value: Text


class Review(_Model):
    """A peer review a researcher did for one of the institution's journals."""

    id: WorkId = Field(description="Stable id of the review in the emitting system.")
    version: PositiveInt | None = Field(None, description="Monotonic version (integer >= 1).")
    orcid: Orcid = Field(description="The reviewer's ORCID iD.")
    role: ReviewerRole = "reviewer"
    type: ReviewType = "review"
    completion_date: PartialDate = Field(description="YYYY[-MM[-DD]].")
    identifiers: list[ReviewIdentifier] = Field(
        default_factory=list,
        description="The review's own ids (a DOI, a URI); source-work-id <source>:<id> is "
        "always added.",
    )
    url: Url | None = None
    journal: Journal
    subject_doi: Doi | None = Field(None, description="DOI of the work reviewed.")
    subject_title: OptText = None
    organization: Organization | None = Field(
        None, description="The convening organisation; absent = the client's configured one."
    )

    _org = field_validator("organization")(classmethod(lambda _c, v: _disambiguated(v)))

    @property
    def group_id(self) -> str:
        return f"issn:{self.journal.issn}"


def _validate(model: type[_Model], data: Any) -> Any:
    if not isinstance(data, dict):
        raise WorkValidationError([("", "must be a JSON object")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise WorkValidationError(problems_of(exc)) from None


def validate_affiliation(data: Any) -> Affiliation:
    result: Affiliation = _validate(Affiliation, data)
    return result


def validate_funding(data: Any) -> Funding:
    result: Funding = _validate(Funding, data)
    return result


def validate_review(data: Any) -> Review:
    result: Review = _validate(Review, data)
    return result


def validate_organization(data: Any) -> Organization:
    result: Organization = _validate(Organization, data)
    return result


def to_json(item: BaseModel) -> dict[str, Any]:
    """The item as stored: JSON data without absent optional fields."""
    data: dict[str, Any] = item.model_dump(mode="json", exclude_none=True)
    return data
