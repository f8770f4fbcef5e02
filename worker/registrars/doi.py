"""Choosing a DOI for a Work that carries none (DESIGN.md §4, §7).

The DOI is chosen by pidsync, never by the agency, and stored before any call: a retry can
then only ever send the same DOI. The default suffix is 8 random lower-case Crockford base32
characters and one check character; a template (``PIDSYNC_DOI_SUFFIX_TEMPLATE``) can use
``{random}``, ``{id}`` and ``{year}``. Whatever comes out must match DataCite's DOI pattern.

The check character is ISO 7064's hybrid system MOD 33,32 over the Crockford alphabet: every
single mistyped character is detected, and so is nearly every swap of two neighbours.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from worker.pids.identifiers import InvalidIdentifier, check_mintable_doi

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
# Crockford's reading rules: I and L read as 1, O as 0.
_VALUE.update({"i": 1, "l": 1, "o": 0})
RANDOM_LENGTH = 8
_MODULUS = len(ALPHABET)
_UNSAFE = re.compile(r"[^-._;()/:a-z0-9]+")
_PLACEHOLDER = re.compile(r"\{(\w*)\}")
PLACEHOLDERS = ("random", "id", "year")


class DoiTemplateError(ValueError):
    """A template that cannot give a DOI (unknown placeholder, or outside DataCite's pattern)."""


def check_character(chars: str) -> str:
    """ISO 7064 hybrid MOD 33,32 check character for Crockford base32 ``chars``."""
    product = _MODULUS
    for char in chars.lower():
        total = (product + _VALUE[char]) % _MODULUS or _MODULUS
        product = (2 * total) % (_MODULUS + 1)
    return ALPHABET[(_MODULUS + 1 - product) % _MODULUS]


def is_valid_suffix(suffix: str) -> bool:
    """Whether ``suffix`` is Crockford characters followed by their check character."""
    text = suffix.lower().replace("-", "")
    if len(text) < 2 or any(c not in _VALUE for c in text):
        return False
    return check_character(text[:-1]) == ALPHABET[_VALUE[text[-1]]]


def random_suffix(length: int = RANDOM_LENGTH) -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return chars + check_character(chars)


def safe_part(value: str) -> str:
    """``value`` lower-cased with runs of characters a DOI should not carry replaced by '-'."""
    return _UNSAFE.sub("-", value.strip().lower()).strip("-/") or "x"


def render_suffix(template: str | None, *, work_id: str, year: int | None) -> str:
    if not template:
        return random_suffix()

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "random":
            return random_suffix()
        if name == "id":
            return safe_part(work_id)
        if name == "year":
            return str(year or datetime.now(UTC).year)
        raise DoiTemplateError(
            f"unknown placeholder {{{name}}} in the DOI suffix template "
            f"(known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})"
        )

    return _PLACEHOLDER.sub(fill, template)


def choose_doi(prefix: str, template: str | None, *, work_id: str, year: int | None) -> str:
    """A new DOI under ``prefix``, checked against DataCite's pattern for new DOIs."""
    candidate = f"{prefix}/{render_suffix(template, work_id=work_id, year=year)}"
    try:
        doi = check_mintable_doi(candidate)
    except InvalidIdentifier as exc:
        raise DoiTemplateError(
            f"the DOI suffix template gives {candidate!r}: {exc.reason}"
        ) from None
    return doi


def is_random(template: str | None) -> bool:
    """Whether a second draw can give a different DOI (so a collision can be retried)."""
    return not template or "{random}" in template
