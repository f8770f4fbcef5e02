"""Validate and normalise persistent identifiers, once, at the edge.

Every identifier pidsync accepts goes through ``normalize_<kind>``, which returns the one
normalised spelling pidsync stores and compares, or raises :class:`InvalidIdentifier` naming the
kind, the value and the reason. ``is_valid_<kind>`` and ``<kind>_url`` are conveniences over it.

Normalised forms:

- DOI: lower case, no resolver or ``doi:`` prefix (``10.1234/abc``). DOIs are case-insensitive;
  lower case is what DataCite stores.
- ORCID iD: ``0000-0002-1694-233X`` (hyphenated, upper-case ``X``).
- ROR: the full ``https://ror.org/<id>`` URL (id: 0, 6 base32 characters, 2 check digits), as ROR
  itself writes its ids and as DataCite and Crossref take them.
- ISSN: ``NNNN-NNNC``; ISBN: digits only (10 or 13 of them, upper-case ``X``), as given.
- Funder id: a Crossref Funder ID is a DOI (normalised as one); a ROR id as above.

Where ``idutils`` is used and where not, and why:

- ISSN and ISBN check digits: ``idutils.is_issn`` / ``idutils.is_isbn`` (verified to reject a
  wrong check digit), behind our own format check (idutils tolerates stray characters).
  Imported on the first ISSN or ISBN checked: importing idutils costs 0.5-2 s of CPU (it builds
  its patterns at import), a quarter of every pidsync process's boot (issue 13).
- DOI: not idutils. Its pattern takes ``10.12/x`` (any registrant code length) and its
  ``normalize_doi`` keeps the case; pidsync requires ``10.\\d{4,9}/\\S+`` and lower case.
- ORCID iD: not idutils. ``idutils.is_orcid`` also demands that the iD fall in the ISNI blocks
  it knows, which rejects valid iDs from blocks ORCID opens later; ORCID itself checks only the
  pattern and the ISO 7064 MOD 11-2 check digit (``OrcidCheckDigitGenerator``), which is done here.
- ROR: not idutils. ``idutils.is_ror`` is a pattern only and accepts a wrong checksum; the
  checksum (ISO 7064 MOD 97-10 over the Crockford base32 value) is computed here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote, unquote

if TYPE_CHECKING:
    from collections.abc import Callable

Kind = Literal["doi", "orcid", "ror", "issn", "isbn"]
KINDS: tuple[Kind, ...] = ("doi", "orcid", "ror", "issn", "isbn")


class InvalidIdentifier(ValueError):
    """A value that is not a valid identifier of the expected kind."""

    def __init__(self, kind: str, value: str, reason: str) -> None:
        super().__init__(f"invalid {kind} {value!r}: {reason}")
        self.kind = kind
        self.value = value
        self.reason = reason


def _text(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidIdentifier(kind, repr(value), "not a string")
    text = value.strip()
    if not text:
        raise InvalidIdentifier(kind, value, "empty")
    return text


# --- DOI -----------------------------------------------------------------------------------

_DOI_PREFIXES = re.compile(
    r"^(?:doi:\s*|info:doi/|(?:https?://)?(?:dx\.|www\.)?doi\.org/)", re.IGNORECASE
)
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
#: DataCite's check on DOIs it creates (lupo ``app/models/doi.rb``), applied to DOIs pidsync mints.
DATACITE_DOI = re.compile(r"\A10\.\d{4,5}/[-._;()/:a-zA-Z0-9*~$=]+\Z")


def normalize_doi(value: str) -> str:
    """``10.1234/abc`` from ``doi:10.1234/ABC``, ``https://doi.org/10.1234/abc`` and the like."""
    text = _text("doi", value)
    match = _DOI_PREFIXES.match(text)
    if match:
        text = text[match.end() :]
        if "://" in match.group(0) or match.group(0).lower().endswith("doi.org/"):
            text = unquote(text)
    doi = text.lower()
    if not doi.startswith("10."):
        raise InvalidIdentifier("doi", value, "does not start with '10.'")
    if not _DOI.match(doi):
        raise InvalidIdentifier("doi", value, r"does not match 10.NNNN/suffix (10.\d{4,9}/\S+)")
    return doi


