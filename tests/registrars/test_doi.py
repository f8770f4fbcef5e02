"""Choosing a DOI: Crockford suffix with a check character, templates, the DataCite pattern."""

from __future__ import annotations

import random

import pytest

from tests.registrars.flow import datacite_work, event, registration
from worker.models import EventStatus
from worker.pids.identifiers import DATACITE_DOI
from worker.registrars import doi


def test_default_suffix_is_eight_crockford_characters_and_a_check_character():
    for _ in range(200):
        suffix = doi.random_suffix()
        assert len(suffix) == 9
        assert set(suffix) <= set(doi.ALPHABET)
        assert doi.check_character(suffix[:8]) == suffix[8]
        assert doi.is_valid_suffix(suffix)
        assert DATACITE_DOI.match(f"10.5072/{suffix}")


def test_check_character_catches_every_single_mistyped_character():
    rng = random.Random(7)
    for _ in range(100):
        chars = "".join(rng.choice(doi.ALPHABET) for _ in range(8))
        suffix = chars + doi.check_character(chars)
        for position in range(9):
            for other in doi.ALPHABET:
                if other != suffix[position]:
                    typo = suffix[:position] + other + suffix[position + 1 :]
                    assert not doi.is_valid_suffix(typo), typo


def test_check_character_catches_swapped_neighbours_nearly_always():
    swaps = caught = 0
    for _ in range(2000):
        suffix = doi.random_suffix()
        for i in range(8):
            if suffix[i] != suffix[i + 1]:
                swaps += 1
                swapped = suffix[:i] + suffix[i + 1] + suffix[i] + suffix[i + 2 :]
                caught += not doi.is_valid_suffix(swapped)
    assert caught / swaps > 0.99


def test_crockford_reading_rules_accept_look_alikes():
    suffix = doi.random_suffix()
    assert doi.is_valid_suffix(suffix.upper())
    assert not doi.is_valid_suffix("u" + suffix[1:])  # 'u' is not in the alphabet


def test_template_over_the_work_id_and_year():
    chosen = doi.choose_doi("10.5072", "cris.{year}.{id}", work_id="Thesis 42/B", year=2024)
    assert chosen == "10.5072/cris.2024.thesis-42/b"
    with_random = doi.choose_doi("10.5072", "ds-{random}", work_id="x", year=None)
    assert with_random.startswith("10.5072/ds-") and doi.is_valid_suffix(with_random[11:])


def test_template_outside_datacite_pattern_or_unknown_placeholder_is_refused():
    with pytest.raises(doi.DoiTemplateError, match="unknown placeholder"):
        doi.choose_doi("10.5072", "{title}", work_id="x", year=None)
    with pytest.raises(doi.DoiTemplateError, match="not accepted for new DOIs"):
        doi.choose_doi("10.5072", "a#{id}", work_id="x", year=None)


def test_template_configured_for_the_installation_is_used_and_collisions_refused(
    session, deps, tune
):
    tune(doi={"suffix_template": "cris.{id}"})
    published = event(session, "work.published", datacite_work("W 1", url="https://x.org/1"))
    assert published.status == EventStatus.DONE, published.message
    assert registration(session, "W 1").doi == "10.5072/cris.w-1"
    # Another work whose id maps to the same suffix cannot take the same DOI
    clash = event(session, "work.published", datacite_work("w-1"))
    assert clash.status == EventStatus.FAILED
    assert "already used by another work" in clash.message


def test_bad_template_fails_the_event_with_the_reason(session, tune):
    tune(doi={"suffix_template": "{nope}"})
    outcome = event(session, "work.published", datacite_work())
    assert outcome.status == EventStatus.FAILED
    assert "unknown placeholder {nope}" in outcome.message


def test_supplied_doi_is_used_as_is(session):
    event(session, "work.published", datacite_work(doi="https://doi.org/10.5072/ABC.1"))
    reg = registration(session, "w-1")
    assert reg.doi == "10.5072/abc.1" and reg.minted is False


def test_a_doi_belongs_to_one_work(session):
    event(session, "work.published", datacite_work("w-1", doi="10.5072/shared"))
    other = event(session, "work.published", datacite_work("w-2", doi="10.5072/shared"))
    assert other.status == EventStatus.FAILED
    assert "already belongs to work 'w-1'" in other.message
