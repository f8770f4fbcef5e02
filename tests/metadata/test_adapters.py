"""Adapters: DataCite XML/JSON, CSL-JSON and Crossref REST messages → Work. What a Work
cannot hold is reported; a DataCite record survives the round trip XML → Work → XML."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.metadata.conftest import assert_xml_valid
from tests.metadata.examples import EXAMPLES
from tests.metadata.kernel_compare import differences
from worker.metadata.adapters import (
    crossref_message_to_work,
    csl_to_work,
    datacite_attributes_to_work,
    datacite_xml_to_attributes,
    datacite_xml_to_work,
)
from worker.metadata.errors import InputError, MetadataError
from worker.metadata.render.csl import render_csl
from worker.metadata.render.datacite_json import render_datacite_attributes
from worker.metadata.render.datacite_xml import render_datacite_xml
from worker.metadata.work import validate_work

FULL = (Path(__file__).parent / "data" / "datacite-full-v4.xml").read_bytes()
KEPT = ("doi", "creators", "titles", "publisher", "publicationYear", "types", "descriptions",
        "subjects", "rightsList", "fundingReferences", "relatedIdentifiers", "language", "version",
        "dates")  # fmt: skip


# "other" is the minimal Work, which is no DataCite record (see other.datacite.xml.err).
DATACITE_RECORDS = sorted(set(EXAMPLES) - {"other"})


def test_only_the_minimal_work_is_no_datacite_record():
    with pytest.raises(MetadataError):
        render_datacite_xml(validate_work(EXAMPLES["other"]))


@pytest.mark.parametrize("name", DATACITE_RECORDS)
def test_round_trip_of_pidsync_written_datacite_xml_is_exact(name):
    work = validate_work(EXAMPLES[name])
    xml = render_datacite_xml(work)
    again, problems = datacite_xml_to_work(xml, work_id=work.id)
    assert problems == []
    assert render_datacite_xml(again) == xml
    # the Work itself comes back, except what DataCite does not carry
    assert again.doi == work.doi
    assert again.title == work.title and again.subtitle == work.subtitle
    assert [(c.role, c.full_name, c.orcid, c.ror) for c in again.contributors] == [
        (c.role, c.full_name, c.orcid, c.ror) for c in work.contributors
    ]
    assert again.resource_version == work.resource_version
    # the container (journal, book, proceedings) travels as the IsPublishedIn relatedItem, and
    # the ISSNs its one identifier has no room for as IsPublishedIn relatedIdentifiers
    expected = work.container.model_dump() if work.container else None
    assert (again.container.model_dump() if again.container else None) == expected


def test_edited_book_round_trips_as_editors_only():
    # Given an edited book (editors, no authors), written for DataCite with its editors as
    # creators and as Editor contributors
    work = validate_work(EXAMPLES["edited-book"])
    xml = render_datacite_xml(work)
    assert xml.count("<creatorName") == 1 and 'contributorType="Editor"' in xml
    # When it is read back, Then the editors are editors, not authors besides
    again, problems = datacite_xml_to_work(xml)
    assert problems == []
    assert [(c.role, c.full_name) for c in again.contributors] == [("editor", "Ann Editor")]
    # But a record whose creators are not all its editors keeps both
    attrs = render_datacite_attributes(validate_work(EXAMPLES["book-chapter"]))
    attrs["creators"].append(dict(attrs["contributors"][0], contributorType=None))
    attrs["creators"][-1].pop("contributorType")
    mixed, _ = datacite_attributes_to_work(attrs)
    assert [(c.role, c.full_name) for c in mixed.contributors] == [
        ("author", "Sofía García-Müller"), ("author", "Ann Editor"), ("editor", "Ann Editor"),
    ]  # fmt: skip


def test_round_trip_of_a_full_datacite_record_loses_nothing(datacite_xsd):
    # Given DataCite's full example record (schema 4.5 features: geolocations, sizes, formats,
    # a publisher identifier, subject schemes, DataCollector, a GRID funder, two rights...)
    work, problems = datacite_xml_to_work(FULL)
    assert problems == []
    # When it is written back out
    xml = render_datacite_xml(work)
    assert_xml_valid(datacite_xsd, xml)
    # Then every element and attribute comes back, order aside
    assert differences(FULL, xml) == []
    # the journal this dataset IsPublishedIn is a related item (a dataset's container is
    # written as a Collection, so the container could not say "Journal")
    assert work.container is None
    [journal] = work.related_items
    assert (journal.type, journal.identifier.identifier, journal.volume, journal.first_page) == (
        "Journal",
        "0370-2693",
        "776",
        "249",
    )


def test_xml_to_attributes_is_datacite_json():
    attrs = datacite_xml_to_attributes(FULL)
    assert attrs["creators"][0]["affiliation"][0] == {
        "name": "ExampleAffiliation", "affiliationIdentifier": "https://ror.org/04wxnsj81",
        "affiliationIdentifierScheme": "ROR", "schemeUri": "https://ror.org"}  # fmt: skip
    assert attrs["rightsList"][0]["rightsUri"].startswith("https://creativecommons.org")
    assert attrs["fundingReferences"][0]["awardUri"] == "https://example.com/example-award-uri"
    assert attrs["identifiers"] == [
        {"identifier": "12345", "identifierType": "Local accession number"}
    ]
    assert attrs["geoLocations"][0]["geoLocationPoint"] == {
        "pointLatitude": "49.2827",
        "pointLongitude": "-123.1207",
    }
    assert attrs["sizes"] == ["1 MB"] and attrs["formats"] == ["application/xml"]
    assert attrs["publisher"] == "Example Publisher"
    assert (
        datacite_xml_to_attributes(FULL, publisher_object=True)["publisher"]["publisherIdentifier"]
        == "https://ror.org/04z8jg394"
    )


def test_kernel_40_record_without_name_types():
    xml = b"""<?xml version="1.0"?><resource xmlns="http://datacite.org/schema/kernel-4">
      <identifier identifierType="DOI">10.5072/D3P26Q35R-Test</identifier>
      <creators><creator><creatorName>Fosmire, Michael</creatorName><givenName>Michael</givenName>
      <familyName>Fosmire</familyName></creator><creator><creatorName>Purdue University</creatorName></creator></creators>
      <titles><title>Full DataCite XML Example</title></titles><publisher>DataCite</publisher>
      <publicationYear>2014</publicationYear><resourceType resourceTypeGeneral="Software">XML</resourceType>
      <subjects><subject>000 computer science</subject></subjects></resource>"""
    work, problems = datacite_xml_to_work(xml)
    assert work.type == "software" and work.resource_type == "XML"
    assert [(c.type, c.full_name) for c in work.contributors] == [
        ("person", "Michael Fosmire"),
        ("organization", "Purdue University"),
    ]
    assert problems == ["creators[1]: no nameType; read as an organization"]


def test_invalid_values_are_dropped_with_a_note_not_fatal():
    attrs = render_datacite_attributes(validate_work(EXAMPLES["dataset"]))
    attrs["creators"][0]["nameIdentifiers"][0]["nameIdentifier"] = (
        "https://orcid.org/0000-0002-1825-0098"
    )
    attrs["dates"].append({"date": "sometime", "dateType": "Created"})
    work, problems = datacite_attributes_to_work(
        {"data": {"id": attrs["doi"], "attributes": attrs}}
    )
    assert work.contributors[0].orcid is None
    assert "contributors[0].orcid: invalid check digit (dropped)" in problems
    assert any(
        p.startswith("dates[1].date: 'sometime'") and p.endswith("(dropped)") for p in problems
    )
    assert len(work.dates) == 1


def test_datacite_json_container_from_related_items_or_derived_container():
    attrs = render_datacite_attributes(validate_work(EXAMPLES["journal-article"]))
    attrs["relatedItems"].append(
        {"relationType": "IsPublishedIn", "relatedItemType": "Journal", "titles": [{"title": "X"}]}
    )
    attrs["relatedItems"].append({"relationType": "References", "relatedItemType": "Book"})
    attrs["relatedItems"][0]["publisher"] = "Some Press"
    attrs["container"] = {"type": "Journal", "title": "Derived", "identifier": "0317-8471",
                          "identifierType": "ISSN"}  # fmt: skip
    work, problems = datacite_attributes_to_work(attrs)
    # the journal with a publisher is more than a container holds: it is kept as a related
    # item, whole; the next IsPublishedIn item, which the container holds, is the container
    assert work.container and work.container.title == "X"
    assert [(i.type, i.relation_type, i.publisher) for i in work.related_items] == [
        ("Journal", "IsPublishedIn", "Some Press"),
        ("Book", "References", None),
    ]
    assert problems == []
    # without relatedItems, DataCite's derived container (older records) is read
    del attrs["relatedItems"]
    work, problems = datacite_attributes_to_work(attrs)
    assert work.container and (work.container.title, work.container.issn) == (
        "Derived",
        "0317-8471",
    )
    assert problems == []


def test_datacite_json_lists_and_errors_are_named_plainly():
    with pytest.raises(InputError, match=r"a DataCite list of 2 records"):
        datacite_attributes_to_work({"data": [{"id": "a"}, {"id": "b"}]})
    with pytest.raises(InputError, match="a DataCite error response, not a record: DOI not found"):
        datacite_attributes_to_work({"errors": [{"status": "404", "title": "DOI not found"}]})


def test_unreadable_inputs():
    with pytest.raises(InputError, match="well-formed"):
        datacite_xml_to_attributes(b"<resource")
    with pytest.raises(InputError, match="kernel-4"):
        datacite_xml_to_attributes(b"<resource xmlns='http://datacite.org/schema/kernel-3'/>")
    with pytest.raises(InputError, match="title"):
        datacite_attributes_to_work(
            {"doi": "10.5555/x", "types": {"resourceTypeGeneral": "Dataset"}}
        )


CSL_ITEM = {
    "id": "http://zotero.org/users/1/items/ABCD",
    "type": "article-journal",
    "title": "The Mozilla Public License",
    "container-title": "Journal of Open Law",
    "volume": 12,
    "issue": "3",
    "page": "33-45",
    "ISSN": "0317-8471",
    "DOI": "10.1234/JOL.2020.3",
    "URL": "https://example.org/jol/3",
    "language": "en",
    "abstract": "On licences.",
    "keyword": "licences; open source",
    "author": [
        {"family": "Gogh", "given": "Vincent", "non-dropping-particle": "van"},
        {"literal": "The Mozilla Foundation"},
    ],
    "editor": [{"family": "Editor", "given": "E."}],
    "issued": {"date-parts": [[2020, 5]]},
    "note": "a note",
    "accessed": {"date-parts": [[2024, 1, 1]]},
}


def test_csl_item_to_work_and_back():
    work, problems = csl_to_work(CSL_ITEM)
    assert problems == ["note: not represented in a Work"]
    assert work.type == "journal-article" and work.doi == "10.1234/jol.2020.3"
    assert work.publication_date == "2020-05"
    assert [c.full_name for c in work.contributors] == [
        "Vincent van Gogh",
        "The Mozilla Foundation",
        "E. Editor",
    ]
    assert work.container and work.container.volume == "12" and work.container.first_page == "33"
    assert work.keywords == ["licences", "open source"]
    item = render_csl(work)
    for key in (
        "type",
        "title",
        "container-title",
        "page",
        "ISSN",
        "URL",
        "abstract",
        "language",
        "issued",
    ):
        assert str(item[key]) == str(CSL_ITEM[key])


def test_csl_lists_genres_and_unknown_types():
    work, problems = csl_to_work(
        [
            {"id": 1, "type": "speech", "genre": "Poster", "title": "P"},
            {"id": 2, "type": "book", "title": "B"},
        ]
    )
    assert work.type == "poster" and work.id == "1"
    assert problems == ["1 further item(s): only the first is read"]
    work, problems = csl_to_work({"id": "x", "type": "legislation", "title": "L"})
    assert work.type == "other"
    assert "legislation" in problems[0]
    with pytest.raises(InputError):
        csl_to_work("[]")


CROSSREF_MESSAGE = {
    "indexed": {"date-parts": [[2024, 3, 1]]},
    "reference-count": 2,
    "publisher": "Society of Metadata Idealists",
    "issue": "3",
    "license": [
        {
            "start": {"date-parts": [[2021, 3, 15]]},
            "content-version": "vor",
            "delay-in-days": 0,
            "URL": "https://creativecommons.org/licenses/by/4.0/",
        },
        {"URL": "https://www.elsevier.com/tdm/userlicense/1.0/", "content-version": "tdm"},
    ],
    "funder": [
        {
            "DOI": "10.13039/501100000780",
            "name": "European Commission",
            "award": ["101017536", "654321"],
        }
    ],
    "content-domain": {"domain": [], "crossmark-restriction": False},
    "abstract": "<jats:title>Abstract</jats:title><jats:p>We describe <jats:italic>how</jats:italic> a registry works.</jats:p><jats:p>Second.</jats:p>",
    "DOI": "10.32013/ABC-4711",
    "type": "journal-article",
    "page": "101-118",
    "source": "Crossref",
    "title": ["Eating your own dog food"],
    "subtitle": ["Lessons from a metadata registry"],
    "prefix": "10.32013",
    "volume": "12",
    "author": [
        {
            "ORCID": "http://orcid.org/0000-0002-1825-0097",
            "authenticated-orcid": True,
            "given": "Josiah",
            "family": "Carberry",
            "sequence": "first",
            "affiliation": [
                {
                    "name": "Brown University",
                    "id": [
                        {
                            "id": "https://ror.org/05gq02987",
                            "id-type": "ROR",
                            "asserted-by": "publisher",
                        }
                    ],
                }
            ],
        },
        {"name": "CERN", "sequence": "additional", "affiliation": []},
    ],
    "member": "7822",
    "container-title": ["Journal of Metadata Practice"],
    "language": "en",
    "link": [{"URL": "https://example.org/fulltext.pdf", "content-type": "application/pdf"}],
    "issued": {"date-parts": [[2021, 3, 15]]},
    "URL": "https://doi.org/10.32013/abc-4711",
    "resource": {"primary": {"URL": "https://repository.example.org/articles/4711"}},
    "ISSN": ["0317-8471", "2049-3630"],
    "issn-type": [
        {"type": "print", "value": "0317-8471"},
        {"type": "electronic", "value": "2049-3630"},
    ],
    "subject": ["Library and Information Sciences"],
    "relation": {
        "is-supplemented-by": [
            {"id-type": "doi", "id": "10.5061/dryad.12345", "asserted-by": "subject"}
        ],
        "has-review": [{"id-type": "other", "id": "rev-1", "asserted-by": "object"}],
    },
    "reference": [{"key": "r1"}, {"key": "r2"}],
    "update-to": [{"DOI": "10.32013/old", "type": "correction"}],
}


@pytest.mark.parametrize("envelope", [True, False])
def test_crossref_message_to_work(envelope):
    data = (
        {
            "status": "ok",
            "message-type": "work",
            "message-version": "1.0.0",
            "message": CROSSREF_MESSAGE,
        }
        if envelope
        else CROSSREF_MESSAGE
    )
    work, problems = crossref_message_to_work(copy.deepcopy(data))
    assert work.doi == "10.32013/abc-4711" and work.type == "journal-article"
    assert work.url == "https://repository.example.org/articles/4711"
    assert work.abstract == "We describe how a registry works.\n\nSecond."
    assert work.contributors[0].orcid == "0000-0002-1825-0097"
    assert work.contributors[0].affiliations[0].ror == "https://ror.org/05gq02987"
    assert work.contributors[1].type == "organization"
    assert work.container and (work.container.issn, work.container.eissn) == (
        "0317-8471",
        "2049-3630",
    )
    assert [f.award_number for f in work.funding] == ["101017536", "654321"]
    assert work.license and work.license.url == "https://creativecommons.org/licenses/by/4.0/"
    # the further licence is kept as a rights entry
    assert [r.uri for r in work.rights] and work.license.url not in [r.uri for r in work.rights]
    assert [(r.identifier, r.relation_type) for r in work.related_identifiers] == [
        ("10.5061/dryad.12345", "IsSupplementedBy")
    ]
    assert work.publication_date == "2021-03-15"
    assert sorted(problems) == sorted([
        "update-to: not represented in a Work",
        "reference: 2 cited references not represented",
        "relation.has-review: rev-1 not represented",
    ])  # fmt: skip


def test_crossref_further_titles_isbns_and_licences_are_kept():
    message = {
        "DOI": "10.5555/book-1", "type": "book", "title": ["Ein Buch", "A book"],
        "subtitle": ["Untertitel", "Subtitle"], "original-title": ["Um livro"],
        "short-title": ["Buch"], "ISBN": ["9783161484100", "9780306406157"],
        "license": [{"URL": "https://creativecommons.org/licenses/by/4.0/",
                     "content-version": "vor"},
                    {"URL": "https://www.elsevier.com/tdm/userlicense/1.0/",
                     "content-version": "tdm"}],
    }  # fmt: skip
    work, problems = crossref_message_to_work(message)
    assert problems == []
    assert (work.title, work.subtitle) == ("Ein Buch", "Untertitel")
    assert [(t.title, t.type) for t in work.alternative_titles] == [
        ("A book", None), ("Subtitle", "Subtitle"), ("Um livro", "Other"),
        ("Buch", "AlternativeTitle"),
    ]  # fmt: skip
    assert work.container and work.container.isbn == "9783161484100"
    assert [(a.identifier, a.type) for a in work.alternate_identifiers] == [
        ("9780306406157", "ISBN")
    ]
    assert [r.uri for r in work.rights] == ["https://www.elsevier.com/tdm/userlicense/1.0/"]


def test_crossref_posted_content_and_wrong_messages():
    work, _ = crossref_message_to_work({"DOI": "10.1101/2020.01.01.1", "type": "posted-content", "subtype": "preprint",
                                        "title": ["A preprint"], "posted": {"date-parts": [[2020, 1, 2]]},
                                        "group-title": "Bioinformatics"})  # fmt: skip
    assert work.type == "preprint" and work.publication_date == "2020-01-02"
    assert work.container and work.container.title == "Bioinformatics"
    with pytest.raises(InputError, match="work-list"):
        crossref_message_to_work(
            {"status": "ok", "message-type": "work-list", "message": {"items": []}}
        )
    with pytest.raises(InputError, match="JSON"):
        crossref_message_to_work("{nope")


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"status": "failed", "message-type": "validation-failure",
          "message": [{"type": "parameter-not-allowed", "value": "x", "message": "Parameter x not allowed"}]},
         "a Crossref error response (status 'failed', message-type 'validation-failure'), not a work: Parameter x not allowed"),
        ({"status": "ok", "message": {"items": [{}, {}], "total-results": 2}},
         "a Crossref work-list message (2 items), not a single work"),
        ({"items": [{}], "total-results": 1}, "a Crossref work-list message (1 items)"),
        ([{"DOI": "10.5555/a"}], "a JSON list of 1 items, not one Crossref work message"),
        ({"message": "Resource not found."}, "a Crossref error response"),
    ],
)  # fmt: skip
def test_crossref_error_envelopes_and_lists_say_so(data, said):
    with pytest.raises(InputError) as info:
        crossref_message_to_work(data)
    assert said in str(info.value)
    assert "title" not in str(info.value)


def test_enrichment_from_doi_org_csl_keeps_author_orcid_ids_and_affiliations():
    # Given CSL as doi.org answers for a Crossref DOI (citeproc JSON: ORCID per author)
    item = {
        "type": "article-journal",
        "title": "On keeping identifiers",
        "DOI": "10.5555/keep",
        "author": [
            {"family": "Carberry", "given": "Josiah", "sequence": "first",
             "ORCID": "http://orcid.org/0000-0002-1825-0097", "authenticated-orcid": True,
             "affiliation": [{"name": "Brown University"}]},
            {"family": "Nobody", "given": "Ann", "sequence": "additional",
             "ORCID": "http://orcid.org/0000-0002-1825-0098"},
        ],
    }  # fmt: skip
    # When it is read into a Work
    work, problems = csl_to_work(item)
    # Then the first author keeps the iD and affiliation; the second's bad iD is said, not kept
    first, second = work.contributors
    assert (first.orcid, first.affiliations[0].name) == ("0000-0002-1825-0097", "Brown University")
    assert second.orcid is None
    assert "contributors[1].orcid: invalid check digit (dropped)" in problems