def check_mintable_doi(value: str) -> str:
    """Normalise a DOI that pidsync itself mints, and check it against DataCite's pattern."""
    doi = normalize_doi(value)
    if not DATACITE_DOI.match(doi):
        raise InvalidIdentifier(
            "doi", value, "not accepted for new DOIs (DataCite: 10.NNNN[N]/[-._;()/:a-z0-9*~$=]+)"
        )
    return doi


def doi_prefix(value: str) -> str:
    """The prefix (``10.1234``) of a DOI."""
    return normalize_doi(value).split("/", 1)[0]


def is_valid_doi(value: str) -> bool:
    return _is_valid(normalize_doi, value)


#: What a DOI keeps unescaped in a doi.org URL path; the rest is percent-encoded (DOI Handbook
#: 2.5.2.4: ``#``, ``?``, ``%``, ``<``, ``>``, ``;``, ``+``, spaces...).
_DOI_URL_SAFE = "/:()!*$,=@'"


def doi_path(value: str) -> str:
    """The normalised DOI as a URL path (doi.org's ``/{doi}``, Crossref's ``/works/{doi}``):
    every ``/`` kept, everything outside RFC 3986's unreserved characters and ``:()!*$,=@'``
    percent-encoded (``#`` → ``%23``, ``?`` → ``%3F``, ``;`` → ``%3B``; DOI Handbook 2.5.2.4)."""
    return quote(normalize_doi(value), safe=_DOI_URL_SAFE)


def doi_url(value: str) -> str:
    """``https://doi.org/10.1234/abc``; ``10.5555/a#b`` → ``https://doi.org/10.5555/a%23b``."""
    return "https://doi.org/" + doi_path(value)


# --- ORCID iD -------------------------------------------------------------------------------

_ORCID_PREFIXES = re.compile(r"^(?:https?://)?(?:www\.|sandbox\.)?orcid\.org/", re.IGNORECASE)
_ORCID = re.compile(r"^(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dX])$")


def orcid_check_digit(base_digits: str) -> str:
    """ISO 7064 MOD 11-2 check character over the 15 base digits of an ORCID iD."""
    total = 0
    for char in base_digits:
        total = (total + int(char)) * 2
    result = (12 - total % 11) % 11
    return "X" if result == 10 else str(result)


def normalize_orcid(value: str) -> str:
    """``0000-0002-1694-233X`` from ``https://orcid.org/0000-0002-1694-233x`` and the like."""
    text = _ORCID_PREFIXES.sub("", _text("orcid", value)).upper()
    match = _ORCID.match(text)
    if not match:
        raise InvalidIdentifier("orcid", value, "not of the form NNNN-NNNN-NNNN-NNNC")
    digits = "".join(match.groups())
    if orcid_check_digit(digits[:15]) != digits[15]:
        raise InvalidIdentifier("orcid", value, "invalid check digit")
    return "-".join(match.groups())


def is_valid_orcid(value: str) -> bool:
    return _is_valid(normalize_orcid, value)


def orcid_url(value: str) -> str:
    return "https://orcid.org/" + normalize_orcid(value)


# --- ROR --------------------------------------------------------------------------------------

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_ROR_PREFIXES = re.compile(r"^(?:https?://)?(?:www\.)?ror\.org/", re.IGNORECASE)
_ROR = re.compile(r"^0([0-9a-hjkmnp-tv-z]{6})(\d{2})$")


def ror_checksum(encoded: str) -> str:
    """The two-digit ISO 7064 MOD 97-10 checksum ROR appends to the 6 base32 characters."""
    number = 0
    for char in encoded:
        number = number * 32 + _CROCKFORD.index(char)
    return f"{98 - (number * 100) % 97:02d}"


def normalize_ror(value: str) -> str:
    """``https://ror.org/02mhbdp94`` from ``02mhbdp94``, ``ror.org/02MHBDP94`` and the like."""
    text = _ROR_PREFIXES.sub("", _text("ror", value)).lower()
    match = _ROR.match(text)
    if not match:
        raise InvalidIdentifier("ror", value, "not of the form 0 + 6 base32 characters + 2 digits")
    if ror_checksum(match.group(1)) != match.group(2):
        raise InvalidIdentifier("ror", value, "invalid checksum")
    return "https://ror.org/" + text


