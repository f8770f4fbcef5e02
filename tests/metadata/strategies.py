"""Hypothesis strategies building valid Works of every type: unicode text, very long titles,
many contributors, organisations as authors, and every optional field sometimes missing."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from worker.metadata.types import ContributorRole, WorkType
from worker.metadata.work import Work, validate_work
from worker.pids.identifiers import orcid_check_digit, ror_checksum

_LETTERS = st.characters(categories=("Lu", "Ll", "Lo"), exclude_characters="\ufffe\uffff")
# Free text: any printable unicode (letters, marks, numbers, punctuation, symbols, spaces).
_PRINTABLE = st.characters(
    categories=("L", "M", "N", "P", "S", "Zs"), exclude_characters="\ufffe\uffff"
)


def text(min_size: int = 1, max_size: int = 80) -> st.SearchStrategy[str]:
    return st.text(_PRINTABLE, min_size=min_size, max_size=max_size).filter(lambda s: s.strip())


def name_part(max_size: int = 25) -> st.SearchStrategy[str]:
    """A name as people have them: letters, with the odd space, hyphen or apostrophe."""
    word = st.text(_LETTERS, min_size=1, max_size=12)
    return st.lists(word, min_size=1, max_size=3).flatmap(
        lambda words: st.sampled_from([" ", "-", "'"]).map(lambda sep: sep.join(words)[:max_size])
    )


@st.composite
def orcids(draw: st.DrawFn) -> str:
    base = "".join(str(draw(st.integers(0, 9))) for _ in range(15))
    full = base + orcid_check_digit(base)
    return "-".join(full[i : i + 4] for i in range(0, 16, 4))


@st.composite
def rors(draw: st.DrawFn) -> str:
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    body = "".join(draw(st.sampled_from(alphabet)) for _ in range(6))
    return f"https://ror.org/0{body}{ror_checksum(body)}"


@st.composite
def dois(draw: st.DrawFn, prefix: str | None = None) -> str:
    prefix = prefix or f"10.{draw(st.integers(1000, 99999))}"
    suffix = draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789-._;()/:", min_size=1, max_size=30))
    return f"{prefix}/{draw(st.sampled_from('abcdefgh'))}{suffix}"


@st.composite
def dates(draw: st.DrawFn, low: int = 1900, high: int = 2100) -> str:
    year = draw(st.integers(low, high))
    precision = draw(st.integers(0, 2))
    if precision == 0:
        return f"{year:04d}"
    month = draw(st.integers(1, 12))
    if precision == 1:
        return f"{year:04d}-{month:02d}"
    return f"{year:04d}-{month:02d}-{draw(st.integers(1, 28)):02d}"


def affiliations() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.fixed_dictionaries({"name": text(max_size=60)}, optional={"ror": rors()}),
        st.fixed_dictionaries({"ror": rors()}),
    )


def persons(roles: list[ContributorRole]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"family": name_part(), "role": st.sampled_from(roles)},
        optional={
            "given": name_part(),
            "orcid": orcids(),
            "affiliations": st.lists(affiliations(), max_size=2),
            "sequence": st.sampled_from(["first", "additional"]),
        },
    )


def organizations(roles: list[ContributorRole]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"name": text(max_size=60), "type": st.just("organization"), "role": st.sampled_from(roles)}
    )


def contributors(min_authors: int = 0) -> st.SearchStrategy[list[dict[str, Any]]]:
    roles = list(ContributorRole)
    authors = st.lists(
        st.one_of(persons([ContributorRole.AUTHOR]), organizations([ContributorRole.AUTHOR])),
        min_size=min_authors,
        max_size=4,
    )
    others = st.lists(st.one_of(persons(roles), organizations(roles)), max_size=3)
    many = st.lists(persons([ContributorRole.AUTHOR]), min_size=40, max_size=45)
    return st.one_of(
        st.tuples(authors, others).map(lambda pair: pair[0] + pair[1]),
        many,  # a large consortium paper
    )


def _short(max_size: int) -> st.SearchStrategy[str]:
    return st.text("0123456789ivxlcdmABCe", min_size=1, max_size=max_size)


def containers() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"title": text(max_size=120)},
        optional={
            "issn": st.sampled_from(["0317-8471", "2049-3630", "1234-5679"]),
            "eissn": st.sampled_from(["0028-0836", "1476-4687"]),
            "isbn": st.sampled_from(["9783161484100", "0306406152", "978-0-306-40615-7"]),
            "volume": _short(6),
            "issue": _short(4),
            "pages": st.tuples(st.integers(1, 999), st.integers(0, 99)).map(
                lambda p: f"{p[0]}-{p[0] + p[1]}" if p[1] else str(p[0])
            ),
        },
    )


def events() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"name": text(min_size=3, max_size=80).filter(lambda s: len(s.strip()) >= 3)},
        optional={
            "acronym": _short(8),
            "location": text(min_size=2, max_size=40).filter(lambda s: len(s.strip()) >= 2),
            "start_date": dates(),
            "end_date": dates(),
        },
    )


_FUNDER_IDS = [
    "10.13039/501100000780",
    "https://doi.org/10.13039/100000001",
    "https://ror.org/029chgv08",
]


def fundings() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"funder_name": text(max_size=60)},
        optional={
            "funder_id": st.sampled_from(_FUNDER_IDS),
            "award_number": _short(12),
            "award_title": text(max_size=60),
            "award_uri": st.just("https://cordis.example.org/project/1"),
        },
    )


def related() -> st.SearchStrategy[dict[str, Any]]:
    relation = st.sampled_from(
        [
            "IsSupplementTo",
            "References",
            "IsPartOf",
            "IsVersionOf",
            "Cites",
            "HasMetadata",
            "IsNewVersionOf",
            "Other",
        ]
    )
    return st.one_of(
        st.fixed_dictionaries(
            {"identifier": dois(), "identifier_type": st.just("DOI"), "relation_type": relation}
        ),
        st.fixed_dictionaries(
            {
                "identifier": st.just("https://example.org/thing"),
                "identifier_type": st.just("URL"),
                "relation_type": relation,
            }
        ),
        st.fixed_dictionaries(
            {
                "identifier": st.just("arXiv:2101.00001"),
                "identifier_type": st.just("arXiv"),
                "relation_type": relation,
            }
        ),
    )


_LICENSES = [
    {"url": "https://creativecommons.org/licenses/by/4.0/", "identifier": "CC-BY-4.0"},
    {"url": "https://opensource.org/licenses/MIT", "name": "MIT License"},
]


@st.composite
def work_dicts(
    draw: st.DrawFn, work_type: WorkType | None = None, *, complete: bool = False
) -> dict[str, Any]:
    """A Work as JSON. ``complete``: with everything every target requires (DOI, URL,
    publisher, date, an author, container and event), so every renderer must succeed."""
    kind = work_type or draw(st.sampled_from(list(WorkType)))
    long_title = st.text(_PRINTABLE, min_size=1001, max_size=1100).filter(lambda s: s.strip())
    data: dict[str, Any] = {
        "id": draw(text(max_size=40)),
        "type": kind.value,
        "title": draw(st.one_of(text(max_size=200), long_title)),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "subtitle": text(max_size=100),
        "abstract": st.one_of(
            text(max_size=300), st.text(_PRINTABLE, min_size=5001, max_size=5100)
        ),
        "language": st.sampled_from(["en", "de", "pt-BR", "zh-TW", "he", "xx", "tlh"]),
        "resource_version": _short(6),
        "keywords": st.lists(text(max_size=30), max_size=4),
        "funding": st.lists(fundings(), max_size=2),
        "related_identifiers": st.lists(related(), max_size=3),
        "license": st.sampled_from(_LICENSES),
        "dates": st.lists(
            st.fixed_dictionaries(
                {"date": dates(), "type": st.sampled_from(["Created", "Updated", "Collected"])}
            ),
            max_size=2,
        ),
        "descriptions": st.lists(
            st.fixed_dictionaries(
                {"text": text(max_size=80), "type": st.sampled_from(["Methods", "Other"])}
            ),
            max_size=2,
        ),
        "alternative_titles": st.lists(
            st.fixed_dictionaries(
                {
                    "title": text(max_size=60),
                    "type": st.just("TranslatedTitle"),
                    "language": st.sampled_from(["fr", "de"]),
                }
            ),
            max_size=1,
        ),
        "version": st.integers(1, 10**6),
    }
    required = {
        "doi": dois(),
        "url": st.sampled_from(
            ["https://example.org/w/1", "http://repo.example.edu/handle/1/2?x=ü"]
        ),
        "publisher": text(max_size=100),
        "publication_date": dates(1400 if not complete else 1900, 2100),
        "container": containers(),
        "event": events(),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            data[key] = draw(strategy)
    for key, strategy in required.items():
        if complete or draw(st.booleans()):
            data[key] = draw(strategy)
    data["contributors"] = draw(contributors(min_authors=1 if complete else 0))
    if kind == WorkType.PEER_REVIEW and (complete or draw(st.booleans())):
        data["review"] = draw(reviews())
        data["publication_date"] = draw(dates(1900, 2100).filter(lambda d: len(d) == 10))
        reviewed = {
            "identifier": draw(dois()),
            "identifier_type": "DOI",
            "relation_type": "Reviews",
        }
        data["related_identifiers"] = [reviewed, *data.get("related_identifiers", [])]
    if kind == WorkType.COMPONENT and complete:
        parent = {"identifier": draw(dois()), "identifier_type": "DOI", "relation_type": "IsPartOf"}
        data["related_identifiers"] = [parent, *data.get("related_identifiers", [])]
    return data


def reviews() -> st.SearchStrategy[dict[str, Any]]:
    """A peer review's details with everything Crossref requires (stage and type)."""
    return st.fixed_dictionaries(
        {
            "stage": st.sampled_from(["pre-publication", "post-publication"]),
            "type": st.sampled_from(["referee-report", "editor-report", "aggregate"]),
        },
        optional={
            "recommendation": st.sampled_from(["accept", "major-revision"]),
            "revision_round": st.integers(0, 5),
        },
    )


