"""Behaviour of each renderer beyond schema validity: requirement rules, limits, batches,
escaping, stable keys and hashes."""

from __future__ import annotations

import copy
import re

import pytest
from lxml import etree

from tests.metadata.conftest import assert_xml_valid
from tests.metadata.examples import EXAMPLES
from worker.metadata.errors import MissingFields, Unrepresentable
from worker.metadata.hashing import crossref_record_hash, payload_hash
from worker.metadata.render.bibtex import citation_key, escape, render_bibtex
from worker.metadata.render.crossref_xml import render_crossref_deposit
from worker.metadata.render.csl import render_csl
from worker.metadata.render.datacite_json import render_datacite_attributes
from worker.metadata.render.datacite_xml import render_datacite_xml
from worker.metadata.render.orcid_json import (
    orcid_language,
    orcid_truncations,
    render_orcid_bulk,
    render_orcid_work,
)
from worker.metadata.render.ris import render_ris
from worker.metadata.work import validate_work

DC = "http://datacite.org/schema/kernel-4"
HEAD = {
    "doi_batch_id": "batch-0001",
    "depositor_name": "pidsync",
    "depositor_email": "pid@example.org",
    "registrant": "Example",
}


def work(name: str, **changes):
    data = copy.deepcopy(EXAMPLES[name])
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return validate_work(data)


# --- DataCite -----------------------------------------------------------------------------


def test_datacite_names_every_missing_field():
    bare = validate_work({"id": "1", "type": "dataset", "title": "T"})
    with pytest.raises(MissingFields) as info:
        render_datacite_attributes(bare)
    assert info.value.target == "datacite"
    assert info.value.fields == [
        "doi",
        "url",
        "publisher",
        "publication_date",
        "contributors",
    ]
    # the XML carries no URL, so it does not need one
    with pytest.raises(MissingFields) as info:
        render_datacite_xml(bare)
    assert "url" not in info.value.fields
    assert (
        "contributors",
        "missing: at least one author (or, for an edited work, an editor) is needed",
    ) in info.value.problems


def test_datacite_draft_needs_only_the_doi():
    attrs = render_datacite_attributes(
        validate_work({"id": "1", "type": "dataset", "title": "T", "doi": "10.5555/X"}), draft=True
    )
    assert attrs == {"doi": "10.5555/x", "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Dataset"},
                     "titles": [{"title": "T"}]}  # fmt: skip


def test_datacite_attributes_shape():
    attrs = render_datacite_attributes(work("journal-article"))
    creator = attrs["creators"][0]
    assert creator["name"] == "Carberry, Josiah"
    assert creator["nameIdentifiers"] == [
        {
            "nameIdentifier": "https://orcid.org/0000-0002-1825-0097",
            "nameIdentifierScheme": "ORCID",
            "schemeUri": "https://orcid.org",
        }
    ]
    assert creator["affiliation"][0]["affiliationIdentifierScheme"] == "ROR"
    assert attrs["creators"][2] == {"name": "CERN", "nameType": "Organizational"}
    assert attrs["titles"][1] == {
        "title": "Lessons from a metadata registry",
        "titleType": "Subtitle",
    }
    assert attrs["publicationYear"] == "2021"
    assert {"date": "2021-03-15", "dateType": "Issued"} in attrs["dates"]
    assert attrs["fundingReferences"][0]["funderIdentifierType"] == "Crossref Funder ID"
    assert (
        attrs["fundingReferences"][0]["funderIdentifier"] == "https://doi.org/10.13039/501100000780"
    )
    assert attrs["types"] == {
        "resourceTypeGeneral": "JournalArticle",
        "resourceType": "Journal article",
    }
    assert "event" not in attrs  # the caller chooses publish/register/hide


def test_datacite_ror_funder_and_editor_contributor():
    attrs = render_datacite_attributes(work("dataset"))
    assert attrs["fundingReferences"][0]["funderIdentifierType"] == "ROR"
    chapter = render_datacite_attributes(work("book-chapter"))
    assert chapter["contributors"][0]["contributorType"] == "Editor"
    assert [c["name"] for c in chapter["creators"]] == ["García-Müller, Sofía"]


