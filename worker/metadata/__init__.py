"""The metadata layer: the canonical Work, its renderers and adapters. Pure: no I/O (only
``worker.metadata.schemas`` reads the official schema files, for validation).

Renderers live in ``worker.metadata.render.<target>``, adapters in ``worker.metadata.adapters``.
"""

from worker.metadata.errors import (
    InputError,
    MetadataError,
    MissingFields,
    Unrepresentable,
    WorkValidationError,
)
from worker.metadata.hashing import crossref_record_hash, payload_hash
from worker.metadata.types import ContributorRole, WorkType
from worker.metadata.work import Work, validate_work, work_json_schema, work_to_json

__all__ = [
    "ContributorRole",
    "InputError",
    "MetadataError",
    "MissingFields",
    "Unrepresentable",
    "Work",
    "WorkType",
    "WorkValidationError",
    "crossref_record_hash",
    "payload_hash",
    "validate_work",
    "work_json_schema",
    "work_to_json",
]
