"""The Work type vocabulary and its one mapping table to every target's types.

Choices where a target has no exact counterpart (made once, here):

- Crossref has no record kind for software, posters, presentations, working papers or "other".
  Software goes out as a ``database``/``dataset`` (``dataset_type="record"``), which is how
  Crossref members register research software; working papers, posters, presentations and
  other works as ``posted_content`` (``type="working_paper"`` or ``"other"``), the Crossref kind
  with the fewest bibliographic requirements.
- DataCite has no working-paper type: ``Text`` with resourceType "Working paper".
- CSL has no poster/presentation type: ``speech`` (CSL's "presentation or talk") with a genre;
  preprints and working papers are CSL ``article`` ("preprint, working paper, ...").
- BibTeX: classic entry types only (``misc`` where classic BibTeX has nothing closer).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class WorkType(StrEnum):
    JOURNAL_ARTICLE = "journal-article"
    PREPRINT = "preprint"
    BOOK = "book"
    BOOK_CHAPTER = "book-chapter"
    EDITED_BOOK = "edited-book"
    CONFERENCE_PAPER = "conference-paper"
    DATASET = "dataset"
    SOFTWARE = "software"
    REPORT = "report"
    DISSERTATION = "dissertation"
    WORKING_PAPER = "working-paper"
    POSTER = "poster"
    PRESENTATION = "presentation"
    OTHER = "other"
    # Added for Crossref's other content types (issue 16); after OTHER so that the reverse
    # maps below keep their earlier choices (DataCite "Other" stays OTHER, "Book" stays BOOK).
    REFERENCE_BOOK = "reference-book"
    PEER_REVIEW = "peer-review"
    COMPONENT = "component"


@dataclass(frozen=True, slots=True)
class TypeMapping:
    datacite_general: str  # DataCite resourceTypeGeneral
    datacite_type: str  # DataCite free-text resourceType
    crossref_kind: str  # which Crossref record the renderer builds
    crossref_subtype: str | None  # posted_content @type, book @book_type, dataset @dataset_type
    orcid: str  # ORCID v3.0 work type
    csl: str  # CSL-JSON type
    csl_genre: str | None
    bibtex: str  # BibTeX entry type
    ris: str  # RIS TY


_T = TypeMapping
TYPES: dict[WorkType, TypeMapping] = {
    WorkType.JOURNAL_ARTICLE: _T(
        "JournalArticle", "Journal article", "journal_article", "full_text",
        "journal-article", "article-journal", None, "article", "JOUR",
    ),
    WorkType.PREPRINT: _T(
        "Preprint", "Preprint", "posted_content", "preprint",
        "preprint", "article", "Preprint", "misc", "UNPB",
    ),
    WorkType.BOOK: _T(
        "Book", "Book", "book", "monograph", "book", "book", None, "book", "BOOK",
    ),
    WorkType.BOOK_CHAPTER: _T(
        "BookChapter", "Book chapter", "book_chapter", "edited_book",
        "book-chapter", "chapter", None, "incollection", "CHAP",
    ),
    WorkType.EDITED_BOOK: _T(
        "Book", "Edited book", "book", "edited_book", "edited-book", "book", None, "book", "EDBOOK",
    ),
    WorkType.CONFERENCE_PAPER: _T(
        "ConferencePaper", "Conference paper", "conference_paper", None,
        "conference-paper", "paper-conference", None, "inproceedings", "CPAPER",
    ),
    WorkType.DATASET: _T(
        "Dataset", "Dataset", "dataset", "record", "data-set", "dataset", None, "misc", "DATA",
    ),
    WorkType.SOFTWARE: _T(
        "Software", "Software", "dataset", "record", "software", "software", None, "misc", "COMP",
    ),
    WorkType.REPORT: _T(
        "Report", "Report", "report_paper", None, "report", "report", None, "techreport", "RPRT",
    ),
    WorkType.DISSERTATION: _T(
        "Dissertation", "Dissertation", "dissertation", None,
        "dissertation-thesis", "thesis", None, "phdthesis", "THES",
    ),
    WorkType.WORKING_PAPER: _T(
        "Text", "Working paper", "posted_content", "working_paper",
        "working-paper", "article", "Working paper", "techreport", "RPRT",
    ),
    WorkType.POSTER: _T(
        "Poster", "Poster", "posted_content", "other",
        "conference-poster", "speech", "Poster", "misc", "GEN",
    ),
    WorkType.PRESENTATION: _T(
        "Presentation", "Presentation", "posted_content", "other",
        "conference-presentation", "speech", "Presentation", "misc", "SLIDE",
    ),
    WorkType.OTHER: _T(
        "Other", "Other", "posted_content", "other", "other", "document", None, "misc", "GEN",
    ),
    # An encyclopedia, dictionary or handbook: Crossref's book_type "reference"; ORCID and
    # CSL have no reference-book type (their entry types are for the parts), so "book".
    WorkType.REFERENCE_BOOK: _T(
        "Book", "Reference book", "book", "reference", "book", "book", "Reference book",
        "book", "BOOK",
    ),
    # A referee report, editor's decision or community comment on another work (its DOI is
    # the related identifier of relation type Reviews); CSL "review", ORCID "review".
    WorkType.PEER_REVIEW: _T(
        "PeerReview", "Peer review", "peer_review", None, "review", "review", "Peer review",
        "misc", "GEN",
    ),
    # A figure, table or supplement registered under its parent's DOI (the related identifier
    # of relation type IsPartOf, IsReferencedBy, IsRequiredBy or IsTranslationOf).
    WorkType.COMPONENT: _T(
        "Other", "Component", "sa_component", None, "other", "document", "Component",
        "misc", "GEN",
    ),
}  # fmt: skip


#: DataCite ``relatedItemType`` of a Work's container, written as the relatedItem the Work
#: ``IsPublishedIn``: the journal, the book a chapter is in, the proceedings; any other
#: container (a preprint server, a database, a report or book series) as a Collection.
DATACITE_CONTAINER_TYPE: dict[WorkType, str] = {
    WorkType.JOURNAL_ARTICLE: "Journal",
    WorkType.BOOK_CHAPTER: "Book",
    WorkType.CONFERENCE_PAPER: "ConferenceProceeding",
}
DATACITE_CONTAINER_DEFAULT = "Collection"

#: Types whose ``container.isbn`` is the work's own ISBN (the book, report or thesis itself,
#: as Crossref deposits it), not the ISBN of a book the work is part of.
OWN_ISBN_TYPES: frozenset[WorkType] = frozenset(
    {
        WorkType.BOOK,
        WorkType.EDITED_BOOK,
        WorkType.REFERENCE_BOOK,
        WorkType.REPORT,
        WorkType.DISSERTATION,
    }
)


def mapping(work_type: WorkType | str) -> TypeMapping:
    """The targets' types for a Work type."""
    return TYPES[WorkType(work_type)]


