"""Compiled official schemas, once per test session; tests skip (saying why) without them."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from lxml import etree

from worker import reference

SKIP_REASON = "official {} schema not at hand (../shared/reference or PIDSYNC_REFERENCE_DIR)"


def _xsd(name: str) -> etree.XMLSchema:
    schema = reference.xsd(name)  # compiled once per process (functools.cache)
    if schema is None:
        pytest.skip(SKIP_REASON.format(name))
    return schema


@pytest.fixture(scope="session")
def datacite_xsd() -> etree.XMLSchema:
    return _xsd("datacite")


@pytest.fixture(scope="session")
def crossref_xsd() -> etree.XMLSchema:
    return _xsd("crossref")


@pytest.fixture(scope="session")
def orcid_work_xsd() -> etree.XMLSchema:
    return _xsd("orcid-work")


@pytest.fixture(scope="session")
def orcid_bulk_xsd() -> etree.XMLSchema:
    return _xsd("orcid-bulk")


@pytest.fixture(scope="session")
def csl_validator() -> Any:
    schema = reference.csl_schema()
    if schema is None:
        pytest.skip(SKIP_REASON.format("CSL-JSON"))
    return jsonschema.Draft7Validator(schema)


def assert_xml_valid(schema: etree.XMLSchema, xml: str) -> None:
    document = etree.fromstring(xml.encode())
    if not schema.validate(document):
        errors = "\n".join(f"line {e.line}: {e.message}" for e in schema.error_log)
        raise AssertionError(f"not schema-valid:\n{errors}\n---\n{xml[:3000]}")


def assert_json_valid(validator: Any, data: Any) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert not errors, errors
