"""The Work's DataCite vocabularies are the kernel 4.7 XSD's enumerations, value for value."""

from __future__ import annotations

import pytest
from lxml import etree

from worker import reference
from worker.metadata.render.datacite_json import work_to_attributes
from worker.metadata.vocab import FROM_XSD, RESOURCE_TYPES_GENERAL
from worker.metadata.work import validate_work

XS = "{http://www.w3.org/2001/XMLSchema}"


def _enumeration(name: str) -> set[str]:
    base = reference.reference_dir()
    if base is None:
        pytest.skip("the DataCite kernel 4.7 XSDs are not at hand")
    path = base / "datacite-kernel-4.7" / "include" / f"datacite-{name}-v4.xsd"
    tree = etree.parse(str(path))
    return {e.get("value") for e in tree.iter(XS + "enumeration")}


@pytest.mark.parametrize("name", sorted(FROM_XSD))
def test_vocabulary_is_the_kernel_enumeration(name):
    assert set(FROM_XSD[name]) == _enumeration(name)


@pytest.mark.parametrize("general", sorted(RESOURCE_TYPES_GENERAL))
def test_every_resource_type_general_reaches_datacite(general):
    work = validate_work(
        {"id": "w", "type": "journal-article", "title": "T", "resource_type_general": general}
    )
    types = work_to_attributes(work)["types"]
    assert types == {"resourceTypeGeneral": general, "resourceType": "Journal article"}


def test_a_resource_type_general_outside_the_kernel_is_refused():
    with pytest.raises(ValueError, match="resource_type_general"):
        validate_work({"id": "w", "type": "other", "title": "T", "resource_type_general": "Film"})