def test_datacite_journal_is_the_related_item_it_is_published_in(datacite_xsd):
    # Given a journal article with journal title, ISSNs, volume, issue and pages
    article = work("journal-article")
    # Then DataCite gets them as the relatedItem the article IsPublishedIn
    attrs = render_datacite_attributes(article)
    assert attrs["relatedItems"] == [{
        "relationType": "IsPublishedIn", "relatedItemType": "Journal",
        "relatedItemIdentifier": {"relatedItemIdentifier": "0317-8471",
                                  "relatedItemIdentifierType": "ISSN"},
        "titles": [{"title": "Journal of Metadata Practice"}],
        "volume": "12", "issue": "3", "firstPage": "101", "lastPage": "118",
    }]  # fmt: skip
    assert "container" not in attrs  # DataCite derives its read-only container itself
    # And the XML says the same, valid against the 4.7 schema
    xml = render_datacite_xml(article)
    assert_xml_valid(datacite_xsd, xml)
    item = etree.fromstring(xml.encode()).find(f"{{{DC}}}relatedItems/{{{DC}}}relatedItem")
    assert item is not None
    assert (item.get("relationType"), item.get("relatedItemType")) == ("IsPublishedIn", "Journal")
    assert [(etree.QName(c).localname, c.text) for c in item if c.text] == [
        ("relatedItemIdentifier", "0317-8471"), ("volume", "12"), ("issue", "3"),
        ("firstPage", "101"), ("lastPage", "118"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "container", "expected"),
    [
        # a chapter's book is known by its ISBN first
        ("book-chapter", {"title": "B", "isbn": "0-306-40615-2", "issn": "0317-8471"},
         {"relatedItemType": "Book", "relatedItemIdentifier": {
             "relatedItemIdentifier": "0306406152", "relatedItemIdentifierType": "ISBN"}}),
        ("journal-article", {"title": "J", "eissn": "2049-3630"},
         {"relatedItemType": "Journal", "relatedItemIdentifier": {
             "relatedItemIdentifier": "2049-3630", "relatedItemIdentifierType": "EISSN"}}),
        ("conference-paper", {"title": "P"}, {"relatedItemType": "ConferenceProceeding"}),
        ("dataset", {"title": "A database"}, {"relatedItemType": "Collection"}),
    ],
)  # fmt: skip
def test_datacite_related_item_type_and_identifier(name, container, expected):
    item = render_datacite_attributes(work(name, container=container))["relatedItems"][0]
    assert {**item, **expected} == item


def test_datacite_own_isbn_is_an_alternate_identifier_not_a_container():
    attrs = render_datacite_attributes(work("book"))
    assert attrs["identifiers"] == [{"identifier": "9783161484100", "identifierType": "ISBN"}]
    assert "relatedItems" not in attrs
    assert '<alternateIdentifier alternateIdentifierType="ISBN">9783161484100<' in (
        render_datacite_xml(work("book"))
    )


def test_datacite_edited_book_has_its_editors_as_creators(datacite_xsd):
    edited = work("edited-book")
    attrs = render_datacite_attributes(edited)
    assert [c["name"] for c in attrs["creators"]] == ["Editor, Ann"]
    assert [(c["name"], c["contributorType"]) for c in attrs["contributors"]] == [
        ("Editor, Ann", "Editor")
    ]
    assert_xml_valid(datacite_xsd, render_datacite_xml(edited))
    # authors, where there are any, are the creators (the editors stay contributors only)
    chapter = render_datacite_attributes(work("book-chapter"))
    assert [c["name"] for c in chapter["creators"]] == ["García-Müller, Sofía"]
    # a translator alone is no creator
    with pytest.raises(MissingFields):
        render_datacite_xml(
            work("edited-book", contributors=[{"family": "T", "role": "translator"}])
        )


def test_datacite_organisation_as_creator_carries_its_ror(datacite_xsd):
    cern = {"name": "CERN", "ror": "01ggx4157"}
    attrs = render_datacite_attributes(work("report", contributors=[cern]))
    assert attrs["creators"] == [{"name": "CERN", "nameType": "Organizational", "nameIdentifiers": [
        {"nameIdentifier": "https://ror.org/01ggx4157", "nameIdentifierScheme": "ROR",
         "schemeUri": "https://ror.org"}]}]  # fmt: skip
    assert_xml_valid(datacite_xsd, render_datacite_xml(work("report", contributors=[cern])))


# --- Crossref -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "removed", "field"),
    [
        ("journal-article", "container", "container.title"),
        ("book-chapter", "container", "container.title"),
        ("conference-paper", "event", "event.name"),
        ("dissertation", "publisher", "publisher"),
        ("book", "publisher", "publisher"),
        ("preprint", "publication_date", "publication_date"),
        ("dataset", "url", "url"),
    ],
)
def test_crossref_names_what_each_kind_needs(name, removed, field):
    with pytest.raises(MissingFields) as info:
        render_crossref_deposit([work(name, **{removed: None})], timestamps=1, **HEAD)
    assert field in info.value.fields


