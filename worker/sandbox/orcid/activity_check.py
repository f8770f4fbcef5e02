"""Checking affiliations, fundings and peer reviews the way ORCID's member API does.

As for works (:mod:`worker.sandbox.orcid.validation`), two steps: the JSON deserialiser (an
unknown field 400/9047, a bad enum value 400/9051), then ORCID's ``ActivityValidator`` rules for
the section (API_FACTS §1.12 and the record_3.0 XSDs):

- every section: an organisation with a name, a city and a country, and a disambiguated
  organisation (ROR, FUNDREF, RINGGOLD, GRID or LEI, with an identifier) as ORCID requires of
  member writes (400/9020 naming what is missing); dates as for works (9049/9020); no put-code
  on create (9024); external ids valid when present (9023);
- fundings: a title (9022), a type (9037), an amount with its currency;
- peer reviews: a reviewer role, a review type, review identifiers with one ``self``, a
  completion date and a group id (the registry check is the API's: it knows the registry).
"""

from __future__ import annotations

from typing import Any

from worker.sandbox.orcid import ids, validation, vocab
from worker.sandbox.orcid.errors import OrcidApiError, api_error

AFFILIATIONS = (
    "employment",
    "education",
    "qualification",
    "invited-position",
    "distinction",
    "membership",
    "service",
)
FUNDING = "funding"
PEER_REVIEW = "peer-review"
SECTIONS = (*AFFILIATIONS, FUNDING, PEER_REVIEW)

DISAMBIGUATION_SOURCES = ("ROR", "FUNDREF", "RINGGOLD", "GRID", "LEI")
FUNDING_TYPES = ("grant", "contract", "award", "salary-award")
FUNDING_ROLES = ("lead", "co-lead", "supported-by", "other-contribution")
REVIEWER_ROLES = ("reviewer", "editor", "member", "chair", "organizer")
REVIEW_TYPES = ("review", "evaluation")
SUBJECT_TYPES = vocab.WORK_TYPES

_COMMON = {"created-date", "last-modified-date", "source", "put-code", "path", "visibility"}
_AFFILIATION_KEYS = _COMMON | {
    "department-name",
    "role-title",
    "start-date",
    "end-date",
    "organization",
    "url",
    "external-ids",
    "display-index",
}
_FUNDING_KEYS = _COMMON | {
    "type",
    "organization-defined-type",
    "title",
    "short-description",
    "amount",
    "url",
    "start-date",
    "end-date",
    "external-ids",
    "contributors",
    "organization",
    "display-index",
}
_REVIEW_KEYS = _COMMON | {
    "reviewer-role",
    "review-identifiers",
    "review-url",
    "review-type",
    "review-completion-date",
    "review-group-id",
    "subject-external-identifier",
    "subject-container-name",
    "subject-type",
    "subject-name",
    "subject-url",
    "convening-organization",
    "display-index",
}
KEYS = {FUNDING: _FUNDING_KEYS, PEER_REVIEW: _REVIEW_KEYS} | dict.fromkeys(
    AFFILIATIONS, _AFFILIATION_KEYS
)


def _bad(detail: str) -> OrcidApiError:
    return api_error(9020, detail)


def _blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


def parse(section: str, raw: Any) -> dict[str, Any]:
    """The body as the deserialiser reads it: an object of known fields with valid enums."""
    if not isinstance(raw, dict):
        raise api_error(9047, error=f"Cannot deserialize {section}: expected an object")
    for key in raw:
        if key not in KEYS[section]:
            raise api_error(
                9047, error=f'Unrecognized field "{key}" ({section}), not marked as ignorable'
            )
    if raw.get("visibility") is not None and raw["visibility"] not in vocab.VISIBILITIES:
        raise api_error(9051, value=str(raw["visibility"]), enum="Visibility")
    enums: dict[str, tuple[str, tuple[str, ...]]] = {
        "type": ("FundingType", FUNDING_TYPES),
        "reviewer-role": ("Role", REVIEWER_ROLES),
        "review-type": ("ReviewType", REVIEW_TYPES),
    }
    for key, (enum, allowed) in enums.items():
        value = raw.get(key)
        if key in KEYS[section] and value is not None and value not in allowed:
            raise api_error(9051, value=str(value), enum=enum)
    return raw


def _held(holder: Any) -> Any:
    return holder.get("value") if isinstance(holder, dict) else None


def _date(date: Any, where: str) -> None:
    if date is None:
        return
    if not isinstance(date, dict) or _held(date.get("year")) is None:
        raise _bad(f"{where}: a year is required")
    parts = {part: _held(date.get(part)) for part in ("year", "month", "day")}
    shaped = {part: {"value": str(v)} if v is not None else None for part, v in parts.items()}
    validation.check_date(shaped)


