"""ORCID search, and "suggest iDs" for contributors who have none (pure: the public API client
is passed in; no database, so ``pidsync orcid suggest`` starts none).

Suggestions are proposals for a person to confirm: they are reported to the emitting system
(``orcid.suggestions``) and shown by ``pidsync orcid suggest``, never written into a Work or
onto a record. A candidate is scored from what matches: e-mail (strongest), family and given
names (case and accents ignored), and affiliation; each score comes with its reasons.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

from worker.http import reading
from worker.orcid.client import PublicClient

SEARCH_ROWS = 20


def phrase(field_name: str, value: str) -> str:
    """``field:"value"`` with the value quoted for Solr (quotes and backslashes escaped)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{field_name}:"{escaped}"'


def person_query(
    *,
    given: str | None = None,
    family: str | None = None,
    affiliation: str | None = None,
    email: str | None = None,
) -> str:
    """A Solr query for the expanded search; every given part must match."""
    parts = []
    if family:
        parts.append(phrase("family-name", family))
    if given:
        parts.append(phrase("given-names", given))
    if affiliation:
        parts.append(phrase("affiliation-org-name", affiliation))
    if email:
        parts.append(phrase("email", email))
    if not parts:
        raise ValueError("a search needs a name, an affiliation or an e-mail address")
    return " AND ".join(parts)


def fold(text: str | None) -> str:
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


@dataclass
class Candidate:
    orcid: str
    given_names: str | None
    family_names: str | None
    institutions: list[str]
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _texts(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _candidate(hit: dict[str, Any]) -> Candidate:
    # Only strings are kept: ORCID's answer is read as given, and the scoring folds text.
    return Candidate(
        orcid=str(hit.get("orcid-id")),
        given_names=_text(hit.get("given-names")),
        family_names=_text(hit.get("family-names")),
        institutions=_texts(hit.get("institution-name")),
    )


def _score(
    candidate: Candidate,
    emails: list[str],
    *,
    given: str | None,
    family: str | None,
    affiliations: list[str],
    email: str | None,
) -> None:
    score = 0.0
    reasons = []
    if email and fold(email) in {fold(e) for e in emails}:
        score += 0.6
        reasons.append("e-mail address matches")
    if family and fold(family) == fold(candidate.family_names):
        score += 0.25
        reasons.append("family name matches")
    if given and candidate.given_names:
        wanted, found = fold(given), fold(candidate.given_names)
        if wanted == found:
            score += 0.15
            reasons.append("given names match")
        elif wanted[:1] == found[:1]:
            score += 0.05
            reasons.append("given names share the initial")
    institutions = [fold(i) for i in candidate.institutions]
    for affiliation in affiliations:
        a = fold(affiliation)
        if a and any(a in i or i in a for i in institutions if i):
            score += 0.2
            reasons.append(f"affiliation matches: {affiliation}")
            break
    candidate.score = round(min(score, 1.0), 2)
    candidate.reasons = reasons


def suggest(
    public: PublicClient,
    *,
    given: str | None = None,
    family: str | None = None,
    affiliations: list[str] | None = None,
    email: str | None = None,
    limit: int = 5,
) -> list[Candidate]:
    """Candidate ORCID iDs for a person, best first."""
    affiliations = [a for a in (affiliations or []) if a]
    queries = []
    if email:
        queries.append(person_query(email=email))
    if family:
        queries.extend(
            person_query(given=given, family=family, affiliation=a) for a in affiliations[:2]
        )
        queries.append(person_query(given=given, family=family))
    if not queries:
        raise ValueError("a suggestion needs a family name or an e-mail address")
    found: dict[str, tuple[Candidate, list[str]]] = {}
    for q in queries:
        answer = public.expanded_search(q, rows=SEARCH_ROWS)
        with reading(public.service, "an expanded search"):
            for hit in answer.get("expanded-result") or []:
                candidate = _candidate(hit)
                if candidate.orcid not in found:
                    found[candidate.orcid] = (candidate, _texts(hit.get("email")))
    for candidate, emails in found.values():
        _score(
            candidate, emails, given=given, family=family, affiliations=affiliations, email=email
        )
    ranked = sorted((c for c, _e in found.values()), key=lambda c: (-c.score, c.orcid))
    return [c for c in ranked if c.score > 0][:limit]
