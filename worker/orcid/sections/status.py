"""The status of an affiliation, funding or peer review for its owning client: what was
asserted, and each researcher's ORCID item (state, put-code, section, last error)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from worker.models import OrcidItemKind
from worker.orcid.sections import repository


def item_status(
    session: Session, kind: OrcidItemKind, source: str, external_id: str, *, owner: str | None
) -> dict[str, Any] | None:
    """None when there is no such item or (``owner`` given) another client owns it: the two
    answers look the same to the caller."""
    row = repository.find_assertion(session, kind, source, external_id)
    if row is None or (owner is not None and row.client_id != owner):
        return None
    return {
        "kind": row.kind.value,
        "source": row.source,
        "id": row.external_id,
        "version": row.version,
        "withdrawn": row.withdrawn_at is not None,
        "withdrawn_at": row.withdrawn_at.isoformat() if row.withdrawn_at else None,
        "data": row.data,
        "orcid": [
            {
                "orcid": item.orcid,
                "section": item.section,
                "client_id": item.client_id,  # None while the researcher has not authorised
                "state": item.state.value,
                "put_code": item.put_code,
                "attempts": item.attempts,
                "last_error": item.last_error,
                "next_attempt_at": item.next_attempt_at.isoformat()
                if item.next_attempt_at
                else None,
                "placed_at": item.placed_at.isoformat() if item.placed_at else None,
            }
            for item in sorted(row.items, key=lambda i: i.id)
        ],
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
    }
