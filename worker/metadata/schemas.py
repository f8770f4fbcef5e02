"""Check rendered output against the official schemas, when they are at hand.

The only module of the metadata layer that reads files: the schemas come from
``worker.reference`` (compiled once per process). JSON targets are checked through their XML
twin where the agency publishes only an XSD (DataCite attributes → DataCite XML, ORCID JSON →
ORCID XML), which is how the agencies themselves validate them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from lxml import etree

from worker import reference
from worker.metadata.render.datacite_xml import attributes_to_xml
from worker.metadata.render.orcid_xml import BULK_NS, NSMAP, orcid_json_to_element
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
        attributes = payload.get("data", {}).get("attributes", payload)
        return _check_xml("datacite", attributes_to_xml(attributes), "via DataCite XML")
    if target == "orcid-json":
        if "bulk" in payload:
            root = etree.Element("{" + BULK_NS + "}bulk", nsmap={"bulk": BULK_NS, **NSMAP})
            for item in payload["bulk"]:
                root.append(orcid_json_to_element(item["work"]))
            return _check_xml("orcid-bulk", etree.tostring(root), "via ORCID XML")
        return _check_xml(
            "orcid-work", etree.tostring(orcid_json_to_element(payload)), "via ORCID XML"
        )
    if target == "orcid-xml" and "bulk" in str(payload)[:200]:
        return _check_xml("orcid-bulk", payload)
    return _check_xml(_XSD_TARGETS[target], payload)


def _absent(name: str) -> SchemaCheck:
    return SchemaCheck(
        None, [], f"the official {name} schema is not at hand (see worker.reference)"
    )


def _check_xml(name: str, xml: str | bytes, note: str = "") -> SchemaCheck:
    schema = reference.xsd(name)
    if schema is None:
        return _absent(name)
    data = xml.encode() if isinstance(xml, str) else xml
    document = etree.fromstring(data, _PARSER)
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