def organization(org: Any, where: str = "organization") -> None:
    """A name, city and country, and a disambiguated organisation from a known source."""
    if not isinstance(org, dict) or _blank(org.get("name")):
        raise _bad(f"{where}: a name is required")
    address = org.get("address")
    if not isinstance(address, dict) or _blank(address.get("city")):
        raise _bad(f"{where}.address: a city is required")
    country = address.get("country")
    if not isinstance(country, str) or len(country) != 2 or not country.isalpha():
        raise _bad(f"{where}.address: an ISO 3166-1 alpha-2 country is required")
    disambiguated = org.get("disambiguated-organization")
    if not isinstance(disambiguated, dict):
        raise _bad(
            f"{where}: a disambiguated organization ({', '.join(DISAMBIGUATION_SOURCES)}) "
            "is required"
        )
    source = disambiguated.get("disambiguation-source")
    if source not in DISAMBIGUATION_SOURCES:
        raise _bad(
            f"{where}: disambiguation-source must be one of {', '.join(DISAMBIGUATION_SOURCES)}"
        )
    if _blank(disambiguated.get("disambiguated-organization-identifier")):
        raise _bad(f"{where}: a disambiguated-organization-identifier is required")


def external_ids(holder: Any, *, need_self: bool) -> list[dict[str, Any]]:
    if holder is None:
        ext_ids: list[Any] = []
    elif not isinstance(holder, dict) or not isinstance(holder.get("external-id") or [], list):
        raise api_error(9047, error="external-ids: expected an object with an array")
    else:
        ext_ids = holder.get("external-id") or []
    errors: list[str] = []
    for ext in ext_ids:
        if not isinstance(ext, dict):
            raise api_error(9047, error="external-id: expected an object")
        if ext.get("external-id-type") not in vocab.EXTERNAL_ID_TYPES:
            errors.append(str(ext.get("external-id-type")))
        if _blank(ext.get("external-id-value")):
            errors.append("value")
        rel = ext.get("external-id-relationship")
        if rel is not None and rel not in vocab.RELATIONSHIPS:
            raise api_error(9051, value=str(rel), enum="Relationship")
    if need_self and not any(e.get("external-id-relationship") == "self" for e in ext_ids):
        errors.append("At least one identifier with 'self' relationship is required")
    if errors:
        raise api_error(9023, "Invalid external-id " + "".join(" " + e for e in errors))
    return ext_ids


def _funding(body: dict[str, Any]) -> None:
    title = body.get("title")
    if not isinstance(title, dict) or _blank(_held(title.get("title"))):
        raise api_error(9022)
    if body.get("type") is None:
        raise api_error(9037, type="funding type", values=", ".join(FUNDING_TYPES))
    amount = body.get("amount")
    if amount is not None:
        if not isinstance(amount, dict) or _blank(amount.get("currency-code")):
            raise _bad("amount: a currency-code is required")
        if _blank(amount.get("value")):
            raise _bad("amount: a value is required")
    contributors = (body.get("contributors") or {}).get("contributor") or []
    for con in contributors:
        role = ((con or {}).get("contributor-attributes") or {}).get("contributor-role")
        if role is not None and role not in FUNDING_ROLES:
            raise api_error(9058, role=str(role), validRoles=", ".join(FUNDING_ROLES))
        path = ((con or {}).get("contributor-orcid") or {}).get("path")
        if path and not ids.is_valid_orcid(path):
            raise _bad("Invalid contributor ORCID")
    external_ids(body.get("external-ids"), need_self=False)
    organization(body.get("organization"))


def _review(body: dict[str, Any]) -> None:
    for key in ("reviewer-role", "review-type", "review-group-id"):
        if _blank(body.get(key)):
            raise _bad(f"{key} is required")
    if body.get("review-completion-date") is None:
        raise _bad("review-completion-date is required")
    external_ids(body.get("review-identifiers"), need_self=True)
    if body.get("subject-external-identifier") is not None:
        external_ids({"external-id": [body["subject-external-identifier"]]}, need_self=False)
    organization(body.get("convening-organization"), "convening-organization")


def check(section: str, body: dict[str, Any], *, create: bool) -> None:
    """Raise the error ORCID would answer for this item, or return."""
    if section == FUNDING:
        _funding(body)
    elif section == PEER_REVIEW:
        _review(body)
    else:
        organization(body.get("organization"))
        external_ids(body.get("external-ids"), need_self=False)
    for key in ("start-date", "end-date", "review-completion-date"):
        _date(body.get(key), key)
    if create and body.get("put-code") is not None:
        raise api_error(9024)


def duplicate_keys(section: str, body: dict[str, Any]) -> set[tuple[str, str, str]]:
    """The keys ORCID's duplicate check compares: ``self`` external ids (review identifiers
    for a peer review). Affiliations are not checked for duplicates."""
    if section == PEER_REVIEW:
        return ids.duplicate_keys({"external-ids": body.get("review-identifiers")})
    if section == FUNDING:
        return ids.duplicate_keys(body)
    return set()
