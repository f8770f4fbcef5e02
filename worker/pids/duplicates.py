"""The duplicate guard: before minting a DOI, is there likely one for this work already?

Interface (the DOI engineer wires it into minting; keep it as is)::

    find_possible_duplicates(work: Work, search: RegistrySearch, *, threshold: float = 0.85)
        -> list[DuplicateMatch]

    DuplicateMatch(doi: str, score: float, evidence: dict)

It searches Crossref and DataCite for the work's title (:class:`~worker.pids.search.
RegistrySearch`, top ``candidates`` of each by relevance), scores every candidate and returns
those scoring at least ``threshold``, best first (ties by DOI). An empty list means "no likely
duplicate". The work's own DOI, when it has one, is never reported.

The score (0..1) is ``0.6 * title + 0.2 * year + 0.2 * first_author - type_penalty``:

- title: similarity of the normalised titles (HTML tags, accents, case and punctuation
  removed; the best of character-level, sorted-word and "title: subtitle" comparisons).
  Titles that differ in a number (``Part 1``/``Part 2``, ``Volume II``...) or where only one
  starts with a relation marker (``Erratum``, ``Reply to``, ``Data from``...) are capped at
  0.5: those are related works, not the same one. Below 0.75 a candidate is never a match.
- year: 1 when equal, 0.5 one year apart (preprint/article, online/print), else 0; 0.5 when
  either is unknown.
- first author: 1 when the family names of the first authors agree (accents and case
  aside), 0.75 when the work's first author is another author of the candidate, else 0; 0.5
  when either side has no author.
- type penalty: 0.2 when one is a dataset or software and the other is text (an article and
  "its" dataset share title, authors and year but are different works).

With the default threshold (0.85) a same title alone is not enough: it also needs the year
or the first author (0.6 + 0.2 + 0.1 = 0.9), and a title 90 % alike needs both.

``evidence`` says why, for the hold's status, the dashboard and the webhook: ``title``
(``work``, ``candidate``, ``similarity`` and any cap), ``year``, ``first_author`` and
``type`` (each ``work``, ``candidate``, ``score``), ``agency`` and ``rank``.

When a registry could not be searched and nothing matched in the other, the answer would be
a guess: :class:`DuplicateCheckIncomplete` (a :class:`~worker.errors.TransientError`) is
raised so the caller retries later; ``allow_partial=True`` accepts the partial answer.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any

from worker.errors import TransientError
from worker.pids.search import SearchFailed, SearchHit, SearchQuery

if TYPE_CHECKING:
    from worker.metadata.work import Work
    from worker.pids.search import RegistrySearch

DEFAULT_THRESHOLD = 0.85
TITLE_FLOOR = 0.75  # below this title similarity a candidate is never a match
CAPPED_TITLE = 0.5
WEIGHTS = {"title": 0.6, "year": 0.2, "author": 0.2}
TYPE_PENALTY = 0.2
_NON_TEXT = {"dataset": "data", "software": "software"}

_TAG = re.compile(r"<[^>]+>")
_TEX_COMMAND = re.compile(r"\\([A-Za-z]+)")
_DIGIT_EDGE = re.compile(r"(?<=\d)(?=[^\W\d])|(?<=[^\W\d])(?=\d)")
_NUMBERED = frozenset(
    {"part", "pt", "vol", "volume", "no", "number", "book", "chapter", "section", "phase",
     "edition", "ed", "issue", "series", "wave", "round", "study", "experiment"}
)  # fmt: skip
_ROMAN = re.compile(r"^(?:x{0,3})(?:ix|iv|v?i{0,3})$")
_MARKER = re.compile(
    r"^(?:erratum|errata|corrigendum|correction|retraction|retracted|reply|response|"
    r"comment|commentary|addendum|expression of concern|data from|data for|dataset for|"
    r"supplementary|supplemental|supporting information|review of|withdrawn|author correction|"
    r"publisher correction)\b"
)


class DuplicateCheckIncomplete(TransientError):
    """A registry could not be searched; retry the check later (the message names it)."""


@dataclass
class DuplicateMatch:
    doi: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)


# --- normalisation ---------------------------------------------------------------------------


def _greek(char: str) -> str:
    """A Greek letter as its name (β → ' beta '), anything else unchanged."""
    name = unicodedata.name(char, "")
    if name.startswith(("GREEK SMALL LETTER ", "GREEK CAPITAL LETTER ")):
        return f" {name.rsplit(' ', 1)[-1].lower()} "
    return char


def normalize_title(text: str | None) -> str:
    """Lower case; no HTML/MathML tags, TeX markup or accents; Greek letters by name (β and
    ``$\beta$`` alike); digits apart from letters (100Sn, ``$^{100}$Sn``); punctuation as
    spaces; spaces collapsed."""
    if not text:
        return ""
    text = html.unescape(_TAG.sub(" ", text)).replace("&", " and ")
    text = _TEX_COMMAND.sub(r" \1 ", text)
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(_greek(c) for c in decomposed if not unicodedata.combining(c)).casefold()
    spaced = _DIGIT_EDGE.sub(" ", plain)
    return " ".join("".join(c if c.isalnum() else " " for c in spaced).split())


def normalize_name(text: str | None) -> str:
    """A family name for comparison: accents, case, hyphens and apostrophes aside."""
    return normalize_title(text).replace(" ", "")


def _numbers(words: list[str]) -> set[str]:
    """The numbers that tell works in a series apart: digits, and roman numerals after a
    word such as 'part' or 'volume' or ending the title ('Studies on lichens III')."""
    found = set()
    for index, word in enumerate(words):
        if word.isdigit():
            found.add(str(int(word)))
        elif _ROMAN.match(word) and (
            (index and words[index - 1] in _NUMBERED) or (index == len(words) - 1 and index)
        ):
            found.add(word)
    return found


def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio() if a and b else 0.0


def title_similarity(
    work_titles: list[str], candidate_titles: list[str]
) -> tuple[float, str | None]:
    """The best similarity between any of the work's and the candidate's title forms, and
    the reason when it was capped (None otherwise)."""
    best, best_pair = 0.0, ("", "")
    for mine in filter(None, (normalize_title(t) for t in work_titles)):
        for theirs in filter(None, (normalize_title(t) for t in candidate_titles)):
            plain = _ratio(mine, theirs)
            by_words = _ratio(" ".join(sorted(mine.split())), " ".join(sorted(theirs.split())))
            score = max(plain, by_words)
            if score > best:
                best, best_pair = score, (mine, theirs)
    mine, theirs = best_pair
    if not mine:
        return 0.0, None
    if _numbers(mine.split()) != _numbers(theirs.split()):
        return min(best, CAPPED_TITLE), "the titles differ in a number (part, volume, ...)"
    if bool(_MARKER.match(mine)) != bool(_MARKER.match(theirs)):
        return min(best, CAPPED_TITLE), "only one title is an erratum/reply/data note"
    return best, None


# --- scoring -----------------------------------------------------------------------------------


def _work_titles(work: Work) -> list[str]:
    titles = [work.title]
    if work.subtitle:
        titles.append(f"{work.title}: {work.subtitle}")
    return titles


def _hit_titles(hit: SearchHit) -> list[str]:
    titles = [hit.title] if hit.title else []
    if hit.title and hit.subtitle:
        titles.append(f"{hit.title}: {hit.subtitle}")
    return titles


def _first_family(work: Work) -> str | None:
    people = work.authors or work.contributors
    if not people:
        return None
    first = people[0]
    return first.family or first.name


def _year_score(mine: int | None, theirs: int | None) -> float:
    if mine is None or theirs is None:
        return 0.5
    gap = abs(mine - theirs)
    return 1.0 if gap == 0 else 0.5 if gap == 1 else 0.0


def _author_score(mine: str | None, families: list[str]) -> float:
    if not mine or not families:
        return 0.5
    wanted = normalize_name(mine)
    names = [normalize_name(f) for f in families]
    if names[0] == wanted:
        return 1.0
    return 0.75 if wanted in names[1:] else 0.0


def _type_group(kind: str | None) -> str | None:
    if not kind or kind == "other":
        return None
    return _NON_TEXT.get(kind, "text")


def score_candidate(work: Work, hit: SearchHit) -> tuple[float, dict[str, Any]]:
    """The candidate's score against the work (0..1), and the evidence for it."""
    title, cap = title_similarity(_work_titles(work), _hit_titles(hit))
    year = _year_score(work.publication_year, hit.year)
    first = _first_family(work)
    author = _author_score(first, hit.author_families)
    mine_group, their_group = _type_group(work.type), _type_group(hit.type)
    penalty = TYPE_PENALTY if mine_group and their_group and mine_group != their_group else 0.0
    score = WEIGHTS["title"] * title + WEIGHTS["year"] * year + WEIGHTS["author"] * author - penalty
    score = round(max(0.0, min(1.0, score)), 3)
    if title < TITLE_FLOOR:
        score = min(score, round(WEIGHTS["title"] * title, 3))
    title_evidence: dict[str, Any] = {
        "work": work.title,
        "candidate": hit.title,
        "similarity": round(title, 3),
    }
    if cap:
        title_evidence["capped"] = cap
    evidence: dict[str, Any] = {
        "title": title_evidence,
        "year": {"work": work.publication_year, "candidate": hit.year, "score": year},
        "first_author": {
            "work": first,
            "candidate": hit.author_families[0] if hit.author_families else None,
            "score": author,
        },
        "type": {"work": str(work.type), "candidate": hit.type, "penalty": penalty},
        "agency": hit.agency,
        "rank": hit.rank,
    }
    return score, evidence


def find_possible_duplicates(
    work: Work,
    search: RegistrySearch,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    candidates: int = 20,
    allow_partial: bool = False,
) -> list[DuplicateMatch]:
    """Likely existing DOIs for ``work`` (see the module docstring), best first."""
    query = SearchQuery(title=work.title, any_title_words=True)
    try:
        answer = search.search(query, rows=candidates)
    except SearchFailed as exc:
        raise DuplicateCheckIncomplete(f"duplicate check impossible: {exc}") from None
    own = work.doi.lower() if work.doi else None
    matches = []
    for hit in answer.hits:
        if hit.doi == own:
            continue
        score, evidence = score_candidate(work, hit)
        if score >= threshold:
            matches.append(DuplicateMatch(hit.doi, score, evidence))
    matches.sort(key=lambda m: (-m.score, m.doi))
    if answer.failed and not matches and not allow_partial:
        reasons = "; ".join(f"{name} {reason}" for name, reason in answer.failed.items())
        raise DuplicateCheckIncomplete(f"duplicate check incomplete: {reasons}")
    return matches
