"""ORCID v3.0 vocabularies (orcid-model ``jaxb/model/common/*.java``; API_FACTS §1.5)."""

from __future__ import annotations

WORK_TYPES = (
    "annotation",
    "artistic-performance",
    "blog-post",
    "book-chapter",
    "book-review",
    "book",
    "cartographic-material",
    "clinical-study",
    "conference-abstract",
    "conference-output",
    "conference-paper",
    "conference-poster",
    "conference-presentation",
    "conference-proceedings",
    "data-management-plan",
    "data-set",
    "design",
    "dictionary-entry",
    "disclosure",
    "dissertation-thesis",
    "edited-book",
    "encyclopedia-entry",
    "image",
    "invention",
    "journal-article",
    "journal-issue",
    "learning-object",
    "lecture-speech",
    "license",
    "magazine-article",
    "manual",
    "moving-image",
    "musical-composition",
    "newsletter-article",
    "newspaper-article",
    "online-resource",
    "other",
    "patent",
    "physical-object",
    "preprint",
    "public-speech",
    "registered-copyright",
    "report",
    "research-technique",
    "research-tool",
    "review",
    "software",
    "sound",
    "spin-off-company",
    "standards-and-policy",
    "supervised-student-publication",
    "technical-standard",
    "test",
    "trademark",
    "transcription",
    "translation",
    "website",
    "working-paper",
    "undefined",
)

RELATIONSHIPS = ("self", "part-of", "version-of", "funded-by")

CITATION_TYPES = (
    "formatted-unspecified",
    "bibtex",
    "formatted-apa",
    "formatted-harvard",
    "formatted-ieee",
    "formatted-mla",
    "formatted-vancouver",
    "formatted-chicago",
    "ris",
)

SEQUENCES = ("first", "additional")

_CREDIT = "http://credit.niso.org/contributor-roles/"
CONTRIBUTOR_ROLES = (
    "author",
    "assignee",
    "editor",
    "chair-or-translator",
    "co-investigator",
    "co-inventor",
    "graduate-student",
    "other-inventor",
    "principal-investigator",
    "postdoctoral-researcher",
    "support-staff",
    *(
        _CREDIT + role + "/"
        for role in (
            "conceptualization",
            "data-curation",
            "formal-analysis",
            "funding-acquisition",
            "investigation",
            "methodology",
            "project-administration",
            "resources",
            "software",
            "supervision",
            "validation",
            "visualization",
            "writing-original-draft",
            "writing-review-editing",
        )
    ),
)

VISIBILITIES = ("private", "limited", "registered-only", "public")

#: The language codes listed in common-3.0.xsd (``LanguageCode.java``).
LANGUAGE_CODES = tuple(
    (
        "ab aa af ak sq am ar an hy as av ae ay az bm ba eu be bn bh bi bs br bg my ca ch ce "
        "zh_CN zh_TW cu cv kw co cr hr cs da dv nl dz en eo et ee fo fj fi fr fy ff gl lg ka de "
        "el kl gn gu ht ha iw hz hi ho hu is io ig in ia ie iu ik ga it ja jv kn kr ks kk km ki "
        "rw ky kv kg ko ku kj lo la lv li ln lt lu lb mk mg ms ml mt gv mi mr mh mo mn na nv ng "
        "ne nd se no nb nn ny oc oj or om os pi pa fa pl pt ps qu rm ro rn ru sm sg sa sc gd sr "
        "sn ii sd si sk sl so nr st es su sw ss sv tl ty tg ta tt te th bo ti to ts tn tr tk tw "
        "ug uk ur uz ve vi vo wa cy wo xh ji yo za zu"
    ).split()
)

#: Work external-id types the sandbox accepts: the API type names of ORCID's identifier
#: registry (``GET /v3.0/identifiers``) as of 2024.
EXTERNAL_ID_TYPES = frozenset(
    (
        "agr ark arxiv asin asin-tld authenticusid bibcode cba cienciaiul cit cstr ctx dnb doi "
        "eid emdb empiar ethos grant_number hal handle hir isbn ismn issn jfm jstor k10plus kuid "
        "lccn lensid mr oclc ol osti other-id pat pdb pmc pmid ppr proposal-id rfc rrid "
        "source-work-id ssrn swh uri urn w3id wosuid zbl"
    ).split()
)

NOTIFICATION_ITEM_TYPES = (
    "employment",
    "education",
    "qualification",
    "invited-position",
    "distinction",
    "membership",
    "service",
    "funding",
    "work",
    "peer-review",
)
