"""Records the sandbox knows from the start (beyond what clients deposit).

Crossref: three works in Crossref's REST index (given as deposit XML and converted the same
way deposits are, so unixref and the REST message agree), among them Crossref's own test DOI
``10.5555/12345678``, a SICI-style DOI full of special characters, and a DOI with ``#`` and
``;`` (percent-encode them in URLs: ``%23``, ``%3B``). DataCite: two findable DOIs known to the
resolver. None of them is in ``state()["datacite"]`` or ``state()["crossref"]["dois"]``,
which hold only what clients registered.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from worker.sandbox.crossref.message import content_item, record_xml, work_message

SICI_DOI = "10.1002/(SICI)1097-4636(199812)43:4<342::AID-JBM3>3.0.CO;2-R"
HASH_DOI = "10.5555/sandbox#seed;v2"
SEED_TIMESTAMP = 20200101000000000

_NS = "http://www.crossref.org/schema/5.3.1"


def _article(
    doi: str, title: str, people: list[tuple[str, str, str]], year: int, pages: str, url: str
) -> str:
    persons = "".join(
        f'<person_name sequence="{"first" if i == 0 else "additional"}" contributor_role="author">'
        f"<given_name>{given}</given_name><surname>{family}</surname>"
        + (f"<ORCID>https://orcid.org/{orcid}</ORCID>" if orcid else "")
        + "</person_name>"
        for i, (given, family, orcid) in enumerate(people)
    )
    first, _, last = pages.partition("-")
    return (
        f'<journal_article publication_type="full_text"><titles><title>{title}</title></titles>'
        f"<contributors>{persons}</contributors>"
        f'<publication_date media_type="print"><year>{year}</year></publication_date>'
        f"<pages><first_page>{first}</first_page><last_page>{last}</last_page></pages>"
        f"<doi_data><doi>{_escape(doi)}</doi><resource>{_escape(url)}</resource></doi_data>"
        "</journal_article>"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _journal(title: str, issn: str, volume: str, issue: str, articles: list[str]) -> str:
    return (
        f'<journal><journal_metadata language="en"><full_title>{title}</full_title>'
        f'<issn media_type="print">{issn}</issn></journal_metadata>'
        f"<journal_issue><journal_volume><volume>{volume}</volume></journal_volume>"
        f"<issue>{issue}</issue></journal_issue>{''.join(articles)}</journal>"
    )


_DEPOSIT = (
    f'<doi_batch xmlns="{_NS}" version="5.3.1"><head><doi_batch_id>sandbox-seed</doi_batch_id>'
    f"<timestamp>{SEED_TIMESTAMP}</timestamp><depositor><depositor_name>sandbox</depositor_name>"
    "<email_address>sandbox@example.org</email_address></depositor>"
    "<registrant>Society of Metadata Idealists</registrant></head><body>"
    + _journal(
        "Journal of Psychoceramics",
        "0264-3561",
        "5",
        "11",
        [
            _article(
                "10.5555/12345678",
                "Toward a Unified Theory of High-Energy Metaphysics: Silly String Theory",
                [("Josiah", "Carberry", "0000-0002-1825-0097")],
                2008,
                "1-3",
                "https://www.crossref.org/xml-samples/",
            ),
            _article(
                HASH_DOI,
                "A sandbox record whose DOI holds a hash and a semicolon",
                [("Ada", "Example", "")],
                2021,
                "10-12",
                "https://example.org/landing/hash-seed",
            ),
        ],
    )
    + _journal(
        "Journal of Sandbox Biomaterials",
        "0021-9304",
        "43",
        "4",
        [
            _article(
                SICI_DOI,
                "A sandbox record under a SICI-style DOI",
                [("Grace", "Hollis", ""), ("Alan", "Marsh", "")],
                1998,
                "342-349",
                "https://example.org/landing/sici-seed",
            )
        ],
    )
    + "</body></doi_batch>"
)


def _crossref_seeds() -> tuple[list[dict[str, Any]], dict[str, str]]:
    root = etree.fromstring(_DEPOSIT.encode("utf-8"))
    messages, xml = [], {}
    for doi_data in root.iter(f"{{{_NS}}}doi_data"):
        if etree.QName(content_item(doi_data)).localname != "journal_article":
            continue
        message = work_message(
            doi_data, publisher="Society of Metadata Idealists", created=1577836800.0
        )
        messages.append(message)
        xml[message["DOI"]] = record_xml(doi_data)
    return messages, xml


#: REST ``work`` messages of the seeded Crossref works, and their content items' XML.
CROSSREF_WORKS, CROSSREF_XML = _crossref_seeds()

#: Seeded DataCite DOIs the resolver knows: DOI → (landing URL, JSON attributes).
DATACITE_DOIS: dict[str, dict[str, Any]] = {
    "10.5072/sandbox-seed-dataset": {
        "doi": "10.5072/sandbox-seed-dataset",
        "url": "https://example.org/landing/sandbox-seed-dataset",
        "creators": [
            {
                "name": "Carberry, Josiah",
                "nameType": "Personal",
                "givenName": "Josiah",
                "familyName": "Carberry",
                "nameIdentifiers": [
                    {
                        "nameIdentifier": "https://orcid.org/0000-0002-1825-0097",
                        "nameIdentifierScheme": "ORCID",
                        "schemeUri": "https://orcid.org",
                    }
                ],
                "affiliation": [],
            }
        ],
        "titles": [{"title": "Sandbox seed dataset: measurements of nothing in particular"}],
        "publisher": "pidsync sandbox",
        "publicationYear": "2023",
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Measurements"},
        "descriptions": [
            {
                "description": "A seeded DataCite record of the sandbox.",
                "descriptionType": "Abstract",
            }
        ],
        "subjects": [{"subject": "Sandboxes"}],
        "language": "en",
        "rightsList": [
            {
                "rights": "Creative Commons Attribution 4.0 International",
                "rightsUri": "https://creativecommons.org/licenses/by/4.0/legalcode",
            }
        ],
        "schemaVersion": "http://datacite.org/schema/kernel-4",
    },
    "10.5072/sandbox-seed-software": {
        "doi": "10.5072/sandbox-seed-software",
        "url": "https://example.org/landing/sandbox-seed-software",
        "creators": [{"name": "pidsync developers", "nameType": "Organizational"}],
        "titles": [{"title": "Sandbox seed software"}],
        "publisher": "pidsync sandbox",
        "publicationYear": "2024",
        "types": {"resourceTypeGeneral": "Software"},
        "version": "1.0",
        "schemaVersion": "http://datacite.org/schema/kernel-4",
    },
}
