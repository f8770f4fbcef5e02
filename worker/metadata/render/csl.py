"""Work → CSL-JSON (one item; valid against csl-data.json as ``[item]``).

Requires nothing beyond a valid Work. Only properties the CSL schema knows are written (it
forbids others), so funding, licence and related identifiers are not carried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worker.metadata.types import ROLES, mapping

if TYPE_CHECKING:
    from worker.metadata.work import Contributor, Work


def csl_name(contributor: Contributor) -> dict[str, str]:
    if contributor.is_person and contributor.family:
        name = {"family": contributor.family}
        if contributor.given:
            name["given"] = contributor.given
        return name
    return {"literal": contributor.full_name}


def render_csl(work: Work) -> dict[str, Any]:
    """The CSL-JSON item for ``work`` (``id`` is the Work's id)."""
    row = mapping(work.type)
    item: dict[str, Any] = {"id": work.id, "type": row.csl, "title": work.title}
    for contributor in work.contributors:
        variable = ROLES[contributor.role].csl
        if variable:
            item.setdefault(variable, []).append(csl_name(contributor))
    container = work.container
    event = work.event
    optional: dict[str, Any] = {
        "title-short": work.title if work.subtitle else None,
        "genre": row.csl_genre,
        "issued": {"date-parts": [work.date_parts()]} if work.publication_date else None,
        "container-title": container.title if container else None,
        "volume": container.volume if container else None,
        "issue": container.issue if container else None,
        "page": container.pages if container else None,
        "page-first": container.first_page if container else None,
        "ISSN": (container.issn or container.eissn) if container else None,
        "ISBN": container.isbn if container else None,
        "event-title": event.name if event else None,
        "event-place": event.location if event else None,
        "publisher": work.publisher,
        "DOI": work.doi,
        "URL": work.url,
        "abstract": work.abstract,
        "language": work.language,
        "version": work.resource_version,
        "keyword": ", ".join(work.keywords) if work.keywords else None,
    }
    if work.subtitle:
        item["title"] = f"{work.title}: {work.subtitle}"
    item.update({key: value for key, value in optional.items() if value})
    return item
