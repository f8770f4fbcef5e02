"""Renderers, one module per target, each a pure function of a Work: ``datacite_json``,
``datacite_xml``, ``crossref_xml``, ``orcid_json``, ``orcid_xml``, ``csl``, ``bibtex``, ``ris``.
Each raises ``MissingFields`` / ``Unrepresentable`` rather than write an invalid payload."""
