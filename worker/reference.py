"""Where the official schemas live, and compiled copies of them.

The XSDs (DataCite 4.7, Crossref 5.3.1, ORCID 3.0) and the CSL-JSON schema are not shipped with
pidsync: they sit in ``shared/reference/`` beside a checkout, or wherever
``PIDSYNC_REFERENCE_DIR`` points. Everything that validates against them asks here and copes with
``None`` (a user's clone has no ``shared/``).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from lxml import etree

#: Schema names → path inside the reference folder.
XSD_FILES = {
    "datacite": "datacite-kernel-4.7/metadata.xsd",
    "crossref": "crossref-5.3.1/crossref5.3.1.xsd",
    "orcid-work": "orcid-3.0/record_3.0/work-3.0.xsd",
    "orcid-bulk": "orcid-3.0/record_3.0/bulk-3.0.xsd",
    "orcid-error": "orcid-3.0/record_3.0/error-3.0.xsd",
    # The other activity sections (affiliations, fundings, peer reviews): orcid-<section>.
    **{
        f"orcid-{section}": f"orcid-3.0/record_3.0/{section}-3.0.xsd"
        for section in (
            "employment",
            "education",
            "qualification",
            "invited-position",
            "distinction",
            "membership",
            "service",
            "funding",
            "peer-review",
        )
    },
}
# notification-permission-3.0.xsd is not listed: upstream it imports the 2.1 common/activities
# schemas, which the reference bundle does not carry, so it cannot be compiled offline.
CSL_SCHEMA = "csl/csl-data.json"

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def reference_dir() -> Path | None:
    """The folder holding the official schemas, or None when none is at hand."""
    candidates = []
    if env := os.environ.get("PIDSYNC_REFERENCE_DIR"):
        candidates.append(Path(env))
    candidates += [
        Path.cwd().parent / "shared" / "reference",
        _PROJECT_ROOT.parent / "shared" / "reference",
    ]
    for candidate in candidates:
        if (candidate / XSD_FILES["datacite"]).is_file():
            return candidate
    return None


def schema_path(name: str) -> Path | None:
    """Path of a named schema (a key of XSD_FILES, or 'csl'), or None when not at hand."""
    base = reference_dir()
    if base is None:
        return None
    path = base / (CSL_SCHEMA if name == "csl" else XSD_FILES[name])
    return path if path.is_file() else None


@functools.cache
def xsd(name: str) -> etree.XMLSchema | None:
    """The compiled XSD (compiled once per process: Crossref's takes seconds), or None."""
    path = schema_path(name)
    if path is None:
        return None
    return etree.XMLSchema(etree.parse(str(path)))


@functools.cache
def csl_schema() -> dict[str, Any] | None:
    """The CSL-JSON input schema as a dict, or None."""
    path = schema_path("csl")
    if path is None:
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
