"""Field types of the Work: text without control characters, partial dates, URLs, language
tags and identifiers normalised through ``worker.pids.identifiers``.

Each type also says what it accepts in the published JSON Schema (``work_json_schema``). Those
patterns accept every value the model accepts (the input forms the normalisers take, such as
``doi:10.1234/x`` or ``https://orcid.org/...``, and the surrounding whitespace the model strips),
and refuse what a pattern can see is wrong. What a pattern cannot see is checked by the model
(the intake) only: ORCID, ISSN and ISBN check digits, ROR checksums, and calendar dates such
as 2021-02-29. The patterns are ECMA-262 compatible (no inline flags), so any JSON Schema
validator can use them.
"""

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from worker.pids import identifiers as ids

_FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _clean_text(value: str) -> str:
    found = _FORBIDDEN_CHARS.search(value)
    if found:
        raise ValueError(f"contains a control character (U+{ord(found.group()):04X})")
    return value


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


#: The longest text a Work's free-text field may hold (a title, a name, a keyword), and the
#: longest abstract or description: far beyond any real one, well within what a row can carry.
MAX_TEXT = 10_000
MAX_LONG_TEXT = 100_000
#: The Work's id and the DOI are stored in columns of these sizes (worker/models.py).
MAX_WORK_ID = 1000
MAX_DOI = 500
#: The longest URL (the common limit of browsers and of Crossref's resource element).
MAX_URL = 2048
#: Versions are stored in an integer column (32 bits).
MAX_VERSION = 2**31 - 1


def _identifier(normalizer: Any, most: int = MAX_URL) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) > MAX_URL:  # before normalising: no regex runs over megabytes
            raise ValueError(f"longer than {MAX_URL} characters")
        _clean_text(value)
        result: str = normalizer(value)
        if len(result) > most:
            raise ValueError(f"longer than {most} characters")
        return result

    return AfterValidator(check)


