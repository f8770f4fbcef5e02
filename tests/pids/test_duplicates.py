"""The duplicate guard: precision and recall on a labelled set (duplicate_cases.json), and the
whole path against the sandbox's Crossref and DataCite over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.pids.test_search import deposit_crossref, publish_datacite, registry_search
from worker.config import DataciteSettings, Settings
from worker.errors import Postpone, TransientError
from worker.metadata.work import Work
from worker.pids.duplicates import (
    DEFAULT_THRESHOLD,
    DuplicateCheckIncomplete,
    DuplicateMatch,
    find_possible_duplicates,
    normalize_title,
    score_candidate,
    title_similarity,
)
from worker.pids.search import SearchHit
from worker.ratelimit import RateLimiter
from worker.registrars.duplicates import registry_finder

CASES = json.loads((Path(__file__).parent / "duplicate_cases.json").read_text("utf-8"))["cases"]
#: The labelled cases the guard gets wrong, on purpose kept in the set (see "why" in the file):
#: a translated and an abbreviated title (missed), two editorials by one editor, a follow-up
#: paper one word apart and a journal version of a conference paper (flagged: an operator
#: releases them).
KNOWN_ERRORS = {
    "translated-title",
    "abbreviated-title",
    "generic-title-same-editor",
    "similar-topic-same-group",
    "conference-then-journal",
}


def make_work(record: dict, work_id: str = "w-1", doi: str | None = None) -> Work:
    contributors = [
        {"family": family, "given": given} if given else {"name": family}
        for family, given in record["authors"]
    ]
    data = {"id": work_id, "type": record["type"], "title": record["title"]}
    if contributors:
        data["contributors"] = contributors
    if record.get("subtitle"):
        data["subtitle"] = record["subtitle"]
    if record.get("year"):
        data["publication_date"] = str(record["year"])
    if doi:
        data["doi"] = doi
    return Work.model_validate(data)


def make_hit(record: dict, doi: str = "10.1234/candidate") -> SearchHit:
    families = [family for family, _ in record["authors"]]
    return SearchHit(
        doi=doi,
        title=record["title"],
        authors=families[:3],
        author_count=len(families),
        year=record.get("year"),
        type=record["type"],
        registry_type=None,
        container=None,
        agency="crossref",
        score=None,
        rank=1,
        author_families=families,
        subtitle=record.get("subtitle"),
    )


def evaluate(threshold: float = DEFAULT_THRESHOLD) -> dict:
    outcome = {"tp": [], "fp": [], "fn": [], "tn": []}
    for case in CASES:
        score, _ = score_candidate(make_work(case["work"], case["id"]), make_hit(case["candidate"]))
        flagged = score >= threshold
        key = ("t" if flagged == case["label"] else "f") + ("p" if flagged else "n")
        outcome[key].append(case["id"])
    return outcome


def test_precision_and_recall_on_the_labelled_set(capsys):
    outcome = evaluate()
    tp, fp, fn = len(outcome["tp"]), len(outcome["fp"]), len(outcome["fn"])
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    with capsys.disabled():
        print(
            f"\nduplicate guard at {DEFAULT_THRESHOLD}: {len(CASES)} labelled pairs, "
            f"tp={tp} fp={fp} fn={fn} tn={len(outcome['tn'])}, "
            f"precision={precision:.2f} recall={recall:.2f}; "
            f"false positives {outcome['fp']}, false negatives {outcome['fn']}"
        )
    assert len(CASES) >= 35
    assert sum(case["label"] for case in CASES) >= 15  # both classes well represented
    assert set(outcome["fp"]) | set(outcome["fn"]) == KNOWN_ERRORS
    assert precision >= 0.85
    assert recall >= 0.9


def test_the_default_threshold_is_the_best_on_the_set():
    def f1(threshold):
        outcome = evaluate(threshold)
        tp, fp, fn = len(outcome["tp"]), len(outcome["fp"]), len(outcome["fn"])
        return 2 * tp / (2 * tp + fp + fn)

    best = max(f1(t / 100) for t in range(60, 100, 5))
    assert f1(DEFAULT_THRESHOLD) == best
    # A stricter threshold trades recall away: the online/print-year case is lost at 0.95.
    assert "online-vs-print-year" in evaluate(0.95)["fn"]


def test_normalisation_and_caps():
    assert normalize_title("Growth of <i>E. coli</i> &amp; Co.") == "growth of e coli and co"
    assert normalize_title("Évaluation des Risques") == "evaluation des risques"
    assert normalize_title("$\\beta$-decay of $^{100}$Sn") == normalize_title("β-decay of 100Sn")
    similarity, cap = title_similarity(["Hydrology. Part 1"], ["Hydrology. Part 2"])
    assert similarity == 0.5 and "number" in cap
    similarity, cap = title_similarity(["Reply to: X and Y"], ["X and Y"])
    assert similarity == 0.5 and "erratum" in cap
    assert title_similarity(["Same"], ["same."]) == (1.0, None)


def test_evidence_explains_the_score():
    case = next(c for c in CASES if c["id"] == "online-vs-print-year")
    score, evidence = score_candidate(make_work(case["work"]), make_hit(case["candidate"]))
    assert score == pytest.approx(0.9)
    assert evidence["title"]["similarity"] == 1.0
    assert evidence["year"] == {"work": 2021, "candidate": 2020, "score": 0.5}
    assert evidence["first_author"] == {"work": "Novak", "candidate": "Novak", "score": 1.0}
    assert evidence["type"]["penalty"] == 0.0
    assert evidence["agency"] == "crossref"


# --- against the sandbox -------------------------------------------------------------------


@pytest.fixture
def registered(sandbox, info):
    """What the registries already hold: Crossref articles, DataCite datasets."""
    crossref = deposit_crossref(
        info,
        [
            (
                "alpine-1",
                "Climate change impacts on alpine plant diversity",
                "Müller",
                "Anna",
                2021,
            ),
            ("nile-1", "Hydrology of the Nile basin. Part 1", "Okafor", "Chidi", 2019),
            ("mangroves", "The role of mangroves in coastal protection", "Santos", "Maria", 2019),
        ],
    )
    datacite = publish_datacite(
        info,
        "bergen-readings",
        "Raw sensor readings from the Bergen weather station 2015-2020",
        creators=(("Nordmann", "Kari"),),
        year=2021,
    )
    publish_datacite(info, "alpine-data", "Data from: Climate change impacts on alpine plants")
    return {"alpine": crossref[0], "nile": crossref[1], "bergen": datacite}


def test_a_work_already_at_crossref_is_found_with_evidence(registered, info):
    work = make_work(
        {
            "title": "Climate Change Impacts on Alpine Plant Diversity",
            "year": 2021,
            "authors": [["Muller", "Anna"]],
            "type": "journal-article",
        }
    )
    matches = find_possible_duplicates(work, registry_search(info))
    assert [m.doi for m in matches] == [registered["alpine"]]
    match = matches[0]
    assert isinstance(match, DuplicateMatch)
    assert match.score == 1.0
    assert match.evidence["agency"] == "crossref"
    assert match.evidence["title"]["candidate"] == (
        "Climate change impacts on alpine plant diversity"
    )


def test_a_dataset_already_at_datacite_is_found(registered, info):
    work = make_work(
        {
            "title": "Raw sensor readings from the Bergen weather station 2015-2020",
            "year": 2021,
            "authors": [["Nordmann", "Kari"]],
            "type": "dataset",
        }
    )
    matches = find_possible_duplicates(work, registry_search(info))
    assert [(m.doi, m.evidence["agency"]) for m in matches] == [(registered["bergen"], "datacite")]


def test_no_match_for_another_part_nor_for_the_work_itself(registered, info):
    part_two = make_work(
        {
            "title": "Hydrology of the Nile basin. Part 2",
            "year": 2019,
            "authors": [["Okafor", "Chidi"]],
            "type": "journal-article",
        }
    )
    assert find_possible_duplicates(part_two, registry_search(info)) == []
    itself = make_work(
        {
            "title": "Hydrology of the Nile basin. Part 1",
            "year": 2019,
            "authors": [["Okafor", "Chidi"]],
            "type": "journal-article",
        },
        doi=registered["nile"].upper(),
    )
    assert find_possible_duplicates(itself, registry_search(info)) == []


def test_a_registry_down_makes_the_check_incomplete_unless_a_match_is_found(
    registered, sandbox, info
):
    sandbox.set_faults("datacite", outage_seconds=30)
    dataset = make_work(
        {
            "title": "Raw sensor readings from the Bergen weather station 2015-2020",
            "year": 2021,
            "authors": [["Nordmann", "Kari"]],
            "type": "dataset",
        }
    )
    with pytest.raises(DuplicateCheckIncomplete, match="datacite unavailable") as caught:
        find_possible_duplicates(dataset, registry_search(info))
    assert isinstance(caught.value, TransientError)
    assert find_possible_duplicates(dataset, registry_search(info), allow_partial=True) == []
    article = make_work(
        {
            "title": "Climate change impacts on alpine plant diversity",
            "year": 2021,
            "authors": [["Müller", "Anna"]],
            "type": "journal-article",
        }
    )
    assert [m.doi for m in find_possible_duplicates(article, registry_search(info))] == [
        registered["alpine"]
    ]
    sandbox.set_faults("crossref", outage_seconds=30)
    with pytest.raises(DuplicateCheckIncomplete, match="impossible"):
        find_possible_duplicates(article, registry_search(info))


def test_the_registrars_guard_waits_for_the_shared_datacite_budget(sandbox, info, redis_client):
    # Given a DataCite budget of one request per 5 minutes, just spent by the registrar's
    # DataCite client (the same Limit, keyed by host)
    settings = Settings(
        _env_file=None,
        env="test",
        crossref_api_url=info["crossref_api_url"],
        datacite_url=info["datacite_api_url"],
        datacite=DataciteSettings(limit_count=1, limit_burst=1),
    )
    limiter = RateLimiter(redis_client)
    limiter.acquire(settings.datacite.limit, urlsplit(settings.datacite_url).netloc)
    find = registry_finder(settings, threshold=DEFAULT_THRESHOLD, limiter=limiter)
    work = Work.model_validate({"id": "w-1", "type": "dataset", "title": "Glacier melt"})
    # When the guard searches, then it waits for a slot (the message is postponed): DataCite
    # is not asked beyond the budget
    with pytest.raises(Postpone):
        find(work)
    assert sandbox.state()["requests"]["datacite"]["total"] == 0