def test_crossref_refuses_values_its_schema_cannot_hold():
    data = copy.deepcopy(EXAMPLES["journal-article"])
    data["contributors"][0]["family"] = "???"
    data["contributors"][1]["given"] = "G" * 61
    data["container"]["volume"] = "v" * 33
    data["publication_date"] = "1200"
    with pytest.raises(Unrepresentable) as info:
        render_crossref_deposit([validate_work(data)], timestamps=1, **HEAD)
    paths = [path for path, _ in info.value.problems]
    assert paths == [
        "container.volume",
        "publication_date",
        "contributors[0].family",
        "contributors[1].given",
    ]


def test_crossref_batch_rejects_mixed_prefixes_and_kinds():
    article = work("journal-article")
    other_prefix = work("journal-article", doi="10.5555/other")
    dataset = work("dataset", doi="10.32013/data")
    with pytest.raises(Unrepresentable) as info:
        render_crossref_deposit([article, other_prefix, dataset], timestamps=1, **HEAD)
    assert dict(info.value.problems) == {
        "works[1].doi": "prefix differs from 10.32013 (one per file)",
        "works[2].type": "not a <journal> record (one kind per file)",
    }


def test_crossref_timestamps_per_doi(crossref_xsd):
    first = work("journal-article")
    second = work("journal-article", doi="10.32013/abc-4712", id="2")
    stamps = {first.doi: 20240101000000001, second.doi: 20240101000000007}
    xml = render_crossref_deposit([first, second], timestamps=stamps, **HEAD)
    assert_xml_valid(crossref_xsd, xml)
    root = etree.fromstring(xml.encode())
    ns = {"c": "http://www.crossref.org/schema/5.3.1"}
    assert root.findtext("c:head/c:timestamp", namespaces=ns) == "20240101000000007"
    assert [e.text for e in root.iterfind(".//c:doi_data/c:timestamp", ns)] == [
        "20240101000000001",
        "20240101000000007",
    ]
    with pytest.raises(Unrepresentable, match="timestamps"):
        render_crossref_deposit([first, second], timestamps={first.doi: 1}, **HEAD)


def test_crossref_head_limits():
    with pytest.raises(Unrepresentable) as info:
        render_crossref_deposit(
            [work("report")],
            timestamps=1,
            **{**HEAD, "doi_batch_id": "x", "depositor_email": "a@b"},
        )
    assert [p for p, _ in info.value.problems] == ["doi_batch_id", "depositor_email"]


def test_crossref_chapter_puts_editors_on_the_book():
    xml = render_crossref_deposit([work("book-chapter")], timestamps=1, **HEAD)
    book_meta, chapter = xml.split("<content_item")
    assert "Editor" in book_meta and 'contributor_role="editor"' in book_meta
    assert "García-Müller" in chapter and "Editor" not in chapter
    assert (
        '<isbn media_type="print">0306406152</isbn>' in book_meta
        or "<isbn>0306406152</isbn>" in book_meta
    )


def test_crossref_ror_funder_goes_by_name_only():
    xml = render_crossref_deposit([work("dataset")], timestamps=1, **HEAD)
    assert (
        '<fr:assertion name="funder_name">Wellcome Trust<fr:assertion name="award_number">'
        not in xml
    )
    assert "ror.org/029chgv08" not in xml
    assert "Wellcome Trust" in xml


# --- ORCID --------------------------------------------------------------------------------


def test_orcid_self_ids_always_include_source_work_id():
    body = render_orcid_work(work("journal-article"), source="pure.example.org")
    ids = body["external-ids"]["external-id"]
    assert ids[0] == {"external-id-type": "doi", "external-id-value": "10.32013/abc-4711",
                      "external-id-url": {"value": "https://doi.org/10.32013/abc-4711"}, "external-id-relationship": "self"}  # fmt: skip
    assert ids[1] == {"external-id-type": "source-work-id", "external-id-value": "pure.example.org:pure:article:4711",
                      "external-id-relationship": "self"}  # fmt: skip
    assert ids[2]["external-id-relationship"] == "part-of"
    no_doi = render_orcid_work(work("other"), source="s")
    assert [i["external-id-type"] for i in no_doi["external-ids"]["external-id"]] == [
        "source-work-id"
    ]


def test_orcid_contributors_roles_sequence_and_dates():
    body = render_orcid_work(work("book-chapter"), source="s")
    contributors = body["contributors"]["contributor"]
    assert contributors[0]["contributor-orcid"]["path"] == "0000-0002-1694-233X"
    assert contributors[0]["contributor-attributes"] == {
        "contributor-sequence": "first",
        "contributor-role": "author",
    }
    assert contributors[1]["contributor-attributes"] == {
        "contributor-sequence": "first",
        "contributor-role": "editor",
    }
    assert body["publication-date"] == {"year": {"value": "2019"}, "month": {"value": "06"}}
    assert body["journal-title"] == {"value": "Identifiers in Context"}
    assert body["citation"]["citation-type"] == "bibtex"
    assert body["type"] == "book-chapter"


