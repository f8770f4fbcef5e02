"""Pieces of a Crossref 5.3.1 record shared by every record kind, and the checks that keep a
Work within the schema's limits (lengths, name patterns, year range)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lxml import etree

from worker.metadata.render.common import paragraphs, sequences
from worker.metadata.types import ROLES, ContributorRole
from worker.pids.identifiers import doi_url, funder_id_kind

if TYPE_CHECKING:
    from worker.metadata.work import Contributor, Work

TARGET = "crossref"
NS = "http://www.crossref.org/schema/5.3.1"
JATS = "http://www.ncbi.nlm.nih.gov/JATS1"
FR = "http://www.crossref.org/fundref.xsd"
AI = "http://www.crossref.org/AccessIndicators.xsd"
REL = "http://www.crossref.org/relations.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {None: NS, "jats": JATS, "fr": FR, "ai": AI, "rel": REL, "xsi": XSI}
Q = "{" + NS + "}"

# Two-letter codes Crossref's language attribute takes (common5.3.1.xsd language.atts).
CROSSREF_LANGUAGES = frozenset((
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg",
    "bh", "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv",
    "cy", "da", "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi",
    "fj", "fo", "fr", "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr",
    "ht", "hu", "hy", "hz", "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja",
    "jw", "ka", "kg", "ki", "kj", "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw",
    "ky", "la", "lb", "lg", "li", "ln", "lo", "lt", "lu", "lv", "mg", "mu", "mi", "mk", "ml",
    "mn", "mr", "ms", "mt", "my", "na", "nb", "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv",
    "ny", "oc", "oj", "om", "or", "os", "pa", "pi", "pl", "ps", "pt", "qu", "rm", "rn", "ro",
    "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk", "sl", "sm", "sn", "so", "sq", "sr",
    "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl", "tn", "to", "tr",
    "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo", "wa", "wo", "xh", "yi",
    "yo", "za", "zh",
))  # fmt: skip

# DataCite relationType → (Crossref relation element, relationship-type); others not deposited.
INTER_RELATIONS = {
    "IsDerivedFrom": "isDerivedFrom", "IsSourceOf": "hasDerivation", "Reviews": "isReviewOf",
    "IsReviewedBy": "hasReview", "IsCompiledBy": "isCompiledBy", "Compiles": "compiles",
    "IsDocumentedBy": "isDocumentedBy", "Documents": "documents",
    "IsSupplementTo": "isSupplementTo", "IsSupplementedBy": "isSupplementedBy",
    "IsContinuedBy": "isContinuedBy", "Continues": "continues", "IsPartOf": "isPartOf",
    "HasPart": "hasPart", "References": "references", "IsReferencedBy": "isReferencedBy",
    "Cites": "references", "IsCitedBy": "isReferencedBy", "Requires": "requires",
    "IsRequiredBy": "isRequiredBy",
}  # fmt: skip
INTRA_RELATIONS = {
    "HasTranslation": "hasTranslation", "IsTranslationOf": "isTranslationOf",
    "IsIdenticalTo": "isIdenticalTo", "IsVariantFormOf": "isVariantFormOf",
    "IsOriginalFormOf": "isOriginalFormOf", "IsVersionOf": "isVersionOf",
    "HasVersion": "hasVersion", "IsNewVersionOf": "replaces", "IsPreviousVersionOf": "isReplacedBy",
    "Obsoletes": "replaces", "IsObsoletedBy": "isReplacedBy",
}  # fmt: skip
_ID_TYPES = {
    "DOI": "doi", "ISSN": "issn", "EISSN": "issn", "LISSN": "issn", "ISBN": "isbn", "URL": "uri",
    "PMID": "pmid", "PURL": "purl", "arXiv": "arxiv", "ARK": "ark", "Handle": "handle",
}  # fmt: skip

# given_name / surname: 1-60 characters matching this (XSD \s is only space, tab, CR, LF).
_NAME = re.compile(r"[^\d?]*[^? \t\r\n]+[^\d]*")


XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, tag if tag.startswith("{") else Q + tag)
    if text is not None:
        element.text = text
    for key, value in attrs.items():
        element.set(key, value)
    return element


def language(work: Work) -> dict[str, str]:
    code = work.language.split("-")[0] if work.language else None
    return {"language": code} if code in CROSSREF_LANGUAGES else {}


def deposited(contributors: list[Contributor]) -> list[Contributor]:
    """The contributors Crossref has a role for (author, editor, chair, translator)."""
    return [c for c in contributors if ROLES[c.role].crossref is not None]


def name_problems(path: str, contributor: Contributor) -> list[tuple[str, str]]:
    if not contributor.is_person:
        name = " ".join(contributor.full_name.split())
        return [] if len(name) <= 511 else [(path + ".name", "longer than 511 characters")]
    problems = []
    fields = [("family", contributor.family), ("given", contributor.given)]
    if contributor.family is None:
        fields = [("name", contributor.name)]
    for field, raw in fields:
        if raw is None:
            continue
        value = " ".join(raw.split())
        if len(value) > 60:
            problems.append((f"{path}.{field}", "longer than Crossref's 60 characters"))
        elif not _NAME.fullmatch(value):
            problems.append((f"{path}.{field}", "Crossref refuses names with '?' or such digits"))
    problems += [
        (f"{path}.affiliations[{i}].name", "longer than 1024 characters")
        for i, a in enumerate(contributor.affiliations)
        if a.name and len(a.name) > 1024
    ]
    return problems


def contributors(parent: etree._Element, people: list[Contributor]) -> None:
    """``<contributors>`` (only when there is someone to put in it: it may not be empty)."""
    if not people:
        return
    element = sub(parent, "contributors")
    for contributor, sequence in zip(people, sequences(people), strict=True):
        role = ROLES[contributor.role].crossref or "author"
        if not contributor.is_person:
            sub(
                element,
                "organization",
                contributor.full_name,
                sequence=sequence,
                contributor_role=role,
            )
            continue
        person = sub(element, "person_name", sequence=sequence, contributor_role=role)
        if contributor.given and contributor.family:
            sub(person, "given_name", contributor.given)
        sub(person, "surname", contributor.family or contributor.name)
        if contributor.affiliations:
            affiliations = sub(person, "affiliations")
            for affiliation in contributor.affiliations:
                institution = sub(affiliations, "institution")
                if affiliation.name:
                    sub(institution, "institution_name", affiliation.name)
                if affiliation.ror:
                    sub(institution, "institution_id", affiliation.ror, type="ror")
        if contributor.orcid:
            sub(person, "ORCID", "https://orcid.org/" + contributor.orcid)


def editors(work: Work) -> list[Contributor]:
    return [c for c in work.contributors if c.role == ContributorRole.EDITOR]


def titles(parent: etree._Element, title: str, subtitle: str | None = None) -> None:
    element = sub(parent, "titles")
    sub(element, "title", title)
    if subtitle:
        sub(element, "subtitle", subtitle)


def abstract(parent: etree._Element, work: Work) -> None:
    """The abstract and its translations (descriptions of type Abstract), each a JATS
    abstract with its xml:lang (Crossref takes any number)."""
    texts = [(work.abstract, work.abstract_language)] if work.abstract else []
    texts += [(d.text, d.language) for d in work.descriptions if d.type == "Abstract"]
    for text, lang in texts:
        element = sub(parent, f"{{{JATS}}}abstract")
        if lang:
            element.set(XML_LANG, lang)
        for paragraph in paragraphs(text) or [" ".join(text.split())]:
            sub(element, f"{{{JATS}}}p", paragraph)


def date(parent: etree._Element, tag: str, value: str, media_type: str | None = "online") -> None:
    parts = value.split("-")
    element = sub(parent, tag, **({"media_type": media_type} if media_type else {}))
    if len(parts) > 1:
        sub(element, "month", parts[1])
    if len(parts) > 2:
        sub(element, "day", parts[2])
    sub(element, "year", parts[0])


def pages(parent: etree._Element, work: Work) -> None:
    container = work.container
    if container and container.first_page:
        element = sub(parent, "pages")
        sub(element, "first_page", container.first_page)
        if container.last_page:
            sub(element, "last_page", container.last_page)


def publisher(parent: etree._Element, name: str) -> None:
    sub(sub(parent, "publisher"), "publisher_name", name)


def isbn_or_none(parent: etree._Element, work: Work) -> None:
    if work.container and work.container.isbn:
        sub(parent, "isbn", work.container.isbn)
    else:
        sub(parent, "noisbn", reason="monograph")


def programs(
    parent: etree._Element, work: Work, *, relations: bool = True, funding: bool = True
) -> None:
    """fr:program (funding, if ``funding``), ai:program (licence) and, if ``relations``,
    rel:program."""
    if funding and work.funding:
        program = sub(parent, f"{{{FR}}}program", name="fundref")
        for award in work.funding:
            group = sub(program, f"{{{FR}}}assertion", name="fundgroup")
            funder = sub(group, f"{{{FR}}}assertion", award.funder_name, name="funder_name")
            # 5.3.1 has no ROR assertion: only Crossref Funder IDs travel as identifiers.
            if award.funder_id and funder_id_kind(award.funder_id) == "doi":
                sub(
                    funder,
                    f"{{{FR}}}assertion",
                    doi_url(award.funder_id),
                    name="funder_identifier",
                )
            if award.award_number:
                sub(group, f"{{{FR}}}assertion", award.award_number, name="award_number")
    if work.license:
        program = sub(parent, f"{{{AI}}}program", name="AccessIndicators")
        sub(program, f"{{{AI}}}license_ref", work.license.url)
    if relations:
        related(parent, work)


def related(parent: etree._Element, work: Work) -> None:
    items = [
        (rel, INTER_RELATIONS.get(rel.relation_type), INTRA_RELATIONS.get(rel.relation_type))
        for rel in work.related_identifiers
    ]
    items = [item for item in items if item[1] or item[2]]
    if not items:
        return
    program = sub(parent, f"{{{REL}}}program", name="relations")
    for rel, inter, intra in items:
        item = sub(program, f"{{{REL}}}related_item")
        tag = "inter_work_relation" if inter else "intra_work_relation"
        sub(item, f"{{{REL}}}{tag}", rel.identifier, **{
            "relationship-type": inter or intra or "",
            "identifier-type": _ID_TYPES.get(rel.identifier_type, "other"),
        })  # fmt: skip


def doi_data(parent: etree._Element, work: Work, timestamp: int | None) -> None:
    element = sub(parent, "doi_data")
    sub(element, "doi", work.doi)
    if timestamp is not None:
        sub(element, "timestamp", str(timestamp))
    sub(element, "resource", work.url)
