"""Where the official schemas live, and compiled copies of them.

The XSDs (DataCite 4.7, Crossref 5.3.1, ORCID 3.0) and the CSL-JSON schema are not shipped with
pidsync. They are looked for, in order: in the directory the user names (``PIDSYNC_SCHEMA_DIR``,
``pidsync render --schemas DIR``: that one alone), in ``PIDSYNC_REFERENCE_DIR``, in
``shared/reference/`` beside a checkout, and in the data directory's ``schemas/`` (where
``worker.reference_fetch`` puts them, fetched from their official URLs on first use).
Everything that validates against them asks here and copes with ``None``.
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


def named_dir() -> Path | None:
    """The directory the user named for the schemas (PIDSYNC_SCHEMA_DIR), if any."""
    env = os.environ.get("PIDSYNC_SCHEMA_DIR")
    return Path(env) if env else None


def data_schema_dir() -> Path:
    """Where fetched schemas are kept: ``schemas/`` in the data directory (PIDSYNC_DATA_DIR,
    default ~/.local/share/pidsync, as ``worker.config.Settings.data_dir``)."""
    base = os.environ.get("PIDSYNC_DATA_DIR")
    root = Path(base) if base else Path.home() / ".local" / "share" / "pidsync"
    return root / "schemas"


def reference_dir() -> Path | None:
    """The folder holding the official schemas, or None when none is at hand."""
    if (named := named_dir()) is not None:
        return named if (named / XSD_FILES["datacite"]).is_file() else None
    candidates = []
    if env := os.environ.get("PIDSYNC_REFERENCE_DIR"):
        candidates.append(Path(env))
    candidates += [
        Path.cwd().parent / "shared" / "reference",
        _PROJECT_ROOT.parent / "shared" / "reference",
        data_schema_dir(),
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


def xsd(name: str) -> etree.XMLSchema | None:
    """The compiled XSD (compiled once per process and file: Crossref's takes seconds), or
    None."""
    path = schema_path(name)
    return None if path is None else _compile(str(path))


@functools.cache
def _compile(path: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(path))


def csl_schema() -> dict[str, Any] | None:
    """The CSL-JSON input schema as a dict, or None."""
    path = schema_path("csl")
    return None if path is None else _load_json(str(path))


@functools.cache
def _load_json(path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return loaded
