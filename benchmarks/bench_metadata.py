"""Renderer throughput on a typical Work: works/second and µs per work for each target.

Run: .venv/bin/python benchmarks/bench_metadata.py [iterations]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.metadata.examples import EXAMPLES
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

# A typical work: a journal article with three contributors (ORCID, ROR), abstract, funding,
# licence, relations, keywords.
DATA = EXAMPLES["journal-article"]
WORK = validate_work(DATA)
XML = render_datacite_xml(WORK)

CASES = {
    "validate_work (Work from JSON)": lambda: validate_work(DATA),
    "datacite-json": lambda: render_datacite_attributes(WORK),
    "datacite-xml": lambda: render_datacite_xml(WORK),
    "crossref-xml (1-record deposit)": lambda: render_crossref_deposit(
        [WORK],
        doi_batch_id="bench-1",
        timestamps=20240101000000000,
        depositor_name="pidsync",
        depositor_email="pid@example.org",
        registrant="Example",
    ),
    "orcid-json": lambda: render_orcid_work(WORK, source="pure.example.org"),
    "orcid-xml": lambda: render_orcid_xml(WORK, source="pure.example.org"),
    "csl": lambda: render_csl(WORK),
    "bibtex": lambda: render_bibtex(WORK),
    "ris": lambda: render_ris(WORK),
    "payload_hash (datacite-json)": lambda: payload_hash(render_datacite_attributes(WORK)),
    "datacite-xml -> Work (adapter)": lambda: datacite_xml_to_work(XML),
}


def bench(function, iterations: int) -> float:
    for _ in range(min(200, iterations)):  # warm up
        function()
    best = float("inf")
    for _ in range(3):  # best of three runs
        start = time.perf_counter()
        for _ in range(iterations):
            function()
        best = min(best, time.perf_counter() - start)
    return best / iterations


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    print(
        f"typical work: {WORK.type}, {len(WORK.contributors)} contributors; {iterations} iterations, best of 3"
    )
    print(f"{'renderer':34} {'works/s':>10} {'µs/work':>9}")
    for name, function in CASES.items():
        seconds = bench(function, iterations)
        print(f"{name:34} {1 / seconds:10,.0f} {seconds * 1e6:9.1f}")


if __name__ == "__main__":
    main()
