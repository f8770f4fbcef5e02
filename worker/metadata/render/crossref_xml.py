"""Work(s) → Crossref deposit XML (schema 5.3.1), many records of one prefix in one file.

Requirements (MissingFields names each missing one):

- every kind: ``doi``, ``url`` (doi_data/resource);
- journal-article: ``container.title`` (journal full_title), ``publication_date``;
- book, edited-book: ``publication_date``, ``publisher``;
- book-chapter: ``container.title`` (the book), ``publication_date``, ``publisher``;
- conference-paper: ``event.name``, ``container.title`` (proceedings), ``publisher``,
  ``publication_date``;
- dissertation: ``publication_date`` (approval date), ``publisher`` (the degree-granting
  institution), an author;
- reference-book: as a book (``book_type="reference"``);
- peer-review: ``publication_date`` with month and day (the review date), ``review.stage``,
  ``review.type`` and the reviewed work's DOI (a related identifier of relation type Reviews);
- component: the parent's DOI (a related identifier of relation type IsPartOf, IsReferencedBy,
  IsRequiredBy or IsTranslationOf: Crossref's ``parent_relation``), deposited as an
  ``<sa_component>`` (a component registered after its parent);
- report: ``publication_date``; preprint, working paper, poster, presentation, other
  (posted_content): ``publication_date`` (posted date);
- dataset, software (database/dataset): nothing more; the database title is
  ``container.title`` or, for a stand-alone dataset, the work's own title.

Values the schema cannot hold (names over 60 characters or with '?', volumes over 32
characters, years outside 1400-2200, ...) raise Unrepresentable naming each field. A deposit
body holds one record kind only (journal, book, conference, ...): mixing kinds or DOI
prefixes in one file is refused. Crossref 5.3.1 has no ROR funder identifier: a funder known
only by ROR is deposited by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lxml import etree

from worker.metadata.errors import MissingFields, Unrepresentable
from worker.metadata.render import crossref_parts as p
from worker.metadata.render.common import XML_DECLARATION, require
from worker.metadata.types import ROLES, ContributorRole, mapping
from worker.pids.identifiers import doi_prefix

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from worker.metadata.work import Work

SCHEMA_LOCATION = f"{p.NS} https://www.crossref.org/schemas/crossref5.3.1.xsd"
# Crossref record kind → the element under <body>.
BODY_ELEMENT = {
    "journal_article": "journal",
    "posted_content": "posted_content",
    "dataset": "database",
    "report_paper": "report-paper",
    "book": "book",
    "book_chapter": "book",
    "conference_paper": "conference",
    "dissertation": "dissertation",
    "peer_review": "peer_review",
    "sa_component": "sa_component",
}

#: DataCite relationType → Crossref ``component/@parent_relation`` (the parent's DOI).
PARENT_RELATIONS = {
    "IsPartOf": "isPartOf",
    "IsReferencedBy": "isReferencedBy",
    "IsRequiredBy": "isRequiredBy",
    "IsTranslationOf": "isTranslationOf",
}


def crossref_kind(work: Work) -> str:
    return mapping(work.type).crossref_kind


def body_element(work: Work) -> str:
    """The ``<body>`` child a Work becomes; one deposit file holds one kind only."""
    return BODY_ELEMENT[crossref_kind(work)]


#: DataCite resource types Crossref 5.3.1 has no record for: a Work of one is refused, saying
#: why, rather than deposited as something it is not (posted content, a dataset).
NOT_AT_CROSSREF = {
    "Instrument": "Crossref has no record type for instruments (PIDINST registers them at "
    "DataCite)",
    "PhysicalObject": "Crossref has no record type for physical objects",
    "Award": "Crossref registers grants with its separate grant schema, not a 5.3.1 deposit",
    "Project": "Crossref has no record type for projects",
    "Service": "Crossref has no record type for services",
    "Event": "Crossref has no record type for events (a conference's papers are deposited)",
    "StudyRegistration": "Crossref has no record type for study registrations (a trial number "
    "travels with the articles about it)",
}


def reviewed_doi(work: Work) -> str | None:
    """The DOI a peer review reviews (its first DOI related by Reviews)."""
    return next(
        (
            rel.identifier
            for rel in work.related_identifiers
            if rel.relation_type == "Reviews" and rel.identifier_type == "DOI"
        ),
        None,
    )


def component_parent(work: Work) -> tuple[str, str] | None:
    """(parent DOI, Crossref parent_relation) of a component, from its first DOI related by
    one of ``PARENT_RELATIONS``."""
    for rel in work.related_identifiers:
        if rel.identifier_type == "DOI" and rel.relation_type in PARENT_RELATIONS:
            return rel.identifier, PARENT_RELATIONS[rel.relation_type]
    return None


def check_crossref(work: Work) -> None:
    """MissingFields, then Unrepresentable, unless ``work`` can be deposited at Crossref."""
    if work.resource_type_general in NOT_AT_CROSSREF:
        reason = NOT_AT_CROSSREF[work.resource_type_general]
        raise Unrepresentable(p.TARGET, [("resource_type_general", reason)])
    kind = crossref_kind(work)
    container = work.container
    checks: list[tuple[str, object]] = [("doi", work.doi), ("url", work.url)]
    if kind not in ("dataset", "sa_component"):
        checks.append(("publication_date", work.publication_date))
    if kind in ("journal_article", "book_chapter", "conference_paper"):
        checks.append(("container.title", container.title if container else None))
    if kind in ("book", "book_chapter", "conference_paper", "dissertation"):
        checks.append(("publisher", work.publisher))
    if kind == "conference_paper":
        checks.append(("event.name", work.event.name if work.event else None))
    if kind == "dissertation":
        checks.append(("contributors", p.deposited(work.contributors)))
    if kind == "peer_review":
        review = work.review
        checks.append(("review.stage", review.stage if review else None))
        checks.append(("review.type", review.type if review else None))
        checks.append(("related_identifiers[relation_type=Reviews]", reviewed_doi(work)))
    if kind == "sa_component":
        checks.append(("related_identifiers[relation_type=IsPartOf]", component_parent(work)))
    require(p.TARGET, checks)
    problems = _limit_problems(work, kind)
    if problems:
        raise Unrepresentable(p.TARGET, problems)


def _limit_problems(work: Work, kind: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []

    def limit(path: str, value: str | None, most: int, least: int = 1) -> None:
        if value is not None and not least <= len(" ".join(value.split())) <= most:
            problems.append((path, f"Crossref takes {least}-{most} characters here"))

    suffix = (work.doi or "/").split("/", 1)[1]
    limit("doi", suffix, 200)
    limit("url", work.url, 2048)
    _container_limits(work, kind, limit)
    if kind == "conference_paper" and work.event:
        event = work.event
        limit("event.name", event.name, 512, 3)
        limit("event.acronym", event.acronym, 127)
        limit("event.location", event.location, 255, 2)
        for field in ("start_date", "end_date"):
            _year(problems, f"event.{field}", getattr(event, field))
    limit("publisher", work.publisher, 1024 if kind == "dissertation" else 255)
    if work.license:
        limit("license.url", work.license.url, 2048, 10)
    if kind not in ("dataset", "sa_component") or work.publication_date:
        _year(problems, "publication_date", work.publication_date)
    if kind == "peer_review" and work.publication_date and len(work.publication_date) != 10:
        problems.append(("publication_date", "Crossref's review_date needs year, month and day"))
    for index, contributor in enumerate(work.contributors):
        if ROLES[contributor.role].crossref is not None:
            problems += p.name_problems(f"contributors[{index}]", contributor)
    return problems


def _container_limits(work: Work, kind: str, limit: Callable[..., None]) -> None:
    container = work.container
    if container is None:
        return
    title_max = {"journal_article": 255, "conference_paper": 511}.get(kind, 1024)
    limit("container.title", container.title, title_max)
    for field in ("volume", "issue", "first_page", "last_page"):
        limit(f"container.{field}", getattr(container, field), 32)


def _year(problems: list[tuple[str, str]], path: str, value: str | None) -> None:
    if value and not 1400 <= int(value[:4]) <= 2200:
        problems.append((path, "Crossref takes years 1400-2200"))


def render_crossref_deposit(
    works: Sequence[Work],
    *,
    doi_batch_id: str,
    timestamps: Mapping[str, int] | int,
    depositor_name: str,
    depositor_email: str,
    registrant: str,
) -> str:
    """One ``<doi_batch>`` holding every Work (one DOI prefix, one record kind).

    ``timestamps``: one number for the whole file (the head ``<timestamp>``), or one per DOI
    (each record's ``doi_data/timestamp``; the head carries the largest). Crossref refuses a
    record whose timestamp is not newer than the last one it accepted for that DOI.
    """
    if not works:
        raise MissingFields(p.TARGET, ["works"])
    _check_batch(
        works,
        timestamps,
        doi_batch_id=doi_batch_id,
        depositor_name=depositor_name,
        depositor_email=depositor_email,
        registrant=registrant,
    )
    root = etree.Element(p.Q + "doi_batch", nsmap=p.NSMAP, version="5.3.1")
    root.set(f"{{{p.XSI}}}schemaLocation", SCHEMA_LOCATION)
    head = p.sub(root, "head")
    p.sub(head, "doi_batch_id", doi_batch_id)
    per_doi = not isinstance(timestamps, int)
    head_stamp = max(timestamps.values()) if not isinstance(timestamps, int) else timestamps
    p.sub(head, "timestamp", str(head_stamp))
    depositor = p.sub(head, "depositor")
    p.sub(depositor, "depositor_name", depositor_name)
    p.sub(depositor, "email_address", depositor_email)
    p.sub(head, "registrant", registrant)
    body = p.sub(root, "body")
    for work in works:
        stamp = timestamps[work.doi or ""] if not isinstance(timestamps, int) else None
        _BUILDERS[crossref_kind(work)](body, work, stamp if per_doi else None)
    return XML_DECLARATION + etree.tostring(root, encoding="unicode")


def _check_batch(works: Sequence[Work], timestamps: Mapping[str, int] | int, **head: str) -> None:
    missing: list[str] = []
    problems: list[tuple[str, str]] = []
    for index, work in enumerate(works):
        label = f"works[{index}]." if len(works) > 1 else ""
        try:
            check_crossref(work)
        except MissingFields as exc:
            missing += [label + field for field in exc.fields]
        except Unrepresentable as exc:
            problems += [(label + path, message) for path, message in exc.problems]
    if missing:
        raise MissingFields(p.TARGET, missing)
    problems += _batch_problems(works, timestamps)
    for path, (least, most) in _HEAD_LIMITS.items():
        if not least <= len(head[path] or "") <= most:
            problems.append((path, f"needs {least}-{most} characters"))
    if problems:
        raise Unrepresentable(p.TARGET, problems)


_HEAD_LIMITS = {
    "doi_batch_id": (4, 100),
    "depositor_name": (1, 130),
    "depositor_email": (6, 200),
    "registrant": (1, 255),
}


def _batch_problems(
    works: Sequence[Work], timestamps: Mapping[str, int] | int
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    prefix, element = doi_prefix(works[0].doi or ""), body_element(works[0])
    for index, work in enumerate(works):
        if doi_prefix(work.doi or "") != prefix:
            problems.append((f"works[{index}].doi", f"prefix differs from {prefix} (one per file)"))
        if body_element(work) != element:
            problems.append(
                (f"works[{index}].type", f"not a <{element}> record (one kind per file)")
            )
        if not isinstance(timestamps, int) and work.doi not in timestamps:
            problems.append((f"timestamps[{work.doi}]", "missing"))
    return problems


def _journal_article(body: etree._Element, work: Work, stamp: int | None) -> None:
    container = work.container
    assert container is not None  # noqa: S101 - narrows a type, holds by construction
    assert work.publication_date is not None  # noqa: S101 - narrows a type, holds by construction
    journal = p.sub(body, "journal")
    meta = p.sub(journal, "journal_metadata", **p.language(work))
    p.sub(meta, "full_title", container.title)
    if container.issn:
        p.sub(meta, "issn", container.issn, media_type="print")
    if container.eissn:
        p.sub(meta, "issn", container.eissn, media_type="electronic")
    if container.volume or container.issue:
        issue = p.sub(journal, "journal_issue")
        p.date(issue, "publication_date", work.publication_date)
        if container.volume:
            p.sub(p.sub(issue, "journal_volume"), "volume", container.volume)
        if container.issue:
            p.sub(issue, "issue", container.issue)
    article = p.sub(journal, "journal_article", publication_type="full_text", **p.language(work))
    p.titles(article, work.title, work.subtitle)
    p.contributors(article, p.deposited(work.contributors))
    p.abstract(article, work)
    p.date(article, "publication_date", work.publication_date)
    p.pages(article, work)
    p.programs(article, work)
    p.doi_data(article, work, stamp)


def _posted_content(body: etree._Element, work: Work, stamp: int | None) -> None:
    assert work.publication_date is not None  # noqa: S101 - narrows a type, holds by construction
    subtype = mapping(work.type).crossref_subtype or "other"
    posted = p.sub(body, "posted_content", type=subtype, **p.language(work))
    if work.container and work.container.title:
        p.sub(posted, "group_title", work.container.title)
    p.contributors(posted, p.deposited(work.contributors))
    p.titles(posted, work.title, work.subtitle)
    p.date(posted, "posted_date", work.publication_date, media_type=None)
    p.abstract(posted, work)
    p.programs(posted, work)
    p.doi_data(posted, work, stamp)


def _dataset(body: etree._Element, work: Work, stamp: int | None) -> None:
    database = p.sub(body, "database")
    meta = p.sub(database, "database_metadata", **p.language(work))
    container_title = work.container.title if work.container else None
    p.titles(meta, container_title or work.title)
    if work.publisher:
        p.publisher(meta, work.publisher)
    dataset = p.sub(database, "dataset", dataset_type="record")
    p.contributors(dataset, p.deposited(work.contributors))
    p.titles(dataset, work.title, work.subtitle)
    if work.publication_date:
        p.date(p.sub(dataset, "database_date"), "publication_date", work.publication_date)
    if work.abstract:
        p.sub(dataset, "description", " ".join(work.abstract.split()), **p.language(work))
    p.programs(dataset, work)
    p.doi_data(dataset, work, stamp)


def _report(body: etree._Element, work: Work, stamp: int | None) -> None:
    assert work.publication_date is not None  # noqa: S101 - narrows a type, holds by construction
    report = p.sub(body, "report-paper")
    meta = p.sub(report, "report-paper_metadata", **p.language(work))
    p.contributors(meta, p.deposited(work.contributors))
    p.titles(meta, work.title, work.subtitle)
    p.abstract(meta, work)
    p.date(meta, "publication_date", work.publication_date)
    if work.container and work.container.isbn:
        p.sub(meta, "isbn", work.container.isbn)
    if work.publisher:
        p.publisher(meta, work.publisher)
    p.programs(meta, work)
    p.doi_data(meta, work, stamp)


def _book(body: etree._Element, work: Work, stamp: int | None) -> None:
    assert work.publication_date is not None  # noqa: S101 - narrows a type, holds by construction
    assert work.publisher is not None  # noqa: S101 - narrows a type, holds by construction
    book = p.sub(body, "book", book_type=mapping(work.type).crossref_subtype or "other")
    meta = p.sub(book, "book_metadata", **p.language(work))
    p.contributors(meta, p.deposited(work.contributors))
    p.titles(meta, work.title, work.subtitle)
    p.abstract(meta, work)
    p.date(meta, "publication_date", work.publication_date)
    p.isbn_or_none(meta, work)
    p.publisher(meta, work.publisher)
    p.programs(meta, work)
    p.doi_data(meta, work, stamp)


def _book_chapter(body: etree._Element, work: Work, stamp: int | None) -> None:
    container = work.container
    assert container is not None  # noqa: S101 - narrows a type, holds by construction
    assert container.title is not None  # noqa: S101 - narrows a type, holds by construction
    assert work.publication_date is not None  # noqa: S101 - narrows a type, holds by construction
    assert work.publisher is not None  # noqa: S101 - narrows a type, holds by construction
    book = p.sub(body, "book", book_type="edited_book")
    meta = p.sub(book, "book_metadata", **p.language(work))
    p.contributors(meta, p.editors(work))
    p.titles(meta, container.title)
    p.date(meta, "publication_date", work.publication_date)
    p.isbn_or_none(meta, work)
    p.publisher(meta, work.publisher)
    chapter = p.sub(book, "content_item", component_type="chapter", **p.language(work))
    people = [c for c in p.deposited(work.contributors) if c.role != ContributorRole.EDITOR]
    p.contributors(chapter, people)
    p.titles(chapter, work.title, work.subtitle)
    p.abstract(chapter, work)
    p.date(chapter, "publication_date", work.publication_date)
    p.pages(chapter, work)
    p.programs(chapter, work)
    p.doi_data(chapter, work, stamp)


def _conference_paper(body: etree._Element, work: Work, stamp: int | None) -> None:
    container, event = work.container, work.event
    assert container is not None  # noqa: S101 - narrows a type, holds by construction
    assert container.title is not None  # noqa: S101 - narrows a type, holds by construction
    assert event is not None  # noqa: S101 - narrows a type, holds by construction
    assert work.publication_date is not None  # noqa: S101 - narrows a type, holds by construction
    assert work.publisher is not None  # noqa: S101 - narrows a type, holds by construction
    conference = p.sub(body, "conference")
    meta = p.sub(conference, "event_metadata")
    p.sub(meta, "conference_name", event.name)
    if event.acronym:
        p.sub(meta, "conference_acronym", event.acronym)
    if event.location:
        p.sub(meta, "conference_location", event.location)
    if event.start_date or event.end_date:
        p.sub(meta, "conference_date", **_conference_dates(event.start_date, event.end_date))
    proceedings = p.sub(conference, "proceedings_metadata", **p.language(work))
    p.sub(proceedings, "proceedings_title", container.title)
    p.publisher(proceedings, work.publisher)
    p.date(proceedings, "publication_date", work.publication_date)
    p.isbn_or_none(proceedings, work)
    paper = p.sub(conference, "conference_paper", publication_type="full_text", **p.language(work))
    p.contributors(paper, p.deposited(work.contributors))
    p.titles(paper, work.title, work.subtitle)
    p.abstract(paper, work)
    p.date(paper, "publication_date", work.publication_date)
    p.pages(paper, work)
    p.programs(paper, work)
    p.doi_data(paper, work, stamp)


def _conference_dates(start: str | None, end: str | None) -> dict[str, str]:
    attrs: dict[str, Any] = {}
    for prefix, value in (("start", start), ("end", end)):
        for name, part in zip(("year", "month", "day"), (value or "").split("-"), strict=False):
            if part:
                attrs[f"{prefix}_{name}"] = part
    return attrs


def _dissertation(body: etree._Element, work: Work, stamp: int | None) -> None:
    assert work.publication_date is not None  # noqa: S101 - narrows a type, holds by construction
    assert work.publisher is not None  # noqa: S101 - narrows a type, holds by construction
    thesis = p.sub(body, "dissertation", publication_type="full_text", **p.language(work))
    p.contributors(thesis, p.deposited(work.contributors))
    p.titles(thesis, work.title, work.subtitle)
    p.abstract(thesis, work)
    p.date(thesis, "approval_date", work.publication_date)
    p.sub(p.sub(thesis, "institution"), "institution_name", work.publisher)
    if work.container and work.container.isbn:
        p.sub(thesis, "isbn", work.container.isbn)
    p.programs(thesis, work)
    p.doi_data(thesis, work, stamp)


def _peer_review(body: etree._Element, work: Work, stamp: int | None) -> None:
    review = work.review
    assert review is not None  # noqa: S101 - narrows a type, holds by construction
    assert work.publication_date is not None  # noqa: S101 - narrows a type, holds by construction
    attrs: dict[str, str] = {"stage": review.stage or "", "type": review.type or ""}
    if review.recommendation:
        attrs["recommendation"] = review.recommendation
    if review.revision_round is not None:
        attrs["revision-round"] = str(review.revision_round)
    element = p.sub(body, "peer_review", **attrs, **p.language(work))
    p.contributors(element, p.deposited(work.contributors))
    p.titles(element, work.title, work.subtitle)
    p.date(element, "review_date", work.publication_date, media_type=None)
    # <peer_review> has no funding or abstract; rel:program (required) carries the Reviews
    # relation to the reviewed work with every other relation.
    p.programs(element, work, funding=False)
    p.doi_data(element, work, stamp)


def _component(body: etree._Element, work: Work, stamp: int | None) -> None:
    parent = component_parent(work)
    assert parent is not None  # noqa: S101 - narrows a type, holds by construction
    parent_doi, relation = parent
    holder = p.sub(body, "sa_component", parent_doi=parent_doi)
    component = p.sub(
        p.sub(holder, "component_list"), "component", parent_relation=relation,
        **p.language(work),
    )  # fmt: skip
    p.titles(component, work.title, work.subtitle)
    p.contributors(component, p.deposited(work.contributors))
    if work.publication_date:
        p.date(component, "publication_date", work.publication_date)
    if work.abstract:
        p.sub(component, "description", " ".join(work.abstract.split()), **p.language(work))
    # A component takes a licence (ai:program) but neither funding nor relations.
    p.programs(component, work, funding=False, relations=False)
    p.doi_data(component, work, stamp)


_BUILDERS: dict[str, Callable[[etree._Element, Work, int | None], None]] = {
    "journal_article": _journal_article,
    "posted_content": _posted_content,
    "dataset": _dataset,
    "report_paper": _report,
    "book": _book,
    "book_chapter": _book_chapter,
    "conference_paper": _conference_paper,
    "dissertation": _dissertation,
    "peer_review": _peer_review,
    "sa_component": _component,
}