def works(work_type: WorkType | None = None, *, complete: bool = False) -> st.SearchStrategy[Work]:
    return work_dicts(work_type, complete=complete).map(validate_work)


# --- what DataCite kernel 4.7 can say beyond a citation (tests/metadata/test_fidelity.py) -----

_LANGS = st.sampled_from(["en", "de", "fr", "pt-BR", "ja", "es"])
_URIS = st.sampled_from(["https://example.org/scheme", "https://id.loc.gov/authorities/x1"])


def _with(required: dict[str, Any], **optional: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required, optional=optional)


def subjects() -> st.SearchStrategy[dict[str, Any]]:
    return _with(
        {"subject": text(max_size=40), "scheme": st.sampled_from(["FOS", "DDC", "MeSH"])},
        scheme_uri=_URIS, value_uri=_URIS, classification_code=_short(6), language=_LANGS,
    )  # fmt: skip


def rights() -> st.SearchStrategy[dict[str, Any]]:
    return _with(
        {"statement": text(max_size=40)},
        uri=st.just("https://example.org/rights"), identifier=_short(8),
        identifier_scheme=st.just("Local"), language=_LANGS,
    )  # fmt: skip


def _coordinate(limit: int) -> st.SearchStrategy[float]:
    return st.floats(-limit, limit, allow_nan=False, allow_infinity=False, width=32)