def test_orcid_truncates_to_its_limits():
    long = validate_work({"id": "1", "type": "other", "title": "word " * 300, "abstract": "x" * 6000,
                          "contributors": [{"name": "N" * 200}], "publication_date": "1850"})  # fmt: skip
    body = render_orcid_work(long, source="s")
    assert len(body["title"]["title"]["value"]) <= 1000
    assert body["title"]["title"]["value"].endswith("\u2026")
    assert len(body["short-description"]) == 5000
    assert len(body["contributors"]["contributor"][0]["credit-name"]["value"]) == 150
    assert "publication-date" not in body  # ORCID takes years 1900-2100 only
    # and what was cut or left out can be said
    assert orcid_truncations(long) == [
        "title: 1499 characters cut to 1000 (ORCID's limit)",
        "abstract: 6000 characters cut to 5000 (ORCID's limit)",
        "contributors[0] (credit-name): 200 characters cut to 150 (ORCID's limit)",
        "publication_date: 1850 left out (ORCID takes years 1900-2100)",
    ]
    assert orcid_truncations(work("journal-article")) == []


def test_orcid_bulk_limit_and_put_code():
    works = [work("other", id=str(i)) for i in range(101)]
    assert len(render_orcid_bulk(works[:100], source="s")["bulk"]) == 100
    with pytest.raises(Unrepresentable, match="at most 100"):
        render_orcid_bulk(works, source="s")
    assert render_orcid_work(works[0], source="s", put_code=42)["put-code"] == 42


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("en", "en"),
        ("pt-BR", "pt"),
        ("he", "iw"),
        ("zh", "zh_CN"),
        ("zh-TW", "zh_TW"),
        ("tlh", None),
        (None, None),
    ],
)
def test_orcid_language_codes(tag, code):
    assert orcid_language(tag) == code


# --- citations ----------------------------------------------------------------------------


def test_bibtex_escapes_and_keys():
    w = validate_work({"id": "1", "type": "journal-article", "title": "50% of R&D {costs} $5 #1 a_b ~x ^y \\z",
                       "publication_date": "2020", "contributors": [{"family": "Ødegård", "given": "Åse"}, {"name": "Smith and Sons"}],
                       "doi": "10.1000/a_b{c}"})  # fmt: skip
    entry = render_bibtex(w)
    assert (
        r"50\% of R\&D \{costs\} \$5 \#1 a\_b \textasciitilde{}x \textasciicircum{}y \textbackslash{}z"
        in entry
    )
    assert "author = {Ødegård, Åse and {Smith and Sons}}" in entry
    assert "doi = {10.1000/a_b%7Bc%7D}" in entry  # verbatim field: braces kept balanced
    assert citation_key(w) == "odegard202050"
    assert entry.startswith("@article{odegard202050,")
    assert citation_key(w) == citation_key(validate_work(w.model_dump()))
    assert escape("a\n  b") == "a b"


def test_ris_and_csl_shapes():
    ris = render_ris(work("journal-article"))
    lines = ris.splitlines()
    assert lines[0] == "TY  - JOUR" and lines[-1] == "ER  - "
    assert "SP  - 101" in lines and "EP  - 118" in lines and "DA  - 2021/03/15/" in lines
    assert (
        "AB  - We describe how a registry uses its own services. Results are mixed & instructive."
        in lines
    )
    item = render_csl(work("journal-article"))
    assert item["issued"] == {"date-parts": [[2021, 3, 15]]}
    assert item["author"][2] == {"literal": "CERN"}
    assert item["page"] == "101-118"


# --- hashes -------------------------------------------------------------------------------


def test_payload_hash_is_stable_and_sensitive():
    attrs = render_datacite_attributes(work("dataset"))
    reordered = dict(reversed(list(attrs.items())))
    assert payload_hash(attrs) == payload_hash(reordered)
    assert re.fullmatch(r"[0-9a-f]{64}", payload_hash(attrs))
    changed = render_datacite_attributes(work("dataset", title="Another title"))
    assert payload_hash(changed) != payload_hash(attrs)
    xml = render_datacite_xml(work("dataset"))
    assert payload_hash(xml) == payload_hash(xml.replace("\n<resource", "\n  <resource", 1))
    assert crossref_record_hash(work("report")) == crossref_record_hash(work("report"))
    assert crossref_record_hash(work("report")) != crossref_record_hash(
        work("report", title="Changed")
    )
