"""Check rendered output against the official schemas, when they are at hand.

The only module of the metadata layer that reads files: the schemas come from
``worker.reference`` (compiled once per process). JSON targets are checked through their XML
twin where the agency publishes only an XSD (DataCite attributes → DataCite XML, ORCID JSON →
ORCID XML), which is how the agencies themselves validate them. Before converting, every key
of the JSON is checked against what the conversion carries, so a key the XML would silently
lose, or a value of the wrong kind, is a validation error rather than a pass or a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from lxml import etree

from worker import reference
from worker.metadata.render.datacite_xml import attributes_problems, attributes_to_xml
from worker.metadata.render.orcid_xml import (
    BULK_NS,
    NSMAP,
    orcid_json_problems,
    orcid_json_to_element,
)
from worker.metadata.work import work_json_schema

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


@dataclass(frozen=True)
class SchemaCheck:
    """Outcome of checking one output: which schema (None: none at hand), and the errors."""

    schema: str | None
    errors: list[str]
    note: str = ""

    @property
    def valid(self) -> bool:
        return not self.errors


_XSD_TARGETS = {"datacite-xml": "datacite", "crossref-xml": "crossref", "orcid-xml": "orcid-work"}
NO_SCHEMA = {"bibtex": "BibTeX has no official schema", "ris": "RIS has no official schema"}
DATACITE_VIA = (
    "DataCite JSON: every key checked against what the conversion carries, then converted to "
    "DataCite XML and that validated"
)
ORCID_VIA = (
    "ORCID JSON: every key checked against what the conversion carries, then converted to "
    "ORCID XML and that validated"
)
# What converting JSON to its XML twin can raise on input of an unexpected shape.
_CONVERSION_ERRORS = (KeyError, TypeError, AttributeError, ValueError, IndexError)


def check_output(target: str, payload: Any) -> SchemaCheck:
    """Check ``payload`` (rendered for ``target``) against the official schema."""
    if target in NO_SCHEMA:
        return SchemaCheck(None, [], NO_SCHEMA[target])
    if target == "work":
        return _check_json(payload, work_json_schema(), "the Work JSON Schema (generated)")
    if target == "csl":
        schema = reference.csl_schema()
        if schema is None:
            return _absent("csl")
        items = payload if isinstance(payload, list) else [payload]
        return _check_json(items, schema, str(reference.schema_path("csl")))
    if target == "datacite-json":
        return _check_datacite_json(payload)
    if target == "orcid-json":
        return _check_orcid_json(payload)
    if target == "orcid-xml":
        root = _parse(payload)
        bulk = root is not None and root.tag == "{" + BULK_NS + "}bulk"
        return _check_xml("orcid-bulk" if bulk else "orcid-work", payload)
    return _check_xml(_XSD_TARGETS[target], payload)


def _check_datacite_json(payload: Any) -> SchemaCheck:
    attributes = payload
    if isinstance(payload, dict) and "data" in payload:
        data = payload["data"]
        attributes = data.get("attributes") if isinstance(data, dict) else None
        if attributes is None:
            return _shape_failure("datacite", ["data: expected an object with attributes"])
    problems = attributes_problems(attributes)
    if problems:
        return _shape_failure("datacite", problems)
    try:
        xml = attributes_to_xml(attributes)
    except _CONVERSION_ERRORS as exc:
        return _shape_failure("datacite", [f"cannot be converted to DataCite XML: {exc!r}"])
    return _check_xml("datacite", xml, DATACITE_VIA)


def _check_orcid_json(payload: Any) -> SchemaCheck:
    bulk = isinstance(payload, dict) and "bulk" in payload
    name = "orcid-bulk" if bulk else "orcid-work"
    problems = orcid_json_problems(payload)
    if problems:
        return _shape_failure(name, problems, ORCID_VIA)
    try:
        if bulk:
            root = etree.Element("{" + BULK_NS + "}bulk", nsmap={"bulk": BULK_NS, **NSMAP})
            for item in payload["bulk"]:
                root.append(orcid_json_to_element(item["work"]))
        else:
            root = orcid_json_to_element(payload)
    except _CONVERSION_ERRORS as exc:
        return _shape_failure(name, [f"cannot be converted to ORCID XML: {exc!r}"], ORCID_VIA)
    return _check_xml(name, etree.tostring(root), ORCID_VIA)


def _shape_failure(name: str, problems: list[str], note: str = DATACITE_VIA) -> SchemaCheck:
    """JSON that cannot be checked through its XML twin: each problem is a validation error."""
    path = reference.schema_path(name)
    label = str(path) if path is not None else f"the shape pidsync converts to {name} XML"
    return SchemaCheck(label, problems, note)


def _absent(name: str) -> SchemaCheck:
    return SchemaCheck(
        None, [], f"the official {name} schema is not at hand (see worker.reference)"
    )


def _parse(xml: str | bytes) -> etree._Element | None:
    data = xml.encode() if isinstance(xml, str) else xml
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:
        return None


def _check_xml(name: str, xml: str | bytes, note: str = "") -> SchemaCheck:
    schema = reference.xsd(name)
    if schema is None:
        return _absent(name)
    data = xml.encode() if isinstance(xml, str) else xml
    try:
        document = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        return SchemaCheck(str(reference.schema_path(name)), [f"not well-formed XML: {exc}"], note)
    schema.validate(document)
    errors = [f"line {e.line}: {e.message}" for e in schema.error_log]
    return SchemaCheck(str(reference.schema_path(name)), errors, note)


def _check_json(payload: Any, schema: dict[str, Any], label: str) -> SchemaCheck:
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)
    errors = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(payload)
    ]
    return SchemaCheck(label, errors)
