"""Crossref 5.3.1 deposit files for the sandbox tests."""

from __future__ import annotations

from xml.sax.saxutils import escape

NS = "http://www.crossref.org/schema/5.3.1"


def article(
    doi: str,
    title: str = "A sandbox article",
    *,
    given: str = "Josiah",
    family: str = "Carberry",
    orcid: str | None = None,
    year: int = 2024,
    url: str | None = None,
) -> str:
    orcid_xml = f"<ORCID>https://orcid.org/{orcid}</ORCID>" if orcid else ""
    return (
        '<journal_article publication_type="full_text">'
        f"<titles><title>{escape(title)}</title></titles>"
        '<contributors><person_name sequence="first" contributor_role="author">'
        f"<given_name>{escape(given)}</given_name><surname>{escape(family)}</surname>{orcid_xml}"
        "</person_name></contributors>"
        f'<publication_date media_type="online"><year>{year}</year></publication_date>'
        f"<doi_data><doi>{escape(doi)}</doi><resource>{escape(url or 'https://example.org/' + doi)}</resource></doi_data>"
        "</journal_article>"
    )


def deposit(
    *articles: str,
    timestamp: int = 20240101000000000,
    batch_id: str = "batch-1",
    journal: str = "Journal of Sandbox Studies",
) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<doi_batch xmlns="{NS}" version="5.3.1">'
        f"<head><doi_batch_id>{batch_id}</doi_batch_id><timestamp>{timestamp}</timestamp>"
        "<depositor><depositor_name>pidsync</depositor_name><email_address>ops@example.org</email_address></depositor>"
        "<registrant>Sandbox University Press</registrant></head><body><journal>"
        f'<journal_metadata language="en"><full_title>{escape(journal)}</full_title>'
        '<issn media_type="electronic">2049-3630</issn></journal_metadata>'
        f"{''.join(articles)}</journal></body></doi_batch>"
    ).encode()
