"""Controlled vocabularies the Work borrows from DataCite (Metadata Schema 4.7), where DataCite
has the fullest list: resource types, contributor types, relation types, related identifier
types, date, title, description and funder identifier types, number types.

Each list is the enumeration of the kernel 4.7 XSD's ``include/datacite-*-v4.xsd``, value for
value (``tests/metadata/test_vocab.py`` compares them), so a record DataCite accepts never
loses a value to a shorter table here.
"""

from __future__ import annotations

from typing import Literal, get_args

ResourceTypeGeneral = Literal[
    "Audiovisual", "Award", "Book", "BookChapter", "Collection", "ComputationalNotebook",
    "ConferencePaper", "ConferenceProceeding", "DataPaper", "Dataset", "Dissertation", "Event",
    "Image", "Instrument", "InteractiveResource", "Journal", "JournalArticle", "Model",
    "OutputManagementPlan", "PeerReview", "PhysicalObject", "Poster", "Preprint", "Presentation",
    "Project", "Report", "Service", "Software", "Sound", "Standard", "StudyRegistration", "Text",
    "Workflow", "Other",
]  # fmt: skip

ContributorType = Literal[
    "ContactPerson", "DataCollector", "DataCurator", "DataManager", "Distributor", "Editor",
    "HostingInstitution", "Other", "Producer", "ProjectLeader", "ProjectManager", "ProjectMember",
    "RegistrationAgency", "RegistrationAuthority", "RelatedPerson", "ResearchGroup",
    "RightsHolder", "Researcher", "Sponsor", "Supervisor", "Translator", "WorkPackageLeader",
]  # fmt: skip

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
    "Abstract", "Methods", "SeriesInformation", "TableOfContents", "TechnicalInfo", "Other"
]

TitleType = Literal["AlternativeTitle", "Subtitle", "TranslatedTitle", "Other"]

FunderIdentifierType = Literal["ISNI", "GRID", "ROR", "Crossref Funder ID", "Other"]

NumberType = Literal["Article", "Chapter", "Report", "Other"]

NameType = Literal["Organizational", "Personal"]

RESOURCE_TYPES_GENERAL: frozenset[str] = frozenset(get_args(ResourceTypeGeneral))
CONTRIBUTOR_TYPES: frozenset[str] = frozenset(get_args(ContributorType))
RELATION_TYPES: frozenset[str] = frozenset(get_args(RelationType))
RELATED_IDENTIFIER_TYPES: frozenset[str] = frozenset(get_args(RelatedIdentifierType))
DATE_TYPES: frozenset[str] = frozenset(get_args(DateType))
DESCRIPTION_TYPES: frozenset[str] = frozenset(get_args(DescriptionType))
TITLE_TYPES: frozenset[str] = frozenset(get_args(TitleType))
FUNDER_IDENTIFIER_TYPES: frozenset[str] = frozenset(get_args(FunderIdentifierType))
NUMBER_TYPES: frozenset[str] = frozenset(get_args(NumberType))
NAME_TYPES: frozenset[str] = frozenset(get_args(NameType))

#: The kernel XSD (``include/datacite-<name>-v4.xsd``) each vocabulary is taken from.
FROM_XSD: dict[str, frozenset[str]] = {
    "resourceType": RESOURCE_TYPES_GENERAL,
    "contributorType": CONTRIBUTOR_TYPES,
    "relationType": RELATION_TYPES,
    "relatedIdentifierType": RELATED_IDENTIFIER_TYPES,
    "dateType": DATE_TYPES,
    "descriptionType": DESCRIPTION_TYPES,
    "titleType": TITLE_TYPES,
    "funderIdentifierType": FUNDER_IDENTIFIER_TYPES,
    "numberType": NUMBER_TYPES,
    "nameType": NAME_TYPES,
}
