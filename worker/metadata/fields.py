"""Field types of the Work: text without control characters, partial dates, URLs, language
tags and identifiers normalised through ``worker.pids.identifiers``."""

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

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


def _identifier(normalizer: Any) -> AfterValidator:
    def check(value: str) -> str:
        result: str = normalizer(value)
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
    if not re.fullmatch(r"(?:https?|ftp)://\S+", value):
        raise ValueError("not an absolute http(s) URL without spaces")
    return value


def _language(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*", value):
        raise ValueError("not a language tag such as 'en' or 'pt-BR'")
    primary, *rest = value.split("-")
    return "-".join([primary.lower(), *rest])


Text = Annotated[str, Field(min_length=1), AfterValidator(_clean_text)]
OptText = Annotated[Text | None, BeforeValidator(_blank_to_none)]
Doi = Annotated[str, _identifier(ids.normalize_doi), Field(examples=["10.5555/abc123"])]
Orcid = Annotated[str, _identifier(ids.normalize_orcid), Field(examples=["0000-0002-1825-0097"])]
Ror = Annotated[str, _identifier(ids.normalize_ror), Field(examples=["https://ror.org/02mhbdp94"])]
Issn = Annotated[str, _identifier(ids.normalize_issn), Field(examples=["0317-8471"])]
Isbn = Annotated[str, _identifier(ids.normalize_isbn), Field(examples=["9783161484100"])]
FunderId = Annotated[
    str, _identifier(ids.normalize_funder_id), Field(examples=["10.13039/501100000780"])
]
PartialDate = Annotated[
    str, AfterValidator(partial_date), Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")
]
Url = Annotated[str, AfterValidator(check_url), Field(pattern=r"^(https?|ftp)://\S+$")]
Language = Annotated[str, AfterValidator(_language), Field(examples=["en", "pt-BR"])]
