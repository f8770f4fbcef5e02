"""Researchers' ORCID grants, stored with their tokens as ciphertext only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from worker.models import GrantStatus, OrcidGrant, Researcher

WRITE_SCOPE = "/activities/update"


def get_or_create_researcher(session: Session, orcid: str, name: str | None = None) -> Researcher:
    session.execute(
        insert(Researcher)
        .values(orcid=orcid, name=name)
        .on_conflict_do_nothing(index_elements=[Researcher.orcid])
    )
    researcher = session.execute(select(Researcher).where(Researcher.orcid == orcid)).scalar_one()
    if name and researcher.name != name:
        researcher.name = name
    return researcher


def store_grant(session: Session, data: dict[str, Any]) -> OrcidGrant:
    """Store (or replace) a grant from sealed token data (``*_enc`` fields hold ciphertext)."""
    researcher = get_or_create_researcher(session, data["orcid"], data.get("name"))
    grant = session.execute(
        select(OrcidGrant)
        .where(OrcidGrant.researcher_id == researcher.id, OrcidGrant.client_id == data["client_id"])
        .with_for_update()
    ).scalar_one_or_none()
    if grant is None:
        grant = OrcidGrant(researcher_id=researcher.id, client_id=data["client_id"])
        session.add(grant)
    grant.scope = data["scope"]
    grant.access_token_enc = data["access_token_enc"].encode()
    refresh = data.get("refresh_token_enc")
    grant.refresh_token_enc = refresh.encode() if refresh else None
    expires_in = data.get("expires_in")
    grant.expires_at = (
        datetime.now(UTC) + timedelta(seconds=expires_in) if expires_in is not None else None
    )
    grant.status = GrantStatus.ACTIVE
    grant.revoked_at = None
    grant.revoked_reason = None
    session.flush()
    return grant


def can_write(grant: OrcidGrant) -> bool:
    return grant.status == GrantStatus.ACTIVE and WRITE_SCOPE in grant.scope.split()
