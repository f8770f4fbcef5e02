"""What a render target cannot hold of a Work: one :class:`RenderNote` per thing left out, so
no target drops anything silently.

``losses(work, target)`` lists them; ``pidsync render`` prints each to stderr (``note: ...``)
and a service can log or record them beside what it sent. The tables below are the one place
that says, per target, which Work fields travel; ``tests/metadata/test_losses.py`` checks
them against the renderers (a field said to travel must change the output).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from worker.metadata.render.crossref_parts import INTER_RELATIONS, INTRA_RELATIONS
from worker.metadata.render.crossref_xml import crossref_kind
from worker.metadata.render.orcid_json import orcid_language
from worker.metadata.types import ROLES
from worker.pids.identifiers import funder_id_kind

if TYPE_CHECKING:
    from collections.abc import Callable

    from worker.metadata.work import Work


@dataclass(frozen=True, slots=True)
class RenderNote:
    """One thing ``target`` leaves out: the Work path and why."""

    target: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.target}: {self.path}: {self.message}"


#: Work fields whose content a target carries (wholly, or as the partial rules below say).
_BASE = {"id", "type", "version", "registration", "doi", "url", "contributors", "title"}
CARRIED: dict[str, frozenset[str]] = {
    "datacite": frozenset(_BASE | {
        "title_language", "subtitle", "subtitle_language", "alternative_titles", "abstract",
        "abstract_language", "descriptions", "language", "publication_date", "publisher",
        "publisher_language", "publisher_identifier", "resource_version", "resource_type",
        "resource_type_general", "container", "funding", "related_identifiers", "keywords",
        "subjects", "license", "rights", "dates", "alternate_identifiers", "related_items",
        "geo_locations", "sizes", "formats",
    }),
    "crossref": frozenset(_BASE | {
        "subtitle", "abstract", "abstract_language", "descriptions", "language",
        "publication_date", "publisher", "container", "event", "funding",
        "related_identifiers", "license", "review",
    }),
    "orcid": frozenset(_BASE | {
        "subtitle", "alternative_titles", "abstract", "language", "publication_date",
        "container", "event",
    }),
    "csl": frozenset(_BASE | {
        "subtitle", "abstract", "language", "publication_date", "publisher",
        "resource_version", "container", "event", "keywords",
    }),
    "bibtex": frozenset(_BASE | {
        "subtitle", "language", "publication_date", "publisher", "resource_version",
        "container", "keywords",
    }),
    "ris": frozenset(_BASE | {
        "subtitle", "abstract", "language", "publication_date", "publisher",
        "resource_version", "container", "event", "keywords",
    }),
}  # fmt: skip
TARGETS = {"datacite-xml": "datacite", "datacite-json": "datacite", "crossref-xml": "crossref",
           "orcid-json": "orcid", "orcid-xml": "orcid", "csl": "csl", "bibtex": "bibtex",
           "ris": "ris"}  # fmt: skip


def losses(work: Work, target: str) -> list[RenderNote]:
    """Everything ``work`` holds that ``target`` (a render target name) leaves out."""
    kind = TARGETS.get(target, target)
    if kind not in CARRIED:
        return []
    notes = [
        RenderNote(kind, field, NOT_CARRIED)
        for field in type(work).model_fields
        if field not in CARRIED[kind] and _present(getattr(work, field))
    ]
    specific = [
        RenderNote(kind, path, message)
        for rule in _PARTIAL.get(kind, [])
        for path, message in rule(work)
    ]
    # A field with its own reason is said once, with that reason (not also "not carried").
    said = {note.path for note in specific}
    return [note for note in notes if note.path not in said] + specific


def _present(value: object) -> bool:
    return value not in (None, "", [], {})


Found = list[tuple[str, str]]


def _roles(column: str) -> Callable[[Work], Found]:
    def rule(work: Work) -> Found:
        return [
            (f"contributors[{i}].role", f"role {c.role.value!r} has no {column} counterpart")
            for i, c in enumerate(work.contributors)
            if getattr(ROLES[c.role], column) is None
        ]

    return rule


NOT_CARRIED = "not carried by this target"
_NO_PUBLISHER = (
    "Crossref's journal article and posted content have no publisher element (the member is "
    "the publisher)"
)
_NO_ROR_FUNDER = (
    "Crossref 5.3.1 funding takes Crossref Funder IDs only; the ROR id is not sent (the name is)"
)
_FUNDING_PARTS = "only funder name, Funder ID and award number are carried"
_RELATION_PARTS = "its resource type and relation information are not carried"
_ONE_TRANSLATION = (
    "ORCID takes one translated title (with a language ORCID knows); this one is not carried"
)


def _datacite_only_person_parts(work: Work) -> Found:
    found = []
    for i, c in enumerate(work.contributors):
        parts = ("contributor_type", "language", "identifiers")
        found += [(f"contributors[{i}].{p}", NOT_CARRIED) for p in parts if _present(getattr(c, p))]
        found += [
            (f"contributors[{i}].affiliations[{j}].identifier", "only ROR ids are carried")
            for j, affiliation in enumerate(c.affiliations)
            if affiliation.identifier is not None
        ]
    return found


def _container_issns(work: Work) -> Found:
    if work.container and work.container.lissn:
        return [("container.lissn", "a linking ISSN is not carried by this target")]
    return []


#: What Crossref's peer_review and component records have no element for, though the other
#: record kinds carry it (Work field → why).
_KIND_GAPS: dict[str, dict[str, str]] = {
    "peer_review": {
        "publisher": "Crossref's peer_review has no publisher element",
        "abstract": "Crossref's peer_review has no abstract",
        "container": "Crossref's peer_review has no container (the reviewed work is a relation)",
        "event": "Crossref's peer_review has no event",
        "funding": "Crossref's peer_review has no funding",
    },
    "sa_component": {
        "publisher": "a Crossref component has no publisher (its parent's is used)",
        "container": "a Crossref component has no container (its parent is the relation)",
        "event": "a Crossref component has no event",
        "funding": "a Crossref component has no funding",
        "related_identifiers": "a Crossref component has no relations besides its parent",
    },
}


def _crossref_kind_rules(work: Work) -> Found:
    kind = crossref_kind(work)
    found = [
        (field, why)
        for field, why in _KIND_GAPS.get(kind, {}).items()
        if _present(getattr(work, field))
    ]
    if work.review is not None and kind != "peer_review":
        found.append(("review", "only a peer review carries review details at Crossref"))
    if kind == "sa_component":
        if work.abstract_language:
            found.append(("abstract_language", "a component's description carries no language"))
        found += [
            (f"descriptions[{i}]", "a component takes one description (the abstract)")
            for i, d in enumerate(work.descriptions)
            if d.type == "Abstract"
        ]
    return found


def _crossref_rules(work: Work) -> Found:
    found = _crossref_kind_rules(work)
    if work.publisher and crossref_kind(work) in ("journal_article", "posted_content"):
        found.append(("publisher", _NO_PUBLISHER))
    for i, funding in enumerate(work.funding):
        if funding.funder_id and funder_id_kind(funding.funder_id) == "ror":
            found.append((f"funding[{i}].funder_id", _NO_ROR_FUNDER))
        if funding.funder_identifier or funding.award_title or funding.award_uri:
            found.append((f"funding[{i}]", _FUNDING_PARTS))
    component = crossref_kind(work) == "sa_component"  # its relations are one note above
    for i, rel in enumerate([] if component else work.related_identifiers):
        kind = rel.relation_type
        if not (INTER_RELATIONS.get(kind) or INTRA_RELATIONS.get(kind)):
            found.append((f"related_identifiers[{i}]", f"{kind!r} has no Crossref relation type"))
        elif rel.resource_type_general or rel.relation_type_information:
            found.append((f"related_identifiers[{i}]", _RELATION_PARTS))
    for i, d in enumerate(work.descriptions):
        if d.type != "Abstract":
            found.append((f"descriptions[{i}]", f"a {d.type} description is not carried"))
    if work.license and (work.license.name or work.license.identifier):
        found.append(("license", "only the licence URL is carried"))
    if work.title_language or work.subtitle_language:
        found.append(("title_language", "Crossref titles carry no language"))
    return found + _container_issns(work)


def _orcid_rules(work: Work) -> Found:
    found = []
    translated = False
    for i, alt in enumerate(work.alternative_titles):
        if alt.type == "TranslatedTitle" and orcid_language(alt.language) and not translated:
            translated = True  # ORCID takes one translated-title, with its language-code
            continue
        found.append((f"alternative_titles[{i}]", _ONE_TRANSLATION))
    if work.language and orcid_language(work.language) is None:
        found.append(("language", f"{work.language!r} has no ORCID language-code"))
    if work.title_language or work.subtitle_language:
        found.append(("title_language", "ORCID's title carries no language"))
    if work.abstract_language:
        found.append(("abstract_language", "ORCID's short-description carries no language"))
    return found + _container_issns(work)


def _csl_rules(work: Work) -> Found:
    found = []
    if work.title_language or work.subtitle_language or work.abstract_language:
        found.append(("title_language", "CSL has one item language (language), none per text"))
    return found + _container_issns(work)


_PARTIAL: dict[str, list[Callable[[Work], Found]]] = {
    "datacite": [
        lambda w: [("event", "DataCite has no conference/event property")] if w.event else [],
    ],
    "crossref": [_roles("crossref"), _datacite_only_person_parts, _crossref_rules],
    "orcid": [_roles("orcid"), _datacite_only_person_parts, _orcid_rules],
    "csl": [_roles("csl"), _datacite_only_person_parts, _csl_rules],
    "bibtex": [_roles("bibtex"), _datacite_only_person_parts, _container_issns],
    "ris": [_roles("ris"), _datacite_only_person_parts, _container_issns],
}
