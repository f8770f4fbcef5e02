"""Each target renders what it can hold and says what it could not: one RenderNote per thing
left out, and the table of what travels agrees with the renderers."""

from __future__ import annotations

import json

import pytest

from tests.metadata.conftest import assert_xml_valid
from tests.metadata.examples import EXAMPLES
from tests.metadata.test_cli import run
from worker.metadata.losses import CARRIED, losses
from worker.metadata.render.bibtex import render_bibtex
from worker.metadata.render.crossref_xml import render_crossref_deposit
from worker.metadata.render.csl import render_csl
from worker.metadata.render.datacite_json import render_datacite_attributes
from worker.metadata.render.orcid_json import render_orcid_work
from worker.metadata.render.ris import render_ris
from worker.metadata.work import validate_work

MULTILINGUAL = {
    **EXAMPLES["journal-article"],
    "title_language": "en",
    "abstract": "An abstract.",
    "abstract_language": "en",
    "alternative_titles": [
        {"title": "Ein Titel", "type": "TranslatedTitle", "language": "de"},
        {"title": "Un titre", "type": "TranslatedTitle", "language": "fr"},
    ],
    "descriptions": [
        {"text": "Eine Zusammenfassung.", "type": "Abstract", "language": "de"},
        {"text": "Methods used.", "type": "Methods"},
    ],
    "subjects": [{"subject": "Physics", "scheme": "FOS"}],
    "geo_locations": [{"place": "Lisbon"}],
}

RENDER = {
    "datacite": render_datacite_attributes,
    "crossref": lambda w: render_crossref_deposit(
        [w], doi_batch_id="batch-1", timestamps=20240101000000000, depositor_name="dep",
        depositor_email="dep@example.org",
        registrant="r",
    ),
    "orcid": lambda w: render_orcid_work(w, source="s"),
    "csl": render_csl,
    "bibtex": render_bibtex,
    "ris": render_ris,
}  # fmt: skip


def test_multilingual_work_losses_are_said_per_target():
    work = validate_work(MULTILINGUAL)
    said = {target: {n.path for n in losses(work, target)} for target in RENDER}
    assert said["datacite"] == set()
    # Crossref: every abstract goes (with xml:lang), a Methods description and subjects do not
    assert {"descriptions[1]", "subjects", "geo_locations", "alternative_titles"} <= said[
        "crossref"
    ]
    assert "descriptions[0]" not in said["crossref"] and "abstract" not in said["crossref"]
    # ORCID: one translated title travels, the second is said
    assert "alternative_titles[1]" in said["orcid"] and "alternative_titles[0]" not in said["orcid"]
    assert {"descriptions", "subjects", "abstract_language"} <= said["orcid"]
    assert "title_language" in said["csl"]


def test_crossref_carries_every_abstract_with_its_language(crossref_xsd):
    work = validate_work(MULTILINGUAL)
    xml = RENDER["crossref"](work)
    assert_xml_valid(crossref_xsd, xml)
    assert 'xml:lang="en"' in xml and 'xml:lang="de"' in xml
    assert "Eine Zusammenfassung." in xml and "Methods used." not in xml


@pytest.mark.parametrize("target", sorted(RENDER))
def test_a_field_said_to_travel_changes_the_output(target):
    # The table is honest: each content field a target is said to carry, when removed from a
    # Work that has it, changes what the target writes.
    work = validate_work(MULTILINGUAL)
    full = json.dumps(RENDER[target](work), sort_keys=True, default=str)
    said = {n.path for n in losses(work, target)}
    for field in sorted(CARRIED[target] - said):
        if field in ("id", "type", "version", "registration") or not getattr(work, field):
            continue
        if field in ("title", "contributors", "doi", "url"):
            continue  # needed by some targets: covered by the renderer tests
        data = {k: v for k, v in MULTILINGUAL.items() if k != field}
        try:
            less = json.dumps(RENDER[target](validate_work(data)), sort_keys=True, default=str)
        except Exception:
            continue
        assert less != full, f"{target} said to carry {field}, but ignores it"


def test_render_prints_what_the_target_left_out():
    code, out, err = run(["--to", "orcid-json", "-"], json.dumps(MULTILINGUAL))
    assert code == 0, err
    assert "note: orcid: alternative_titles[1]: ORCID takes one translated title" in err
    assert "note: orcid: subjects: not carried by this target" in err
    assert json.loads(out)["title"]["translated-title"]["language-code"] == "de"


@pytest.mark.parametrize("general", ["Instrument", "Award", "StudyRegistration", "Project"])
def test_a_type_crossref_cannot_register_is_refused_with_the_reason(general):
    from worker.metadata.errors import Unrepresentable

    work = validate_work({**EXAMPLES["dataset"], "resource_type_general": general})
    with pytest.raises(Unrepresentable) as caught:
        RENDER["crossref"](work)
    [(path, reason)] = caught.value.problems
    assert path == "resource_type_general" and "Crossref" in reason
    # the same Work is a DataCite record as it is
    assert render_datacite_attributes(work)["types"]["resourceTypeGeneral"] == general
