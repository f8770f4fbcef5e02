"""ORCID placement decisions. This version places nothing and says so in the event outcome."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from worker.models import OrcidGrant, Work
from worker.orcid.grants import can_write


def _has_orcid_contributors(work: Work) -> bool:
    contributors = work.work_metadata.get("contributors") or []
    return any(isinstance(c, dict) and c.get("orcid") for c in contributors)


def on_work_changed(_session: Session, work: Work) -> str | None:
    return "ORCID placement is not implemented yet" if _has_orcid_contributors(work) else None


def on_work_withdrawn(_session: Session, work: Work) -> str | None:
    return "ORCID removal is not implemented yet" if _has_orcid_contributors(work) else None


def on_grant_stored(_session: Session, grant: OrcidGrant) -> str | None:
    if not can_write(grant):
        return None
    return "placing existing works is not implemented yet"


def on_researcher_revoked(_session: Session, data: dict[str, Any]) -> str:
    return (
        f"revocation of {data['orcid']}'s grant at ORCID is not implemented yet; "
        "the grant is unchanged"
    )
