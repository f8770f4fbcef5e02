"""Crossref submissions by state, each with Crossref's diagnostics per DOI (the
``<record_diagnostic>`` messages), newest first, one page at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from worker.models import CrossrefDeposit, DepositStatus


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def counts(session: Session) -> dict[str, int]:
    """Submissions in each state, and those Crossref has left unprocessed too long (stale)."""
    by_state = dict(
        session.execute(
            select(CrossrefDeposit.status, func.count()).group_by(CrossrefDeposit.status)
        ).all()
    )
    stale = session.execute(
        select(func.count()).where(
            CrossrefDeposit.stale.is_(True), CrossrefDeposit.completed_at.is_(None)
        )
    ).scalar_one()
    return {**{s.value: int(by_state.get(s, 0)) for s in DepositStatus}, "stale": stale}


def page(
    session: Session, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    if status is not None and status not in {s.value for s in DepositStatus}:
        allowed = ", ".join(s.value for s in DepositStatus)
        raise ValueError(f"unknown deposit state {status!r}: expected one of {allowed}")
    query = select(CrossrefDeposit).options(selectinload(CrossrefDeposit.records))
    if status is not None:
        query = query.where(CrossrefDeposit.status == DepositStatus(status))
    rows = session.execute(
        query.order_by(CrossrefDeposit.id.desc()).limit(limit).offset(offset)
    ).scalars()
    return [
        {
            "id": d.id,
            "account": d.account,
            "file_name": d.file_name,
            "batch": d.doi_batch_id,
            "status": d.status.value,
            "stale": d.stale,
            "submitted_at": _iso(d.submitted_at),
            "completed_at": _iso(d.completed_at),
            "polls": d.poll_count,
            "submission_id": d.submission_id,
            "error": d.last_error,
            "records": [
                {
                    "doi": r.doi,
                    "intent": r.intent.value,
                    "outcome": r.status.value if r.status is not None else None,
                    "diagnostic": r.message,
                }
                for r in d.records
            ],
        }
        for d in rows
    ]
