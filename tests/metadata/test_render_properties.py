"""Property: every valid Work renders to schema-valid output for every target, or (when it
lacks what the target needs, or holds what the target cannot) fails with a typed error naming
the fields. Never an invalid file."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.metadata.conftest import assert_json_valid, assert_xml_valid
from tests.metadata.strategies import work_dicts, works
from worker.metadata.errors import MissingFields, Unrepresentable
from worker.metadata.render.bibtex import render_bibtex
from worker.metadata.render.crossref_xml import render_crossref_deposit
from worker.metadata.render.csl import render_csl
from worker.metadata.render.datacite_json import render_datacite_attributes
from worker.metadata.render.datacite_xml import attributes_to_xml, render_datacite_xml
from worker.metadata.render.orcid_json import render_orcid_bulk, render_orcid_work
from worker.metadata.render.orcid_xml import render_orcid_bulk_xml, render_orcid_xml
from worker.metadata.render.ris import render_ris
from worker.metadata.types import WorkType
from worker.metadata.work import Work

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]
PER_TYPE = settings(max_examples=12, deadline=None, suppress_health_check=_SLOW_OK)
ANY = settings(max_examples=60, deadline=None, suppress_health_check=_SLOW_OK)
HEAD = {
    "doi_batch_id": "batch-0001",
    "depositor_name": "pidsync",
    "depositor_email": "pid@example.org",
    "registrant": "Example",
}


def _crossref(work: Work) -> str:
    return render_crossref_deposit([work], timestamps={work.doi: 20240101000000000}, **HEAD)


@pytest.mark.parametrize("work_type", list(WorkType))
@PER_TYPE
@given(data=st.data())
def test_complete_work_of_every_type_renders_valid_everywhere(
    work_type, data, datacite_xsd, crossref_xsd, orcid_work_xsd, csl_validator
):
    # Given a Work of this type holding everything every target needs
    work = data.draw(works(work_type, complete=True))
    # Then each target renders it, and the result is valid against the official schema
    assert_xml_valid(datacite_xsd, render_datacite_xml(work))
    assert_xml_valid(datacite_xsd, attributes_to_xml(render_datacite_attributes(work)))
    assert_xml_valid(crossref_xsd, _crossref(work))
    assert_xml_valid(orcid_work_xsd, render_orcid_xml(work, source="cris"))
    assert_json_valid(csl_validator, [render_csl(work)])
    body = render_orcid_work(work, source="cris")
    assert body["title"]["title"]["value"]
    assert len(body["title"]["title"]["value"]) <= 1000
    assert len(body.get("short-description", "")) <= 5000
    json.dumps(body)  # JSON-serialisable as is
    assert render_bibtex(work).startswith("@")
    assert render_ris(work).endswith("ER  - \n")


@ANY
@given(work=works())
def test_any_work_renders_valid_or_names_what_is_missing(
    work, datacite_xsd, crossref_xsd, orcid_work_xsd, csl_validator
):
    # ORCID, CSL, BibTeX and RIS need nothing beyond a valid Work
    assert_xml_valid(orcid_work_xsd, render_orcid_xml(work, source="s"))
    assert_json_valid(csl_validator, [render_csl(work)])
    render_bibtex(work)
    render_ris(work)
    # DataCite and Crossref either produce a valid file or a typed error naming fields
    for render, schema in ((render_datacite_xml, datacite_xsd), (_crossref, crossref_xsd)):
        xml, error = _outcome(render, work)
        if isinstance(error, MissingFields):
            assert error.fields, "MissingFields must name fields"
            for field in error.fields:
                # a path into the Work, possibly qualified: related_identifiers[relation_type=X]
                assert re.split(r"[.\[]", field)[0] in Work.model_fields
        elif isinstance(error, Unrepresentable):
            assert error.problems
            assert all(path for path, _ in error.problems)
        else:
            assert xml is not None
            assert_xml_valid(schema, xml)


def _outcome(render, work):
    try:
        return render(work), None
    except (MissingFields, Unrepresentable) as exc:
        return None, exc


@settings(max_examples=10, deadline=None, suppress_health_check=_SLOW_OK)
@given(items=st.lists(works(), min_size=1, max_size=5))
def test_orcid_bulk_is_valid(items, orcid_bulk_xsd):
    assert_xml_valid(orcid_bulk_xsd, render_orcid_bulk_xml(items, source="cris"))
    assert len(render_orcid_bulk(items, source="cris")["bulk"]) == len(items)


@settings(max_examples=6, deadline=None, suppress_health_check=_SLOW_OK)
@given(data=st.data())
def test_many_records_of_one_prefix_and_kind_make_one_valid_deposit(data, crossref_xsd):
    kind = data.draw(
        st.sampled_from([WorkType.JOURNAL_ARTICLE, WorkType.DATASET, WorkType.PREPRINT])
    )
    drawn = data.draw(st.lists(work_dicts(kind, complete=True), min_size=2, max_size=3))
    for index, item in enumerate(drawn):
        item["doi"] = f"10.5555/item-{index}"
    batch = [Work.model_validate(item) for item in drawn]
    stamps = {w.doi: 20240101000000000 + i for i, w in enumerate(batch)}
    xml = render_crossref_deposit(batch, timestamps=stamps, **HEAD)
    assert_xml_valid(crossref_xsd, xml)
    assert xml.count("<doi_data>") == len(batch)
    assert f"<timestamp>{max(stamps.values())}</timestamp>" in xml.split("</head>")[0]
