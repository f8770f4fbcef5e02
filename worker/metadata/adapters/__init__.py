"""Adapters: what people already have (DataCite XML/JSON, CSL-JSON, Crossref REST) → Work.

Each returns ``(work, problems)``: ``problems`` lists, one line each, what the Work could not
represent (never silently dropped).
"""

from worker.metadata.adapters.crossref import crossref_message_to_work
from worker.metadata.adapters.csl import csl_to_work
from worker.metadata.adapters.datacite import datacite_xml_to_attributes
from worker.metadata.adapters.datacite_work import (
    datacite_attributes_to_work,
    datacite_xml_to_work,
    unwrap_attributes,
)

__all__ = [
    "crossref_message_to_work",
    "csl_to_work",
    "datacite_attributes_to_work",
    "datacite_xml_to_attributes",
    "datacite_xml_to_work",
    "unwrap_attributes",
]
