"""Identifier validation and normalisation with real valid and invalid examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.pids import identifiers as ids
from worker.pids.identifiers import InvalidIdentifier


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.1234/ABC", "10.1234/abc"),
        ("doi:10.5438/0012", "10.5438/0012"),
        ("DOI: 10.5438/0012", "10.5438/0012"),
        ("https://doi.org/10.1087/20120404", "10.1087/20120404"),
        ("http://dx.doi.org/10.1087/20120404", "10.1087/20120404"),
        ("doi.org/10.1000/XYZ", "10.1000/xyz"),
        ("https://doi.org/10.1000/a%2Fb", "10.1000/a/b"),
        ("info:doi/10.1000/182", "10.1000/182"),
        ("  10.14454/4K3M-NYVG  ", "10.14454/4k3m-nyvg"),
        ("10.123456789/x", "10.123456789/x"),
    ],
)
def test_doi_normalised(value, expected):
    assert ids.normalize_doi(value) == expected
    assert ids.is_valid_doi(value)
    assert ids.doi_url(value) == "https://doi.org/" + expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("10.12/x", "10.NNNN"),  # registrant code too short
        ("10.1234/", "10.NNNN"),
        ("10.1234/a b", "10.NNNN"),
        ("11.1234/abc", "start"),
        ("https://example.org/10.1234/x", "start"),
        ("", "empty"),
    ],
)
def test_doi_rejected_with_reason(value, reason):
    with pytest.raises(InvalidIdentifier) as info:
        ids.normalize_doi(value)
    assert info.value.kind == "doi"
    assert reason in info.value.reason
    assert isinstance(info.value, ValueError)


def test_mintable_doi_follows_datacite_pattern():
    assert ids.check_mintable_doi("10.5438/ABC-123") == "10.5438/abc-123"
    for bad in ("10.123456/abc", "10.5438/a{b}", "10.5438/ü"):
        with pytest.raises(InvalidIdentifier, match="new DOIs"):
            ids.check_mintable_doi(bad)
    assert ids.doi_prefix("https://doi.org/10.5438/X") == "10.5438"


@pytest.mark.parametrize(
    "value",
    ["0000-0002-1825-0097", "0000-0001-5109-3700", "0000-0002-1694-233X", "0000-0003-1419-2405",
     "8888-8888-8888-8880"],
)  # fmt: skip
def test_real_orcid_ids_are_valid(value):
    assert ids.normalize_orcid(value) == value
    assert ids.normalize_orcid("https://orcid.org/" + value.lower()) == value
    assert ids.normalize_orcid(value.replace("-", "")) == value
    assert ids.orcid_url(value) == "https://orcid.org/" + value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0000-0002-1825-0098", "invalid check digit"),
        ("0000-0002-1694-2330", "invalid check digit"),
        ("0000-0002-1825-009", "form"),
        ("0000-0002-1825-00977", "form"),
        ("https://example.org/0000-0002-1825-0097", "form"),
    ],
)
def test_orcid_rejected(value, reason):
    with pytest.raises(InvalidIdentifier) as info:
        ids.normalize_orcid(value)
    assert reason in info.value.reason
    assert not ids.is_valid_orcid(value)


@given(st.text("0123456789", min_size=15, max_size=15))
def test_orcid_check_digit_is_the_only_valid_one(base):
    good = ids.orcid_check_digit(base)
    for digit in "0123456789X":
        full = base + digit
        formatted = "-".join(full[i : i + 4] for i in range(0, 16, 4))
        assert ids.is_valid_orcid(formatted) == (digit == good)


@pytest.mark.parametrize(
    "value",
    ["https://ror.org/02mhbdp94", "05dxps055", "ror.org/03YRM5C26", "https://ror.org/029chgv08"],
)
def test_real_ror_ids_are_valid(value):
    normalised = ids.normalize_ror(value)
    assert normalised.startswith("https://ror.org/0")
    assert normalised == normalised.lower()
    assert ids.ror_url(value) == normalised


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("https://ror.org/02mhbdp95", "checksum"),
        ("02mhbdp9", "form"),
        ("12mhbdp94", "form"),
        ("02mhbip94", "form"),
    ],
)
def test_ror_rejected(value, reason):
    with pytest.raises(InvalidIdentifier) as info:
        ids.normalize_ror(value)
    assert reason in info.value.reason


def test_issn_and_isbn():
    assert ids.normalize_issn("0317-8471") == "0317-8471"
    assert ids.normalize_issn("03178471") == "0317-8471"
    assert ids.normalize_issn("ISSN 2049-3630") == "2049-3630"
    assert ids.normalize_issn("0000-006x") == "0000-006X"
    assert not ids.is_valid_issn("0317-8472")
    assert not ids.is_valid_issn("317-8471")
    assert ids.normalize_isbn("978-3-16-148410-0") == "9783161484100"
    assert ids.normalize_isbn("ISBN 0-306-40615-2") == "0306406152"
    assert ids.normalize_isbn("0-8044-2957-x") == "080442957X"
    assert not ids.is_valid_isbn("978-3-16-148410-1")
    assert not ids.is_valid_isbn("0-306-40615-3")
    assert not ids.is_valid_isbn("123-4-56-789012-9")  # 13 digits not starting 978/979
    with pytest.raises(InvalidIdentifier, match="check digit"):
        ids.normalize_issn("0317-8472")


def test_funder_ids():
    assert (
        ids.normalize_funder_id("https://doi.org/10.13039/501100000780") == "10.13039/501100000780"
    )
    assert ids.normalize_funder_id("https://ror.org/029chgv08") == "https://ror.org/029chgv08"
    assert ids.funder_id_kind("https://ror.org/029chgv08") == "ror"
    assert ids.funder_id_kind("10.13039/501100000780") == "doi"
    with pytest.raises(InvalidIdentifier) as info:
        ids.normalize_funder_id("EC")
    assert info.value.kind == "funder_id"


@pytest.mark.parametrize(
    ("value", "kind", "normalised"),
    [
        ("https://doi.org/10.1087/ABC", "doi", "10.1087/abc"),
        ("0000-0002-1694-233x", "orcid", "0000-0002-1694-233X"),
        ("02mhbdp94", "ror", "https://ror.org/02mhbdp94"),
        ("2049-3630", "issn", "2049-3630"),
        ("978-3-16-148410-0", "isbn", "9783161484100"),
    ],
)
def test_detect(value, kind, normalised):
    assert ids.detect(value) == (kind, normalised)
    assert ids.normalize(kind, value) == normalised


def test_detect_gives_none_for_nonsense():
    assert ids.detect("not an identifier") is None
    assert ids.detect("0000-0002-1825-0098") is None
