"""Checking a work the way ORCID's member API does, and bringing it into one internal shape.

Two steps, in ORCID's order:

1. :func:`parse_work` reads the JSON object (or the dict the XML reader made) as ORCID's JSON
   deserialiser would: wrong shapes and unknown fields are 400/9047, a bad enum value 400/9051.
2. :func:`validate_work` applies v3 ``ActivityValidator.validateWork`` in its order: title
   (9022), country, translated title, type (9037), language, publication date (9049 when it is
   not a real yyyy[-MM[-dd]] date, 9037/9020 after that), citation, external ids present
   (9023), contributors (9020; an unknown role 9058), put-code on create (9024), visibility
   change on update (9035), then ``ExternalIDValidator`` (9023: a known type, a value, at least
   one ``self``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from worker.sandbox.orcid import ids, vocab
from worker.sandbox.orcid.errors import OrcidApiError, api_error

_WORK_KEYS = frozenset(
    {
        "created-date",
        "last-modified-date",
        "source",
        "put-code",
        "path",
        "visibility",
        "display-index",
        "title",
        "journal-title",
        "short-description",
        "citation",
        "type",
        "publication-date",
        "external-ids",
        "url",
        "contributors",
        "language-code",
        "country",
    }
)
_WORK_CLASS = "org.orcid.jaxb.model.v3.release.record.Work"


@dataclass
class ParsedWork:
    body: dict[str, Any]
    put_code: Any
    visibility: str | None


def _json_error(detail: str) -> OrcidApiError:
    return api_error(9047, error=detail)


def _obj(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _json_error(f"Cannot deserialize {where}: expected an object")
    return value


def _text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _json_error(f"Cannot deserialize {where}: expected a string")
    return str(value)


def _held(value: Any, where: str) -> dict[str, Any] | None:
    """A ``{"value": ...}`` holder, kept as ``{"value": str|None}``; None when absent."""
    holder = _obj(value, where)
    if holder is None:
        return None
    return {"value": _text(holder.get("value"), f"{where}.value")}


def _enum(value: Any, allowed: tuple[str, ...], enum: str, where: str) -> str | None:
    text = _text(value, where)
    if text is None:
        return None
    if text not in allowed:
        raise api_error(9051, value=text, enum=enum)
    return text


def _external_id(raw: Any) -> dict[str, Any]:
    ext = _obj(raw, "external-id") or {}
    id_type = _text(ext.get("external-id-type"), "external-id-type")
    value = _text(ext.get("external-id-value"), "external-id-value")
    normalised = ids.normalise_external_id(id_type or "", value or "")
    return {
        "external-id-type": id_type,
        "external-id-value": value,
        "external-id-normalized": {"value": normalised, "transient": True} if normalised else None,
        "external-id-normalized-error": None,
        "external-id-url": _held(ext.get("external-id-url"), "external-id-url"),
        "external-id-relationship": _enum(
            ext.get("external-id-relationship"), vocab.RELATIONSHIPS, "Relationship", "rel"
        ),
    }


def _contributor(raw: Any) -> dict[str, Any]:
    con = _obj(raw, "contributor") or {}
    orcid = _obj(con.get("contributor-orcid"), "contributor-orcid")
    attrs = _obj(con.get("contributor-attributes"), "contributor-attributes")
    role = None
    sequence = None
    if attrs is not None:
        sequence = _enum(
            attrs.get("contributor-sequence"), vocab.SEQUENCES, "SequenceType", "sequence"
        )
        role = _text(attrs.get("contributor-role"), "contributor-role")
    email = _text(con.get("contributor-email"), "contributor-email")
    return {
        "contributor-orcid": None
        if orcid is None
        else {
            "uri": _text(orcid.get("uri"), "contributor-orcid.uri"),
            "path": _text(orcid.get("path"), "contributor-orcid.path"),
            "host": _text(orcid.get("host"), "contributor-orcid.host"),
        },
        "credit-name": _held(con.get("credit-name"), "credit-name"),
        "contributor-email": email,
        "contributor-attributes": None
        if attrs is None
        else {"contributor-sequence": sequence, "contributor-role": role},
    }


def _list(holder: dict[str, Any] | None, key: str) -> list[Any]:
    if holder is None:
        return []
    items = holder.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise _json_error(f"Cannot deserialize {key}: expected an array")
    return items


def parse_work(raw: Any) -> ParsedWork:
    """Read a work object into the internal shape (ORCID's v3.0 JSON spelling)."""
    work = _obj(raw, _WORK_CLASS)
    if work is None:
        raise _json_error(f"Cannot deserialize {_WORK_CLASS} from null")
    for key in work:
        if key not in _WORK_KEYS:
            raise _json_error(
                f'Unrecognized field "{key}" (class {_WORK_CLASS}), not marked as ignorable'
            )
    title = _obj(work.get("title"), "title")
    translated = _obj((title or {}).get("translated-title"), "translated-title")
    citation = _obj(work.get("citation"), "citation")
    date = _obj(work.get("publication-date"), "publication-date")
    ext_holder = _obj(work.get("external-ids"), "external-ids")
    con_holder = _obj(work.get("contributors"), "contributors")
    body: dict[str, Any] = {
        "title": None
        if title is None
        else {
            "title": _held(title.get("title"), "title.title"),
            "subtitle": _held(title.get("subtitle"), "subtitle"),
            "translated-title": None
            if translated is None
            else {
                "value": _text(translated.get("value"), "translated-title.value"),
                "language-code": _text(translated.get("language-code"), "language-code"),
            },
        },
        "journal-title": _held(work.get("journal-title"), "journal-title"),
        "short-description": _text(work.get("short-description"), "short-description"),
        "citation": None
        if citation is None
        else {
            "citation-type": _enum(
                citation.get("citation-type"), vocab.CITATION_TYPES, "CitationType", "citation"
            ),
            "citation-value": _text(citation.get("citation-value"), "citation-value"),
        },
        "type": _text(work.get("type"), "type"),
        "publication-date": None
        if date is None
        else {
            part: _held(date.get(part), f"publication-date.{part}")
            for part in ("year", "month", "day")
        },
        "external-ids": None
        if ext_holder is None
        else {"external-id": [_external_id(e) for e in _list(ext_holder, "external-id")]},
        "url": _held(work.get("url"), "url"),
        "contributors": {
            "contributor": [_contributor(c) for c in _list(con_holder, "contributor")]
        },
        "language-code": _text(work.get("language-code"), "language-code"),
        "country": _held(work.get("country"), "country"),
    }
    visibility = _enum(work.get("visibility"), vocab.VISIBILITIES, "Visibility", "visibility")
    return ParsedWork(body=body, put_code=work.get("put-code"), visibility=visibility)


def _type_error(kind: str, values: str) -> OrcidApiError:
    return api_error(9037, type=kind, values=values)


def _date_string(date: dict[str, Any]) -> str:
    year, month, day = ((date.get(part) or {}).get("value") for part in ("year", "month", "day"))
    if day is not None:
        return f"{year}-{month}-{day}"
    if month is not None:
        return f"{year}-{month}"
    return str(year)


def _is_real_date(text: str) -> bool:
    """``yyyy``, ``yyyy-MM`` or ``yyyy-MM-dd`` naming a real calendar date (strict parsing)."""
    parts = text.split("-")
    widths = (4, 2, 2)
    if not 1 <= len(parts) <= 3:
        return False
    if any(len(p) != w or not p.isdigit() for p, w in zip(parts, widths, strict=False)):
        return False
    numbers = [int(p) for p in parts] + [1] * (3 - len(parts))
    try:
        dt.date(numbers[0], numbers[1], numbers[2])
    except ValueError:
        return False
    return True


def _validate_date(date: dict[str, Any]) -> None:
    text = _date_string(date)
    if not _is_real_date(text):
        raise api_error(9049, dateString=text)
    widths = {"year": 4, "month": 2, "day": 2}
    words = {"year": "four", "month": "two", "day": "two"}
    for part, width in widths.items():
        value = (date.get(part) or {}).get("value")
        if value is None:
            continue
        if not value.isdigit():
            raise _type_error(f"publication date -> {part}", "integers")
        if len(value) != width:
            raise api_error(
                9020, f"Invalid {part} {value} please specify a {words[part]} digits value"
            )


def _validate_external_ids(ext_ids: list[dict[str, Any]]) -> None:
    errors: list[str] = []
    has_self = False
    for ext in ext_ids:
        if ext["external-id-type"] not in vocab.EXTERNAL_ID_TYPES:
            errors.append(str(ext["external-id-type"]))
        if not (ext["external-id-value"] or "").strip():
            errors.append("value")
        if ext["external-id-relationship"] == "self":
            has_self = True
    if not has_self:
        errors.append("At least one identifier with 'self' relationship is required")
    if errors:
        raise api_error(9023, "Invalid external-id " + "".join(" " + e for e in errors))


def _validate_contributors(contributors: list[dict[str, Any]]) -> None:
    for con in contributors:
        orcid = con["contributor-orcid"]
        if orcid is not None:
            uri, path = orcid.get("uri"), orcid.get("path")
            if uri and not ids.is_valid_orcid(uri.rstrip("/").rsplit("/", 1)[-1]):
                raise api_error(9020, "Invalid contributor URI")
            if path and not ids.is_valid_orcid(path):
                raise api_error(9020, "Invalid contributor ORCID")
        attrs = con["contributor-attributes"] or {}
        role = attrs.get("contributor-role")
        if role is not None and role not in vocab.CONTRIBUTOR_ROLES:
            raise api_error(9058, role=role, validRoles=", ".join(vocab.CONTRIBUTOR_ROLES))
        if con["credit-name"] is not None and not (con["credit-name"]["value"] or "").strip():
            raise api_error(
                9020, "Please specify a contributor credit name or remove the empty tag"
            )


def _validate_title_and_codes(body: dict[str, Any]) -> None:
    title = body["title"]
    if title is None or title["title"] is None or not (title["title"]["value"] or "").strip():
        raise api_error(9022)
    country = body["country"]
    if country is not None and not (country["value"] or "").isalpha():
        raise _type_error("country", "ISO 3166-1 alpha-2 country codes")
    translated = title["translated-title"]
    if translated is not None:
        if not translated["value"] and translated["language-code"]:
            raise api_error(9020, "Please specify a translated title or remove the language code")
        if translated["value"] and translated["language-code"] not in vocab.LANGUAGE_CODES:
            raise _type_error("translated title -> language code", ", ".join(vocab.LANGUAGE_CODES))
    if body["type"] not in vocab.WORK_TYPES:
        raise _type_error("work type", ", ".join(vocab.WORK_TYPES))
    if body["language-code"] and body["language-code"] not in vocab.LANGUAGE_CODES:
        raise _type_error("language code", ", ".join(vocab.LANGUAGE_CODES))


def _validate_citation(citation: dict[str, Any] | None) -> None:
    if citation is None:
        return
    if citation["citation-type"] is None:
        raise _type_error("citation type", ", ".join(vocab.CITATION_TYPES))
    if not (citation["citation-value"] or "").strip():
        raise api_error(9020, "Please specify a citation or remove the parent tag")


def validate_work(
    parsed: ParsedWork,
    *,
    create: bool,
    current_visibility: str | None = None,
    client_name: str | None = None,
) -> None:
    """Raise the error ORCID would answer for this work, or return."""
    body = parsed.body
    _validate_title_and_codes(body)
    if body["publication-date"] is not None:
        _validate_date(body["publication-date"])
    _validate_citation(body["citation"])
    ext_holder = body["external-ids"]
    ext_ids: list[dict[str, Any]] = ext_holder["external-id"] if ext_holder else []
    if not ext_ids:
        raise api_error(9023)
    _validate_contributors(body["contributors"]["contributor"])
    if create and parsed.put_code is not None:
        raise api_error(9024, client_name=client_name)
    if not create and parsed.visibility is not None and parsed.visibility != current_visibility:
        raise api_error(9035, client_name=client_name)
    _validate_external_ids(ext_ids)


#: The date check works use, for the other sections' dates (start, end, completion).
check_date = _validate_date
