"""What differs between affiliations, fundings and peer reviews, as three small descriptors.

Each says how to read an assertion's stored data (the metadata model), which ORCID section it
goes to, on whose records, how it renders (with the owning client's organisation when the item
names none), where its ``self`` ids are, and whether ORCID answers a duplicate with 409.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from worker.metadata.orcid_items import (
    Affiliation,
    Funding,
    Organization,
    Review,
    validate_affiliation,
    validate_funding,
    validate_organization,
    validate_review,
)
from worker.metadata.render.orcid_affiliation import render_affiliation_json
from worker.metadata.render.orcid_funding import render_funding_json
from worker.metadata.render.orcid_json import source_work_id
from worker.metadata.render.orcid_peer_review import render_review_json
from worker.models import OrcidItemKind
from worker.orcid.client import normalise_external_id, self_ids

if TYPE_CHECKING:
    from worker.config import Settings


@dataclass(frozen=True)
class Kind:
    kind: OrcidItemKind
    read: Callable[[dict[str, Any]], Any]
    section: Callable[[Any], str]
    orcids: Callable[[Any], list[str]]
    render: Callable[[Any, str, Organization | None], dict[str, Any]]
    #: Where the item's own ids are in its ORCID body.
    ids_key: str = "external-ids"
    #: ORCID refuses a second item from the same client sharing a ``self`` id (409/9021).
    duplicates_refused: bool = False

    def self_ids(self, body: dict[str, Any]) -> frozenset[tuple[str, str]]:
        return self_ids((body.get(self.ids_key) or {}).get("external-id") or [])


def _affiliation(item: Affiliation, source: str, org: Organization | None) -> dict[str, Any]:
    return render_affiliation_json(item, source=source, organization=org)


def _funding(item: Funding, source: str, _org: Organization | None) -> dict[str, Any]:
    return render_funding_json(item, source=source)


def _review(item: Review, source: str, org: Organization | None) -> dict[str, Any]:
    return render_review_json(item, source=source, organization=org)


KINDS: dict[OrcidItemKind, Kind] = {
    OrcidItemKind.AFFILIATION: Kind(
        kind=OrcidItemKind.AFFILIATION,
        read=validate_affiliation,
        section=lambda item: str(item.kind),
        orcids=lambda item: [item.orcid],
        render=_affiliation,
    ),
    OrcidItemKind.FUNDING: Kind(
        kind=OrcidItemKind.FUNDING,
        read=validate_funding,
        section=lambda _item: "funding",
        orcids=lambda item: item.orcids(),
        render=_funding,
        duplicates_refused=True,
    ),
    OrcidItemKind.REVIEW: Kind(
        kind=OrcidItemKind.REVIEW,
        read=validate_review,
        section=lambda _item: "peer-review",
        orcids=lambda item: [item.orcid],
        render=_review,
        ids_key="review-identifiers",
        duplicates_refused=True,
    ),
}


def home_organization(settings: Settings, owner: str) -> Organization | None:
    """The owning intake client's configured organisation (None: it has none)."""
    client = settings.intake_clients.get(owner)
    if client is None or client.organization is None:
        return None
    return validate_organization(client.organization.model_dump(exclude_none=True))


def source_key(source: str, item_id: str) -> frozenset[tuple[str, str]]:
    """The ``source-work-id`` every item pidsync writes carries: how it finds its own."""
    return frozenset({normalise_external_id("source-work-id", source_work_id(source, item_id))})


def digest(body: dict[str, Any]) -> str:
    """What was last confirmed on the record (an unchanged body is not sent again)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