def partial_date(value: str) -> str:
    match = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", value)
    if not match:
        raise ValueError("not a date of the form YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = match.groups()
    try:
        dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError as exc:
        raise ValueError(f"not a calendar date ({exc})") from None
    return value


def date_or_range(value: str) -> str:
    parts = value.split("/")
    if len(parts) > 2 or not any(parts):
        raise ValueError("not a date, datetime or range 'start/end'")
    for part in parts:
        if part and not _is_date_or_datetime(part):
            raise ValueError(f"{part!r} is not a date (YYYY[-MM[-DD]]) or ISO 8601 datetime")
    return value


def _is_date_or_datetime(part: str) -> bool:
    try:
        partial_date(part)
    except ValueError:
        try:
            dt.datetime.fromisoformat(part)
        except ValueError:
            return False
    return True


def check_url(value: str) -> str:
    if len(value) > MAX_URL:
        raise ValueError(f"longer than {MAX_URL} characters")
    _clean_text(value)  # \S takes NUL and lone surrogates, no column does
    if not re.fullmatch(r"https?://\S+", value):
        raise ValueError("not an absolute http(s) URL without spaces")
    return value


def check_uri(value: str) -> str:
    """Any absolute URI (http, info:, urn:...), as DataCite's xs:anyURI attributes take."""
    if len(value) > MAX_URL:
        raise ValueError(f"longer than {MAX_URL} characters")
    _clean_text(value)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S+", value):
        raise ValueError("not an absolute URI without spaces (scheme:...)")
    return value


def _integer(value: Any) -> Any:
    """No coercion of strings or booleans to integers (``"2"`` is not a version)."""
    if isinstance(value, (str, bool)):
        # a ValueError, which pydantic reports as a validation error (a TypeError it would not)
        raise ValueError(f"must be an integer, not {type(value).__name__} {value!r}")  # noqa: TRY004
    return value


def _language(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*", value):
        raise ValueError("not a language tag such as 'en' or 'pt-BR'")
    primary, *rest = value.split("-")
    return "-".join([primary.lower(), *rest])


# --- JSON Schema patterns ----------------------------------------------------------------------


def _ci(literal: str) -> str:
    """A case-insensitive regex for ``literal`` without inline flags: 'doi' -> '[Dd][Oo][Ii]'."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in literal)


def _whole(body: str) -> str:
    """Anchored, with the whitespace the model strips around the value."""
    return rf"^\s*(?:{body})\s*$"


_HTTP = rf"{_ci('http')}[Ss]?://"
_DOI_BODY = (
    rf"(?:{_ci('doi:')}\s*|{_ci('info:doi/')})?10\.\d{{4,9}}/\S+"
    rf"|(?:{_HTTP})?(?:{_ci('dx.')}|{_ci('www.')})?{_ci('doi.org/')}\S+"
)
_ORCID_BODY = (
    rf"(?:(?:{_HTTP})?(?:{_ci('www.')}|{_ci('sandbox.')})?{_ci('orcid.org/')})?"
    r"\d{4}-?\d{4}-?\d{4}-?\d{3}[\dXx]"
)
_ROR_BODY = (
    rf"(?:(?:{_HTTP})?(?:{_ci('www.')})?{_ci('ror.org/')})?"
    r"0[0-9a-hjkmnp-tv-zA-HJKMNP-TV-Z]{6}\d{2}"
)
_ISSN_BODY = rf"(?:(?:{_ci('urn:')})?{_ci('issn')}[:\s]*)?\d{{4}}-?\d{{3}}[\dXx]"
_ISBN_BODY = (
    rf"(?:(?:{_ci('urn:')})?{_ci('isbn')}(?:-1[03])?[:\s]*)?[\s-]*"
    r"(?:(?:\d[\s-]*){9}[\dXx]|(?:\d[\s-]*){12}\d)[\s-]*"
)
_MONTH_DAY = (
    r"(?:0[13578]|1[02])(?:-(?:0[1-9]|[12]\d|3[01]))?"
    r"|(?:0[469]|11)(?:-(?:0[1-9]|[12]\d|30))?"
    r"|02(?:-(?:0[1-9]|1\d|2\d))?"
)
_DATE_BODY = rf"\d{{4}}(?:-(?:{_MONTH_DAY}))?"
#: Characters no text field may hold (see ``_clean_text``; lone surrogates are checked by the
#: model only, as ECMA-262 validators see UTF-16 code units).
_CONTROL = r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]"

DOI_PATTERN = _whole(_DOI_BODY)
ORCID_PATTERN = _whole(_ORCID_BODY)
ROR_PATTERN = _whole(_ROR_BODY)
ISSN_PATTERN = _whole(_ISSN_BODY)
ISBN_PATTERN = _whole(_ISBN_BODY)
FUNDER_ID_PATTERN = _whole(f"{_ROR_BODY}|{_DOI_BODY}")
DATE_PATTERN = _whole(_DATE_BODY)
DATE_OR_RANGE_PATTERN = _whole(r"(?:\d{4}\S*)?(?:/(?:\d{4}\S*)?)?")
URL_PATTERN = _whole(r"https?://\S+")
LANGUAGE_PATTERN = _whole(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_CHECKED_BY_MODEL = "check digits are verified by pidsync on receipt, not by this pattern"


def _string(pattern: str, comment: str | None = None, **extra: Any) -> WithJsonSchema:
    schema: dict[str, Any] = {"type": "string", "pattern": pattern, **extra}
    if comment:
        schema["$comment"] = comment
    return WithJsonSchema(schema)


def _text_schema(most: int) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": most,
        "pattern": r"\S",
        "not": {"pattern": _CONTROL},
    }


def _opt_text_schema(most: int) -> WithJsonSchema:
    # blank text is read as absent, so the schema takes it too
    text = {"type": "string", "maxLength": most, "not": {"pattern": _CONTROL}}
    return WithJsonSchema({"anyOf": [text, {"type": "null"}]})


Text = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TEXT),
    AfterValidator(_clean_text),
    WithJsonSchema(_text_schema(MAX_TEXT)),
]
OptText = Annotated[Text | None, BeforeValidator(_blank_to_none), _opt_text_schema(MAX_TEXT)]
LongText = Annotated[
    str,
    Field(min_length=1, max_length=MAX_LONG_TEXT),
    AfterValidator(_clean_text),
    WithJsonSchema(_text_schema(MAX_LONG_TEXT)),
]
OptLongText = Annotated[
    LongText | None, BeforeValidator(_blank_to_none), _opt_text_schema(MAX_LONG_TEXT)
]
WorkId = Annotated[
    str,
    Field(min_length=1, max_length=MAX_WORK_ID),
    AfterValidator(_clean_text),
    WithJsonSchema(_text_schema(MAX_WORK_ID)),
]
Doi = Annotated[
    str,
    _identifier(ids.normalize_doi, MAX_DOI),
    _string(
        DOI_PATTERN,
        "bare 10.NNNN/suffix, doi:, info:doi/ or a doi.org URL; normalised to lower case, bare",
        examples=["10.5555/abc123"],
    ),
]
Orcid = Annotated[
    str,
    _identifier(ids.normalize_orcid),
    _string(ORCID_PATTERN, _CHECKED_BY_MODEL, examples=["0000-0002-1825-0097"]),
]
Ror = Annotated[
    str,
    _identifier(ids.normalize_ror),
    _string(
        ROR_PATTERN,
        "the checksum is verified by pidsync on receipt",
        examples=["https://ror.org/02mhbdp94"],
    ),
]
Issn = Annotated[
    str,
    _identifier(ids.normalize_issn),
    _string(ISSN_PATTERN, _CHECKED_BY_MODEL, examples=["0317-8471"]),
]
Isbn = Annotated[
    str,
    _identifier(ids.normalize_isbn),
    _string(ISBN_PATTERN, _CHECKED_BY_MODEL, examples=["9783161484100"]),
]
FunderId = Annotated[
    str,
    _identifier(ids.normalize_funder_id),
    _string(
        FUNDER_ID_PATTERN,
        "a Crossref Funder ID (DOI) or a ROR id",
        examples=["10.13039/501100000780"],
    ),
]
PartialDate = Annotated[
    str,
    AfterValidator(partial_date),
    _string(DATE_PATTERN, "29 February of a common year is refused by pidsync on receipt"),
]
DateOrRange = Annotated[
    str,
    AfterValidator(date_or_range),
    _string(DATE_OR_RANGE_PATTERN, "each part is checked by pidsync on receipt"),
]
Url = Annotated[
    str, AfterValidator(check_url), _string(URL_PATTERN, format="iri", maxLength=MAX_URL)
]
Uri = Annotated[
    str,
    AfterValidator(check_uri),
    _string(
        _whole(r"[A-Za-z][A-Za-z0-9+.-]*:\S+"),
        maxLength=MAX_URL,
        examples=["info:eu-repo/semantics/openAccess"],
    ),
]
Language = Annotated[
    str, AfterValidator(_language), _string(LANGUAGE_PATTERN, examples=["en", "pt-BR"])
]
PositiveInt = Annotated[
    int,
    BeforeValidator(_integer),
    Field(ge=1, le=MAX_VERSION),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_VERSION}),
]
