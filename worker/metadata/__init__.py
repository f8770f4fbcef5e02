"""The metadata layer: the canonical Work, its renderers and adapters. Pure: no I/O."""

from worker.metadata.errors import (
    InputError,
    MetadataError,
    MissingFields,
    Unrepresentable,
    WorkValidationError,
)
from worker.metadata.types import ContributorRole, WorkType
from worker.metadata.work import Work, validate_work, work_json_schema

__all__ = [
    "ContributorRole",
    "InputError",
    "MetadataError",
    "MissingFields",
    "Unrepresentable",
    "Work",
    "WorkType",
    "WorkValidationError",
    "validate_work",
    "work_json_schema",
]
