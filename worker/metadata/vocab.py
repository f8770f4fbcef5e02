"""Controlled vocabularies the Work borrows from DataCite (Metadata Schema 4.7), where DataCite
has the fullest list: relation types, related identifier types, date and description types."""

from __future__ import annotations

from typing import Literal, get_args

RelationType = Literal[
    "IsCitedBy", "Cites", "IsSupplementTo", "IsSupplementedBy", "IsContinuedBy", "Continues",
    "IsNewVersionOf", "IsPreviousVersionOf", "IsPartOf", "HasPart", "IsPublishedIn",
    "IsReferencedBy", "References", "IsDocumentedBy", "Documents", "IsCompiledBy", "Compiles",
    "IsVariantFormOf", "IsOriginalFormOf", "IsIdenticalTo", "HasMetadata", "IsMetadataFor",
    "Reviews", "IsReviewedBy", "IsDerivedFrom", "IsSourceOf", "Describes", "IsDescribedBy",
    "HasVersion", "IsVersionOf", "Requires", "IsRequiredBy", "Obsoletes", "IsObsoletedBy",
    "Collects", "IsCollectedBy", "HasTranslation", "IsTranslationOf", "Other",
]  # fmt: skip

RelatedIdentifierType = Literal[
    "ARK", "arXiv", "bibcode", "CSTR", "DOI", "EAN13", "EISSN", "Handle", "IGSN", "ISBN", "ISSN",
    "ISTC", "LISSN", "LSID", "PMID", "PURL", "RAiD", "RRID", "SWHID", "UPC", "URL", "URN", "w3id",
]  # fmt: skip

DateType = Literal[
    "Accepted", "Available", "Collected", "Copyrighted", "Coverage", "Created", "Issued", "Other",
    "Submitted", "Updated", "Valid", "Withdrawn",
]  # fmt: skip

DescriptionType = Literal[
    "Methods", "SeriesInformation", "TableOfContents", "TechnicalInfo", "Other"
]

TitleType = Literal["AlternativeTitle", "TranslatedTitle", "Other"]

RELATION_TYPES: frozenset[str] = frozenset(get_args(RelationType))
RELATED_IDENTIFIER_TYPES: frozenset[str] = frozenset(get_args(RelatedIdentifierType))
DATE_TYPES: frozenset[str] = frozenset(get_args(DateType))
DESCRIPTION_TYPES: frozenset[str] = frozenset(get_args(DescriptionType))
TITLE_TYPES: frozenset[str] = frozenset(get_args(TitleType))