def _point() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"longitude": _coordinate(180), "latitude": _coordinate(90)})


def geo_locations() -> st.SearchStrategy[dict[str, Any]]:
    box = st.fixed_dictionaries({"west": _coordinate(180), "east": _coordinate(180),
                                 "south": _coordinate(90), "north": _coordinate(90)})  # fmt: skip
    polygon = st.lists(_point(), min_size=3, max_size=5).map(
        lambda points: {"points": [*points, points[0]]}
    )
    return _with(
        {"place": text(max_size=40)},
        point=_point(), box=box, polygons=st.lists(polygon, max_size=2),
    )  # fmt: skip


def related_items() -> st.SearchStrategy[dict[str, Any]]:
    name = _with({"name": name_part()}, name_type=st.just("Personal"), language=_LANGS)
    return _with(
        {
            "type": st.sampled_from(["Journal", "Book", "Instrument", "Dataset", "Award"]),
            "relation_type": st.sampled_from(["IsPublishedIn", "References", "IsSupplementTo"]),
        },
        relation_type_information=text(max_size=30),
        identifier=_with({"identifier": dois(), "type": st.just("DOI")}),
        creators=st.lists(name, max_size=2),
        titles=st.lists(_with({"title": text(max_size=40)}, language=_LANGS), max_size=2),
        publication_year=st.integers(1900, 2100).map(str),
        volume=_short(4), issue=_short(3), number=_short(3),
        number_type=st.sampled_from(["Article", "Chapter", "Report", "Other"]),
        first_page=_short(4), last_page=_short(4), publisher=text(max_size=30),
        edition=_short(3),
        contributors=st.lists(
            name.map(lambda n: {**n, "contributor_type": "Editor"}), max_size=1
        ),
    )  # fmt: skip


def kernel_fields() -> st.SearchStrategy[dict[str, Any]]:
    """The Work fields for what only DataCite holds in full, each sometimes present."""
    related_full = _with(
        {"identifier": dois(), "identifier_type": st.just("DOI"),
         "relation_type": st.sampled_from(["Cites", "IsDerivedFrom", "HasTranslation"])},
        resource_type_general=st.sampled_from(["Instrument", "StudyRegistration", "Dataset"]),
        relation_type_information=text(max_size=40),
    )  # fmt: skip
    return st.fixed_dictionaries(
        {},
        optional={
            "title_language": _LANGS,
            "abstract_language": _LANGS,
            "resource_type_general": st.sampled_from(
                ["Instrument", "StudyRegistration", "Award", "Project", "Poster", "Standard"]
            ),
            "subjects": st.lists(subjects(), max_size=3),
            "rights": st.lists(rights(), max_size=2),
            "alternate_identifiers": st.lists(
                _with({"identifier": _short(10), "type": st.just("Local accession number")}),
                max_size=2,
            ),
            "related_items": st.lists(related_items(), max_size=2),
            "geo_locations": st.lists(geo_locations(), max_size=2),
            "sizes": st.lists(text(max_size=20), max_size=2),
            "formats": st.lists(st.sampled_from(["text/csv", "application/pdf"]), max_size=2),
            "related_identifiers": st.lists(related_full, max_size=2),
            "descriptions": st.lists(
                _with(
                    {
                        "text": text(max_size=80),
                        "type": st.sampled_from(["Abstract", "Methods"]),
                        "language": _LANGS,
                    }
                ),
                max_size=2,
            ),
            "publisher_identifier": _with(
                {"identifier": rors(), "scheme": st.just("ROR")},
                scheme_uri=st.just("https://ror.org/"),
            ),
        },
    )
