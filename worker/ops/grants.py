"""ORCID grants as an operator watches them: how many in each state per tenant, which were
revoked lately and which tokens expire soon, and when grants were last checked at ORCID."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.models import GrantStatus, OrcidGrant, OrcidGrantAttempt, Researcher

#: A grant "expires soon" within this many days (ORCID's tokens last about 20 years; a short
#: one is a sign of a misconfigured client).
EXPIRING_DAYS = 30


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def summary(session: Session, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    counts = session.execute(
        select(OrcidGrant.owner, OrcidGrant.client_id, OrcidGrant.status, func.count())
        .group_by(OrcidGrant.owner, OrcidGrant.client_id, OrcidGrant.status)
        .order_by(OrcidGrant.owner, OrcidGrant.client_id, OrcidGrant.status)
    ).all()
    last_checked, never_checked = session.execute(
        select(
            func.max(OrcidGrant.last_checked_at),
            func.count().filter(OrcidGrant.last_checked_at.is_(None)),
        ).where(OrcidGrant.status == GrantStatus.ACTIVE)
    ).one()
    failing = session.execute(
        select(func.count()).where(OrcidGrantAttempt.failed_at.isnot(None))
    ).scalar_one()
    return {
        "by_state": [
            {
                # None: the researcher's own consent through /orcid/connect (no intake client).
                "tenant": owner,
                "orcid_client": client,
                "state": state.value,
                "count": count,
            }
            for owner, client, state, count in counts
        ],
        "last_checked_at": _iso(last_checked),
        "active_never_checked": never_checked,
        "failed_effects": failing,
        "revoked": _listed(
            session,
            OrcidGrant.status == GrantStatus.REVOKED,
            OrcidGrant.revoked_at.desc(),
        ),
        "expiring": _listed(
            session,
            (OrcidGrant.status == GrantStatus.ACTIVE)
            & (OrcidGrant.expires_at < now + timedelta(days=EXPIRING_DAYS)),
            OrcidGrant.expires_at,
        ),
    }


def _listed(session: Session, where: Any, order: Any, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.execute(
        select(OrcidGrant, Researcher.orcid)
        .join(Researcher, Researcher.id == OrcidGrant.researcher_id)
        .where(where)
        .order_by(order)
        .limit(limit)
    ).all()
    return [
        {
            "orcid": orcid,
            "tenant": g.owner,
            "orcid_client": g.client_id,
            "state": g.status.value,
            "revoked_at": _iso(g.revoked_at),
            "revoked_reason": g.revoked_reason,
            "expires_at": _iso(g.expires_at),
            "last_checked_at": _iso(g.last_checked_at),
        }
        for g, orcid in rows
    ]