def is_valid_ror(value: str) -> bool:
    return _is_valid(normalize_ror, value)


def ror_url(value: str) -> str:
    return normalize_ror(value)


# --- ISSN / ISBN ------------------------------------------------------------------------------

_ISSN = re.compile(r"^(\d{4})-?(\d{3}[\dX])$")
_ISBN_CHARS = re.compile(r"[\s-]")


def normalize_issn(value: str) -> str:
    """``0317-8471`` from ``0317-8471``, ``03178471`` or ``issn 0317-8471``."""
    text = _text("issn", value).upper()
    text = re.sub(r"^(?:URN:)?ISSN[:\s]*", "", text)
    match = _ISSN.match(text)
    if not match:
        raise InvalidIdentifier("issn", value, "not of the form NNNN-NNNC")
    import idutils  # not at boot: see the module's note

    if not idutils.is_issn(text):
        raise InvalidIdentifier("issn", value, "invalid check digit")
    return "-".join(match.groups())


def is_valid_issn(value: str) -> bool:
    return _is_valid(normalize_issn, value)


def issn_url(value: str) -> str:
    return "https://portal.issn.org/resource/ISSN/" + normalize_issn(value)


def normalize_isbn(value: str) -> str:
    """``9783161484100`` from ``978-3-16-148410-0``; ISBN-10 stay ISBN-10 (``030640615X``)."""
    text = _text("isbn", value).upper()
    text = re.sub(r"^(?:URN:)?ISBN(?:-1[03])?[:\s]*", "", text)
    compact = _ISBN_CHARS.sub("", text)
    if not re.fullmatch(r"\d{9}[\dX]|97[89]\d{10}", compact):
        raise InvalidIdentifier("isbn", value, "not 10 or 13 digits (ISBN-13 starts 978/979)")
    import idutils  # not at boot: see the module's note

    if not idutils.is_isbn(compact):
        raise InvalidIdentifier("isbn", value, "invalid check digit")
    return compact


def is_valid_isbn(value: str) -> bool:
    return _is_valid(normalize_isbn, value)


def isbn_url(value: str) -> str:
    return "https://openlibrary.org/isbn/" + normalize_isbn(value)


# --- funder ids, detection ---------------------------------------------------------------------


def normalize_funder_id(value: str) -> str:
    """A Crossref Funder ID (a DOI, normally 10.13039/...) or a ROR id, normalised."""
    text = _text("funder_id", value)
    if _ROR_PREFIXES.match(text) or _ROR.match(text.lower()):
        return normalize_ror(text)
    try:
        return normalize_doi(text)
    except InvalidIdentifier as exc:
        raise InvalidIdentifier(
            "funder_id", value, "neither a Crossref Funder ID (DOI) nor a ROR id"
        ) from exc


def funder_id_kind(normalized: str) -> Literal["ror", "doi"]:
    """Which kind a normalised funder id is."""
    return "ror" if normalized.startswith("https://ror.org/") else "doi"


_NORMALIZERS = {
    "doi": normalize_doi,
    "orcid": normalize_orcid,
    "ror": normalize_ror,
    "issn": normalize_issn,
    "isbn": normalize_isbn,
}
_URLS = {"doi": doi_url, "orcid": orcid_url, "ror": ror_url, "issn": issn_url, "isbn": isbn_url}


def normalize(kind: Kind, value: str) -> str:
    """Normalise ``value`` as an identifier of ``kind``."""
    return _NORMALIZERS[kind](value)


def url(kind: Kind, value: str) -> str:
    """The resolvable URL of an identifier of ``kind``."""
    return _URLS[kind](value)


def detect(value: str) -> tuple[Kind, str] | None:
    """The kind and normalised form of ``value``, or None when it is none of the kinds above."""
    for kind in KINDS:
        try:
            return kind, _NORMALIZERS[kind](value)
        except InvalidIdentifier:
            continue
    return None


def _is_valid(normalizer: Callable[[str], str], value: str) -> bool:
    try:
        normalizer(value)
    except InvalidIdentifier:
        return False
    return True
