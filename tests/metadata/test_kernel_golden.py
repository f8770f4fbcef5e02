"""Golden records, one per feature of DataCite kernel 4.5-4.7, written from the kernel
documentation (tests/metadata/golden/kernel/). Each is schema-valid, reads into a Work with
nothing reported lost, comes back out the same (order aside), and renders for Crossref, ORCID
and CSL valid against their official schemas, or is refused naming why."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tests.metadata.conftest import assert_json_valid, assert_xml_valid
from tests.metadata.kernel_compare import differences
from worker.metadata.adapters import datacite_xml_to_work
from worker.metadata.errors import MissingFields, Unrepresentable
from worker.metadata.losses import losses
from worker.metadata.render.crossref_xml import render_crossref_deposit
from worker.metadata.render.csl import render_csl
from worker.metadata.render.datacite_xml import render_datacite_xml
from worker.metadata.render.orcid_xml import render_orcid_xml
from worker.metadata.work import validate_work, work_to_json

RECORDS = sorted((Path(__file__).parent / "golden" / "kernel").glob("*.datacite.xml"))
IDS = [path.name.removesuffix(".datacite.xml") for path in RECORDS]


@pytest.mark.parametrize("path", RECORDS, ids=IDS)
def test_kernel_record_round_trip_loses_nothing(path, datacite_xsd):
    record = path.read_bytes()
    assert_xml_valid(datacite_xsd, record.decode())
    work, problems = datacite_xml_to_work(record)
    assert problems == []
    again = render_datacite_xml(work)
    assert_xml_valid(datacite_xsd, again)
    assert differences(record, again) == []


@pytest.mark.parametrize("path", RECORDS, ids=IDS)
def test_kernel_record_renders_valid_elsewhere_or_is_refused(
    path, crossref_xsd, orcid_work_xsd, csl_validator
):
    work, _ = datacite_xml_to_work(path.read_bytes())
    work = validate_work({**work_to_json(work), "url": "https://repo.example.org/1"})
    crossref, refusal = _crossref(work)
    if refusal is not None:
        assert refusal.problems, "a refusal names its reason"
    else:
        assert_xml_valid(crossref_xsd, crossref)
    assert_xml_valid(orcid_work_xsd, render_orcid_xml(work, source="cris"))
    assert_json_valid(csl_validator, [render_csl(work)])
    # what the targets leave out is said, never dropped silently
    if work.geo_locations or work.subjects or work.related_items:
        assert losses(work, "crossref-xml") and losses(work, "orcid-json")


def test_kernel_records_cover_the_4_5_to_4_7_additions():
    said = b"".join(path.read_bytes() for path in RECORDS)
    for feature in (b'resourceTypeGeneral="Instrument"', b'resourceTypeGeneral="StudyRegistration"',
                    b'resourceTypeGeneral="Award"', b'resourceTypeGeneral="Project"',
                    b'resourceTypeGeneral="Poster"', b"relationTypeInformation",
                    b'relationType="HasTranslation"', b"publisherIdentifier",
                    b'relatedIdentifierType="RAiD"', b'relatedIdentifierType="CSTR"',
                    b'contributorType="Translator"'):  # fmt: skip
        assert feature in said, feature
    root = etree.fromstring((RECORDS[0]).read_bytes())
    assert etree.QName(root).localname == "resource"


def _crossref(work):
    try:
        return render_crossref_deposit(
            [work], doi_batch_id="batch-1", timestamps=20240101000000000,
            depositor_name="dep", depositor_email="dep@example.org", registrant="reg",
        ), None  # fmt: skip
    except (MissingFields, Unrepresentable) as exc:
        return None, exc
