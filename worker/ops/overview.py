"""The overview an operator opens first: what came in and what became of it in the last hour
and day, what waits in the broker, how the agencies answer, and the last 24 hours by hour.

Every count is one indexed aggregate over a time window (``received_at``, ``api_calls``'
``created_at``): the page stays fast on a database holding years of events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.models import (
    ApiCall,
    DeadLetter,
    DoiRegistration,
    DoiState,
    EventStatus,
    OrcidPlacement,
    PlacementState,
    ReceivedEvent,
)
from worker.queues import queue_depths
from worker.ratelimit import RateLimiter

WINDOWS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
CHART_HOURS = 24


def overview(
    session: Session,
    broker: Any,
    limiter: RateLimiter | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The whole overview as plain JSON-ready data (the page, ``pidsync status`` and its
    ``--json`` all show this). ``limiter``: where the rate-limit waits are counted."""
    now = now or utcnow()
    return {
        "rate_limit_waits": {
            name: _waits(limiter, int(span.total_seconds() // 3600))
            for name, span in WINDOWS.items()
        },
        "at": now.isoformat(),
        "events": {name: event_counts(session, now - span) for name, span in WINDOWS.items()},
        "problems": problem_counts(session),
        "queues": [q.as_dict() for q in queue_depths(broker, now.timestamp())],
        "dead_letters": dead_letter_counts(session, now),
        "calls": {name: call_rates(session, now - span, span) for name, span in WINDOWS.items()},
        "chart": hourly(session, now),
    }


def event_counts(session: Session, since: datetime) -> dict[str, int]:
    """Events received since ``since``, and of those handled since then, how they ended."""
    received = session.execute(
        select(func.count()).where(ReceivedEvent.received_at >= since)
    ).scalar_one()
    ended = dict(
        session.execute(
            select(ReceivedEvent.status, func.count())
            .where(ReceivedEvent.received_at >= since)
            .group_by(ReceivedEvent.status)
        ).all()
    )
    return {
        "received": received,
        "done": ended.get(EventStatus.DONE, 0),
        "failed": ended.get(EventStatus.FAILED, 0),
        "stale": ended.get(EventStatus.STALE, 0),
        "waiting": ended.get(EventStatus.RECEIVED, 0),
    }


def problem_counts(session: Session) -> dict[str, int]:
    """What needs a person now, whenever it happened: an event can be done while its DOI failed."""
    dois = dict(
        session.execute(
            select(DoiRegistration.state, func.count())
            .where(DoiRegistration.state.in_((DoiState.FAILED, DoiState.ON_HOLD)))
            .group_by(DoiRegistration.state)
        ).all()
    )
    placements = session.execute(
        select(func.count()).where(OrcidPlacement.state == PlacementState.FAILED)
    ).scalar_one()
    events = session.execute(
        select(func.count()).where(ReceivedEvent.status == EventStatus.FAILED)
    ).scalar_one()
    return {
        "failed_events": events,
        "failed_dois": dois.get(DoiState.FAILED, 0),
        "held_dois": dois.get(DoiState.ON_HOLD, 0),
        "failed_placements": placements,
    }


def dead_letter_counts(session: Session, now: datetime) -> dict[str, Any]:
    count, oldest = session.execute(
        select(func.count(), func.min(DeadLetter.created_at)).where(
            DeadLetter.requeued_at.is_(None)
        )
    ).one()
    return {
        "parked": count,
        "oldest_age_seconds": (now - oldest).total_seconds() if oldest is not None else None,
    }


def call_rates(session: Session, since: datetime, span: timedelta) -> list[dict[str, Any]]:
    """Per agency: calls a minute, the share that failed, 429s (the agency's rate limit
    reached), and latency (median and 95th percentile, milliseconds)."""
    failed = (ApiCall.status.is_(None)) | (ApiCall.status >= 400)
    rows = session.execute(
        select(
            ApiCall.service,
            func.count(),
            func.sum(cast(failed, Integer)),
            func.sum(case((ApiCall.status == 429, 1), else_=0)),
            func.percentile_cont(0.5).within_group(ApiCall.latency_ms),
            func.percentile_cont(0.95).within_group(ApiCall.latency_ms),
        )
        .where(ApiCall.created_at >= since)
        .group_by(ApiCall.service)
        .order_by(ApiCall.service)
    ).all()
    minutes = span.total_seconds() / 60
    return [
        {
            "service": service,
            "calls": calls,
            "per_minute": round(calls / minutes, 2),
            "errors": int(errors or 0),
            "error_rate": round((errors or 0) / calls, 3) if calls else 0.0,
            "rate_limited": int(limited or 0),
            "p50_ms": round(p50) if p50 is not None else None,
            "p95_ms": round(p95) if p95 is not None else None,
        }
        for service, calls, errors, limited, p50, p95 in rows
    ]


def hourly(session: Session, now: datetime) -> list[dict[str, Any]]:
    """The last 24 hours, oldest first: events received and failed, calls made and failed."""
    start = (now.astimezone(UTC) - timedelta(hours=CHART_HOURS - 1)).replace(
        minute=0, second=0, microsecond=0
    )
    hours = [start + timedelta(hours=i) for i in range(CHART_HOURS)]
    bucket = _hour(ReceivedEvent.received_at)
    events = {
        at.replace(tzinfo=UTC): (received, failed)
        for at, received, failed in session.execute(
            select(
                bucket,
                func.count(),
                func.sum(case((ReceivedEvent.status == EventStatus.FAILED, 1), else_=0)),
            )
            .where(ReceivedEvent.received_at >= start)
            .group_by(bucket)
        ).all()
    }
    call_bucket = _hour(ApiCall.created_at)
    calls = {
        at.replace(tzinfo=UTC): (made, failed)
        for at, made, failed in session.execute(
            select(
                call_bucket,
                func.count(),
                func.sum(case(((ApiCall.status.is_(None)) | (ApiCall.status >= 400), 1), else_=0)),
            )
            .where(ApiCall.created_at >= start)
            .group_by(call_bucket)
        ).all()
    }
    return [
        {
            "hour": at.isoformat(),
            "received": _pick(events, at, 0),
            "failed": _pick(events, at, 1),
            "calls": _pick(calls, at, 0),
            "call_errors": _pick(calls, at, 1),
        }
        for at in hours
    ]


def _waits(limiter: RateLimiter | None, hours: int) -> list[dict[str, Any]]:
    """Waits for a slot of the shared rate limits (per agency's limit), as the limiter counted
    them by hour: how many, and the seconds waited in all (rounded to the hour's bounds)."""
    if limiter is None:
        return []
    return [
        {"limit": name, "waits": int(t.get("count", 0)), "seconds": round(t.get("seconds", 0), 1)}
        for name, t in sorted(limiter.waits(hours).items())
    ]


def _hour(column: Any) -> Any:
    # The hour in UTC whatever the database's time zone (a naive timestamp, made aware above).
    return func.date_trunc("hour", func.timezone("UTC", column))


def _pick(table: dict[datetime, tuple[int, int]], at: datetime, index: int) -> int:
    values = table.get(at)
    return int(values[index] or 0) if values else 0