# Reverse maps used by the adapters (first Work type in table order wins).
def _reverse(attribute: str) -> dict[str, WorkType]:
    reverse: dict[str, WorkType] = {}
    for work_type, row in TYPES.items():
        reverse.setdefault(getattr(row, attribute), work_type)
    return reverse


FROM_DATACITE_GENERAL = _reverse("datacite_general") | {
    "Text": WorkType.OTHER,
    "ConferenceProceeding": WorkType.BOOK,
    "DataPaper": WorkType.JOURNAL_ARTICLE,
    "ComputationalNotebook": WorkType.SOFTWARE,
    "Workflow": WorkType.SOFTWARE,
}
FROM_CSL = _reverse("csl") | {
    "article": WorkType.PREPRINT,
    "article-magazine": WorkType.JOURNAL_ARTICLE,
    "article-newspaper": WorkType.JOURNAL_ARTICLE,
    "manuscript": WorkType.WORKING_PAPER,
    "speech": WorkType.PRESENTATION,
}
FROM_CROSSREF_REST = {
    "journal-article": WorkType.JOURNAL_ARTICLE,
    "posted-content": WorkType.PREPRINT,
    "book": WorkType.BOOK,
    "monograph": WorkType.BOOK,
    "reference-book": WorkType.REFERENCE_BOOK,
    "edited-book": WorkType.EDITED_BOOK,
    "book-chapter": WorkType.BOOK_CHAPTER,
    "book-section": WorkType.BOOK_CHAPTER,
    "book-part": WorkType.BOOK_CHAPTER,
    "proceedings-article": WorkType.CONFERENCE_PAPER,
    "dataset": WorkType.DATASET,
    "database": WorkType.DATASET,
    "report": WorkType.REPORT,
    "report-component": WorkType.REPORT,
    "dissertation": WorkType.DISSERTATION,
    "peer-review": WorkType.PEER_REVIEW,
    "component": WorkType.COMPONENT,
}


class ContributorRole(StrEnum):
    AUTHOR = "author"
    EDITOR = "editor"
    TRANSLATOR = "translator"
    CHAIR = "chair"
    SUPERVISOR = "supervisor"
    CONTACT = "contact"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class RoleMapping:
    datacite: str | None  # contributorType; None = a DataCite creator
    crossref: str | None  # contributor_role; None = not deposited at Crossref
    orcid: str | None  # contributor-role; None = contributor listed without a role
    csl: str | None  # CSL name variable; None = not in CSL
    bibtex: str | None  # BibTeX name field
    ris: str | None  # RIS tag


_R = RoleMapping
ROLES: dict[ContributorRole, RoleMapping] = {
    ContributorRole.AUTHOR: _R(None, "author", "author", "author", "author", "AU"),
    ContributorRole.EDITOR: _R("Editor", "editor", "editor", "editor", "editor", "ED"),
    ContributorRole.TRANSLATOR: _R(
        "Translator", "translator", "chair-or-translator", "translator", None, "A4"
    ),
    ContributorRole.CHAIR: _R("Other", "chair", "chair-or-translator", "chair", None, None),
    ContributorRole.SUPERVISOR: _R("Supervisor", None, None, "contributor", None, None),
    ContributorRole.CONTACT: _R("ContactPerson", None, None, None, None, None),
    ContributorRole.OTHER: _R("Other", None, None, "contributor", None, None),
}

FROM_DATACITE_CONTRIBUTOR_TYPE = {
    "Editor": ContributorRole.EDITOR,
    "Translator": ContributorRole.TRANSLATOR,
    "Supervisor": ContributorRole.SUPERVISOR,
    "ContactPerson": ContributorRole.CONTACT,
    "Other": ContributorRole.OTHER,
}
