"""Golden files: realistic Works of every type, rendered for every target. A change in any
output shows up as a diff. Regenerate after a deliberate change with
``PIDSYNC_REGEN_GOLDEN=1 .venv/bin/pytest tests/metadata/test_golden.py`` and review the diff.

A target that refuses a Work gets a ``.err`` golden file holding the error message instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.metadata.examples import EXAMPLES
from worker.metadata.errors import MetadataError
from worker.metadata.render.bibtex import render_bibtex
from worker.metadata.render.crossref_xml import render_crossref_deposit
from worker.metadata.render.csl import render_csl
from worker.metadata.render.datacite_json import render_datacite_attributes
from worker.metadata.render.datacite_xml import render_datacite_xml
from worker.metadata.render.orcid_json import render_orcid_work
from worker.metadata.render.orcid_xml import render_orcid_xml
from worker.metadata.render.ris import render_ris
from worker.metadata.schemas import check_output
from worker.metadata.work import validate_work

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("PIDSYNC_REGEN_GOLDEN") == "1"


def _json(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


TARGETS = {
    "datacite.xml": ("datacite-xml", render_datacite_xml),
    "datacite.json": ("datacite-json", lambda w: _json(render_datacite_attributes(w))),
    "crossref.xml": (
        "crossref-xml",
        lambda w: render_crossref_deposit(
            [w],
            doi_batch_id="golden-batch",
            timestamps={w.doi: 20240101120000000},
            depositor_name="pidsync",
            depositor_email="pidsync@example.org",
            registrant="Example University",
        ),
    ),
    "orcid.json": ("orcid-json", lambda w: _json(render_orcid_work(w, source="pure.example.org"))),
    "orcid.xml": ("orcid-xml", lambda w: render_orcid_xml(w, source="pure.example.org")),
    "csl.json": ("csl", lambda w: _json([render_csl(w)])),
    "bib": ("bibtex", render_bibtex),
    "ris": ("ris", render_ris),
}


@pytest.mark.parametrize("suffix", sorted(TARGETS))
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_golden(name, suffix):
    target, render = TARGETS[suffix]
    work = validate_work(EXAMPLES[name])
    try:
        output, path = render(work), GOLDEN / f"{name}.{suffix}"
        if not output.endswith("\n"):
            output += "\n"
    except MetadataError as exc:
        output, path = str(exc) + "\n", GOLDEN / f"{name}.{suffix}.err"
    else:
        # Every golden output is valid against the official schema (when at hand).
        payload = json.loads(output) if suffix.endswith("json") else output
        if target == "datacite-json":
            payload = {"data": {"attributes": payload}}
        check = check_output(target, payload)
        assert check.valid, check.errors
    if REGENERATE:
        path.write_text(output, encoding="utf-8")
        other = (
            path.with_name(path.name.removesuffix(".err"))
            if path.suffix == ".err"
            else path.with_name(path.name + ".err")
        )
        other.unlink(missing_ok=True)
    assert path.is_file(), f"no golden file {path.name}: run with PIDSYNC_REGEN_GOLDEN=1"
    assert output == path.read_text(encoding="utf-8")


def test_the_examples_cover_every_type():
    from worker.metadata.types import WorkType

    assert {w["type"] for w in EXAMPLES.values()} == {t.value for t in WorkType}
