"""Fidelity: DataCite XML → Work → DataCite XML keeps every element and attribute the kernel
defines (order aside), for generated Works holding every kernel feature, and the Work read
back holds what was written."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.metadata.conftest import assert_xml_valid
from tests.metadata.examples import EXAMPLES
from tests.metadata.kernel_compare import differences
from tests.metadata.strategies import kernel_fields, work_dicts
from worker.metadata.adapters import datacite_attributes_to_work, datacite_xml_to_work
from worker.metadata.render.datacite_json import render_datacite_attributes
from worker.metadata.render.datacite_xml import render_datacite_xml
from worker.metadata.work import validate_work, work_to_json

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
KERNEL = (
    "title_language", "abstract_language", "resource_type_general", "subjects",
    "alternate_identifiers", "geo_locations", "sizes", "formats",
    "related_identifiers", "descriptions", "publisher_identifier", "keywords", "license", "rights",
    "dates", "language", "funding", "alternative_titles",
)  # fmt: skip


@st.composite
def kernel_works(draw: st.DrawFn):
    data = draw(work_dicts(complete=True))
    extra = draw(kernel_fields())
    data["related_identifiers"] = data.get("related_identifiers", []) + extra.pop(
        "related_identifiers", []
    )
    data["descriptions"] = data.get("descriptions", []) + extra.pop("descriptions", [])
    if "abstract_language" in extra and "abstract" not in data:
        data["abstract"] = "An abstract."
    work = validate_work({**data, **extra})
    # An author who is also an editor, in a work with no other author, is read back as an
    # editor only (DataCite lists an edited work's editors as its creators): not drawn.
    people = [(c.full_name, c.orcid) for c in work.authors]
    assume(
        not any((c.full_name, c.orcid) in people for c in work.contributors if c.role == "editor")
    )
    return work


@settings(max_examples=15, deadline=None, suppress_health_check=_SLOW_OK)
@given(work=kernel_works())
def test_datacite_xml_round_trip_keeps_every_element_and_attribute(work, datacite_xsd):
    # Given the DataCite XML of a Work holding every kernel feature
    xml = render_datacite_xml(work)
    assert_xml_valid(datacite_xsd, xml)
    # When it is read into a Work and written again
    again, problems = datacite_xml_to_work(xml, work_id=work.id)
    # Then nothing was reported lost, and the second record says what the first said
    assert problems == []
    assert differences(xml, render_datacite_xml(again)) == []
    # and the kernel parts of the Work came back as they were (a related item the container
    # could hold exactly may come back as the container: the XML above is the same)
    for field in KERNEL:
        assert getattr(again, field) == getattr(work, field), field


@settings(max_examples=15, deadline=None, suppress_health_check=_SLOW_OK)
@given(work=kernel_works())
def test_datacite_json_round_trip_keeps_the_kernel_parts(work):
    attrs = render_datacite_attributes(work)
    again, problems = datacite_attributes_to_work(attrs, work_id=work.id)
    assert problems == []
    assert render_datacite_attributes(again) == attrs
    for field in KERNEL:
        assert getattr(again, field) == getattr(work, field), field


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_work_stored_before_the_kernel_fields_loads_unchanged(name):
    # Stored Works are read back through validate_work (registrars, ORCID): every new field
    # is optional and an empty one is not written, so a stored Work loads as it was stored
    # (no data migration) and its DataCite payload is the one the golden files hold.
    stored = json.loads(json.dumps(EXAMPLES[name]))
    again = validate_work(stored)
    assert work_to_json(again) == work_to_json(validate_work(EXAMPLES[name]))
    assert not set(work_to_json(again)) - set(stored) - {"container"}
