"""Crossref 5.3.1: one Work per content type a CRIS produces → a deposit valid against the
official XSD, with the elements that make it that kind of record; what a kind needs is named
(at render and at intake), and what it cannot hold is a note."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.metadata.conftest import assert_xml_valid
from tests.metadata.examples import EXAMPLES
from worker.metadata.errors import MissingFields, Unrepresentable
from worker.metadata.losses import losses
from worker.metadata.render.crossref_xml import render_crossref_deposit
from worker.metadata.requirements import registration_problems
from worker.metadata.work import validate_work

NS = {
    "c": "http://www.crossref.org/schema/5.3.1",
    "rel": "http://www.crossref.org/relations.xsd",
    "jats": "http://www.ncbi.nlm.nih.gov/JATS1",
}


def _deposit(work_json: dict) -> etree._Element:
    work = validate_work(work_json)
    xml = render_crossref_deposit(
        [work],
        doi_batch_id="types-batch",
        timestamps={work.doi: 20240101000000000},
        depositor_name="pidsync",
        depositor_email="pid@example.org",
        registrant="Example University",
    )
    return etree.fromstring(xml.encode())


def _one(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NS)
    assert len(found) == 1, f"{path}: {len(found)} matches"
    return found[0]


# Example name → (the record element, where the work's own title/DOI sit, type-specific checks)
KINDS = {
    "journal-article": ("c:journal", "c:journal/c:journal_article", {
        "c:journal/c:journal_metadata/c:full_title": "Journal of Metadata Practice",
    }),
    "book": ("c:book[@book_type='monograph']", "c:book/c:book_metadata", {}),
    "edited-book": ("c:book[@book_type='edited_book']", "c:book/c:book_metadata", {}),
    "reference-book": ("c:book[@book_type='reference']", "c:book/c:book_metadata", {
        "c:book/c:book_metadata/c:isbn": "9780306406157",
    }),
    "book-chapter": ("c:book", "c:book/c:content_item[@component_type='chapter']", {}),
    "conference-paper": ("c:conference", "c:conference/c:conference_paper", {}),
    "report": ("c:report-paper", "c:report-paper/c:report-paper_metadata", {}),
    "dissertation": ("c:dissertation", "c:dissertation", {}),
    "preprint": ("c:posted_content[@type='preprint']", "c:posted_content", {}),
    "working-paper": ("c:posted_content[@type='working_paper']", "c:posted_content", {}),
    "dataset": ("c:database", "c:database/c:dataset", {}),
    "software": ("c:database", "c:database/c:dataset[@dataset_type='record']", {}),
    "peer-review": (
        "c:peer_review[@stage='pre-publication'][@type='referee-report']",
        "c:peer_review",
        {
            "c:peer_review/c:review_date/c:year": "2021",
            "c:peer_review/c:review_date/c:day": "01",
            "c:peer_review/rel:program/rel:related_item/"
            "rel:inter_work_relation[@relationship-type='isReviewOf']": "10.32013/abc-4711",
        },
    ),
    "component": (
        "c:sa_component[@parent_doi='10.32013/abc-4711']",
        "c:sa_component/c:component_list/c:component[@parent_relation='isPartOf']",
        {},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_content_type_is_a_valid_crossref_record_of_its_kind(name, crossref_xsd):
    # Given a realistic Work of this type
    example = EXAMPLES[name]
    # When it is rendered as a Crossref deposit
    root = _deposit(example)
    # Then the deposit is valid against Crossref 5.3.1
    assert_xml_valid(crossref_xsd, etree.tostring(root, encoding="unicode"))
    record, own, specific = KINDS[name]
    body = _one(root, "c:body")
    _one(body, record)
    # and carries the work's title, its DOI data, and its contributors
    own_element = _one(body, own)
    assert _one(own_element, "c:titles/c:title").text == example["title"]
    assert _one(own_element, "c:doi_data/c:doi").text == example["doi"].lower()
    assert _one(own_element, "c:doi_data/c:resource").text == example["url"]
    surnames = {e.text for e in body.xpath(".//c:person_name/c:surname", namespaces=NS)} | {
        e.text for e in body.xpath(".//c:organization", namespaces=NS)
    }
    for person in example.get("contributors", []):
        if person.get("role") in ("supervisor", "contact", "other"):
            continue  # no Crossref role: a note, checked in test_losses
        assert person.get("family", person.get("name")) in surnames
    # and the elements that make it this kind of record
    for path, text in specific.items():
        assert _one(body, path).text == text


def test_a_peer_review_names_each_thing_crossref_requires():
    # Given a peer review with no stage, no review type and no reviewed work
    bare = {**EXAMPLES["peer-review"], "review": {}, "related_identifiers": []}
    # Then the render names each missing field
    with pytest.raises(MissingFields) as caught:
        _deposit(bare)
    assert set(caught.value.fields) == {
        "review.stage",
        "review.type",
        "related_identifiers[relation_type=Reviews]",
    }


def test_a_related_work_that_is_not_reviewed_does_not_stand_for_the_reviewed_one():
    # A peer review related to a DOI only by Cites has not said what it reviews
    cites = {"identifier": "10.32013/abc-4711", "identifier_type": "DOI", "relation_type": "Cites"}
    work = {**EXAMPLES["peer-review"], "related_identifiers": [cites]}
    with pytest.raises(MissingFields) as caught:
        _deposit(work)
    assert caught.value.fields == ["related_identifiers[relation_type=Reviews]"]


def test_a_review_date_without_a_day_is_refused_with_the_reason():
    work = {**EXAMPLES["peer-review"], "publication_date": "2021-02"}
    with pytest.raises(Unrepresentable) as caught:
        _deposit(work)
    assert caught.value.problems == [
        ("publication_date", "Crossref's review_date needs year, month and day")
    ]


def test_a_component_without_a_parent_doi_is_refused():
    # A URL parent is not a Crossref parent_doi; a DOI related by References is not a parent
    work = {
        **EXAMPLES["component"],
        "related_identifiers": [
            {"identifier": "https://example.org/a", "identifier_type": "URL",
             "relation_type": "IsPartOf"},
            {"identifier": "10.32013/x", "identifier_type": "DOI", "relation_type": "References"},
        ],
    }  # fmt: skip
    with pytest.raises(MissingFields) as caught:
        _deposit(work)
    assert caught.value.fields == ["related_identifiers[relation_type=IsPartOf]"]


@pytest.mark.parametrize(
    ("relation", "parent_relation"),
    [("IsReferencedBy", "isReferencedBy"), ("IsTranslationOf", "isTranslationOf")],
)
def test_a_components_relation_to_its_parent_is_crossrefs_parent_relation(
    relation, parent_relation, crossref_xsd
):
    parent = {
        "identifier": "10.32013/abc-4711",
        "identifier_type": "DOI",
        "relation_type": relation,
    }
    root = _deposit({**EXAMPLES["component"], "related_identifiers": [parent]})
    assert_xml_valid(crossref_xsd, etree.tostring(root, encoding="unicode"))
    component = _one(root, "c:body/c:sa_component/c:component_list/c:component")
    assert component.get("parent_relation") == parent_relation


def test_intake_names_what_a_peer_review_lacks_for_crossref():
    # The intake check (a 422 naming fields) follows the new kinds
    work = validate_work(
        {**EXAMPLES["peer-review"], "review": {"stage": "post-publication"}, "doi": None}
    )
    problems = registration_problems(work, ["10.32013"])
    assert problems == [("review.type", "crossref: missing")]
    component = validate_work({**EXAMPLES["component"], "related_identifiers": []})
    assert registration_problems(component, ["10.32013"]) == [
        ("related_identifiers[relation_type=IsPartOf]", "crossref: missing")
    ]
    complete = validate_work(EXAMPLES["peer-review"])
    assert registration_problems(complete, ["10.32013"]) == []


def test_what_a_peer_review_or_component_cannot_hold_at_crossref_is_a_note():
    funder = {"funder_name": "Wellcome Trust"}
    review = validate_work(
        {**EXAMPLES["peer-review"], "abstract": "Summary of the report.", "funding": [funder]}
    )
    said = {note.path: note.message for note in losses(review, "crossref")}
    assert "abstract" in said and "funding" in said and "publisher" in said
    component = validate_work(
        {
            **EXAMPLES["component"],
            "related_identifiers": [
                *EXAMPLES["component"]["related_identifiers"],
                {"identifier": "10.1234/x", "identifier_type": "DOI", "relation_type": "Cites"},
            ],
        }
    )
    said = {note.path: note.message for note in losses(component, "crossref")}
    assert said["related_identifiers"].startswith("a Crossref component has no relations")
    # and the review details travel nowhere but Crossref: DataCite says so
    assert any(note.path == "review" for note in losses(review, "datacite-xml"))
    assert not any(note.path == "review" for note in losses(review, "crossref-xml"))


def test_a_crossref_rest_peer_review_reaches_the_work_and_deposits_again(crossref_xsd):
    from worker.metadata.adapters.crossref import crossref_message_to_work

    # Given Crossref's REST message for a referee report (one review value it does not define)
    message = {
        "DOI": "10.32013/review.9",
        "type": "peer-review",
        "title": ["Review of: Deep currents"],
        "URL": "https://doi.org/10.32013/review.9",
        "resource": {"primary": {"URL": "https://journal.example.org/reviews/9"}},
        "published": {"date-parts": [[2022, 4, 5]]},
        "author": [{"given": "Ada", "family": "Lovelace", "sequence": "first"}],
        "review": {
            "type": "referee-report",
            "stage": "pre-publication",
            "revision-round": "1",
            "recommendation": "maybe",
            "competing-interest-statement": "None declared",
        },
        "relation": {"is-review-of": [{"id-type": "doi", "id": "10.32013/abc-4711"}]},
    }
    work, problems = crossref_message_to_work(message)
    # Then the Work is a peer review with its stage, type and round, and the reviewed DOI
    assert work.type == "peer-review"
    assert work.review is not None
    assert (work.review.stage, work.review.type, work.review.revision_round) == (
        "pre-publication",
        "referee-report",
        1,
    )
    assert [(r.identifier, r.relation_type) for r in work.related_identifiers] == [
        ("10.32013/abc-4711", "Reviews")
    ]
    # and what the Work cannot hold is said
    assert "review.recommendation: 'maybe' not represented" in problems
    assert "review.competing-interest-statement: not represented" in problems
    # and it deposits at Crossref as a valid peer review again
    root = _deposit(work.model_dump(mode="json", exclude_none=True))
    assert_xml_valid(crossref_xsd, etree.tostring(root, encoding="unicode"))
    review = _one(root, "c:body/c:peer_review")
    assert review.get("revision-round") == "1" and review.get("stage") == "pre-publication"
