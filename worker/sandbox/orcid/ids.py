"""Identifiers ORCID hands out: iDs, tokens, authorization codes; and external-id normalisation."""

from __future__ import annotations

import re
import secrets
import string
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import random

ORCID_PATTERN = re.compile(r"^(\d{4}-){3}\d{3}[\dX]$")
_CODE_ALPHABET = string.ascii_letters + string.digits
_DOI_IN_VALUE = re.compile(r"(10(\.[0-9a-zA-Z]+)+/(?:(?![\"&'])\S)+)")


def check_digit(base_digits: str) -> str:
    """ISO 7064 MOD 11-2 over the 15 base digits (orcid-core ``OrcidCheckDigitGenerator``)."""
    total = 0
    for char in base_digits:
        total = (total + int(char)) * 2
    remainder = (12 - total % 11) % 11
    return "X" if remainder == 10 else str(remainder)


def is_valid_orcid(value: str) -> bool:
    if not ORCID_PATTERN.match(value):
        return False
    digits = value.replace("-", "")
    return check_digit(digits[:15]) == digits[15]


def new_orcid(dice: random.Random, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A fresh iD in the ``0009-`` block ORCID issues today, with a valid check digit."""
    while True:
        base = "0009" + "".join(str(dice.randrange(10)) for _ in range(11))
        digits = base + check_digit(base)
        orcid = "-".join(digits[i : i + 4] for i in range(0, 16, 4))
        if orcid not in taken:
            return orcid


def new_token() -> str:
    """Access and refresh tokens are UUID strings."""
    return str(uuid.uuid4())


def new_code() -> str:
    """An authorization code: six letters and digits, like ``WkiYjn``."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))


def normalise_external_id(id_type: str, value: str) -> str:
    """ORCID's normalised value: the bare DOI for ``doi``, else trimmed and lower case.

    ORCID's ``DOINormalizer`` extracts ``10.x/...`` from any spelling (URL, ``doi:``); the
    sandbox lower-cases it too, since DOIs are case-insensitive. Other types use the
    lower-case-and-trim normaliser ORCID applies by default.
    """
    text = value.strip()
    if id_type.strip().lower() == "doi":
        match = _DOI_IN_VALUE.search(text)
        return match.group(1).lower() if match else ""
    return text.lower()


def duplicate_keys(body: dict[str, Any]) -> set[tuple[str, str, str]]:
    """The keys ORCID's duplicate check compares (v3 ``checkExternalIdentifiersForDuplicates``).

    Two external ids clash when their types and normalised values are equal and both are
    ``self`` (or both have no relationship at all).
    """
    holder = body.get("external-ids") or {}
    keys: set[tuple[str, str, str]] = set()
    for ext in holder.get("external-id") or []:
        relationship = ext.get("external-id-relationship")
        if relationship not in ("self", None):
            continue
        id_type = str(ext.get("external-id-type") or "").lower()
        value = normalise_external_id(id_type, str(ext.get("external-id-value") or ""))
        keys.add((relationship or "", id_type, value))
    return keys
