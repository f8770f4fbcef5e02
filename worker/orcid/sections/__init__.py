"""ORCID sections beyond works: affiliations, fundings and peer reviews, with the works'
guarantees (DESIGN.md §4): one item per (assertion, researcher, ORCID client) with its put-code,
lost answers recovered by reading the section back, 409 adopted, the researcher's deletions
respected, revoked grants parking them, backfill when a grant arrives.

One engine, three descriptors (:mod:`.kinds`): ``service`` (the event hooks: store the
assertion, decide the items), ``placement`` (make one item true on the record), ``groups``
(peer reviews' group ids), ``client`` (the HTTP calls), ``repository``, ``actors``, ``sweep``,
``status``.
"""
