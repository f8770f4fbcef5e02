"""metadata: renderer throughput on a typical Work (a journal article with three
contributors, ORCID and ROR ids, abstract, funding, licence, relations and keywords): works
per second and microseconds per work for each target, best of three runs. In-process: pure
functions, no servers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from worker.metadata.adapters import datacite_xml_to_work
from worker.metadata.hashing import payload_hash
from worker.metadata.render.bibtex import render_bibtex
from worker.metadata.render.crossref_xml import render_crossref_deposit
from worker.metadata.render.csl import render_csl
from worker.metadata.render.datacite_json import render_datacite_attributes
from worker.metadata.render.datacite_xml import render_datacite_xml
from worker.metadata.render.orcid_json import render_orcid_work
from worker.metadata.render.orcid_xml import render_orcid_xml
from worker.metadata.render.ris import render_ris
from worker.metadata.work import validate_work

#: The test suite's journal-article example (tests/metadata/examples.py).
TYPICAL: dict[str, Any] = {
    "id": "pure:article:4711",
    "type": "journal-article",
    "title": "Eating your own dog food",
    "subtitle": "Lessons from a metadata registry",
    "abstract": "We describe how a registry uses its own services.\n"
    "\n"
    "Results are mixed & instructive.",
    "language": "en",
    "publication_date": "2021-03-15",
    "publisher": "Society of Metadata Idealists",
    "url": "https://repository.example.org/articles/4711",
    "doi": "10.32013/ABC-4711",
    "registration": {"registrar": "crossref"},
    "version": 3,
    "contributors": [
        {
            "given": "Josiah",
            "family": "Carberry",
            "orcid": "https://orcid.org/0000-0002-1825-0097",
            "affiliations": [{"name": "Brown University", "ror": "https://ror.org/05gq02987"}],
        },
        {
            "given": "Sofía",
            "family": "García-Müller",
            "orcid": "0000-0002-1694-233X",
            "affiliations": [{"name": "Universidad de Chile", "ror": "02mhbdp94"}],
        },
        {"name": "CERN", "type": "organization"},
    ],
    "container": {
        "title": "Journal of Metadata Practice",
        "issn": "0317-8471",
        "eissn": "2049-3630",
        "volume": "12",
        "issue": "3",
        "pages": "101\N{EN DASH}118",
    },
    "funding": [
        {
            "funder_name": "European Commission",
            "funder_id": "https://doi.org/10.13039/501100000780",
            "award_number": "101017536",
            "award_title": "FAIR data for all",
        }
    ],
    "related_identifiers": [
        {
            "identifier": "10.5061/dryad.12345",
            "identifier_type": "DOI",
            "relation_type": "IsSupplementedBy",
        },
        {
            "identifier": "https://github.com/example/tool",
            "identifier_type": "URL",
            "relation_type": "References",
        },
    ],
    "keywords": ["metadata", "persistent identifiers"],
    "license": {
        "url": "https://creativecommons.org/licenses/by/4.0/",
        "name": "Creative Commons Attribution 4.0 International",
        "identifier": "CC-BY-4.0",
    },
}


def _cases() -> dict[str, Callable[[], object]]:
    work = validate_work(TYPICAL)
    xml = render_datacite_xml(work)
    return {
        "validate_work": lambda: validate_work(TYPICAL),
        "datacite_json": lambda: render_datacite_attributes(work),
        "datacite_xml": lambda: render_datacite_xml(work),
        "crossref_xml": lambda: render_crossref_deposit(
            [work],
            doi_batch_id="bench-1",
            timestamps=20240101000000000,
            depositor_name="pidsync",
            depositor_email="pid@example.org",
            registrant="Example",
        ),
        "orcid_json": lambda: render_orcid_work(work, source="pure.example.org"),
        "orcid_xml": lambda: render_orcid_xml(work, source="pure.example.org"),
        "csl": lambda: render_csl(work),
        "bibtex": lambda: render_bibtex(work),
        "ris": lambda: render_ris(work),
        "payload_hash": lambda: payload_hash(render_datacite_attributes(work)),
        "datacite_xml_to_work": lambda: datacite_xml_to_work(xml),
    }


def _best_seconds(function: Callable[[], object], iterations: int) -> float:
    for _ in range(min(200, iterations)):  # warm up
        function()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(iterations):
            function()
        best = min(best, time.perf_counter() - started)
    return best / iterations


def run(quick: bool) -> dict[str, Any]:
    iterations = 500 if quick else 5000
    figures: dict[str, Any] = {"iterations": iterations}
    for name, function in _cases().items():
        figures[f"{name}_us_per_work"] = round(_best_seconds(function, iterations) * 1e6, 1)
    return figures
