"""Outcomes and effect latencies counted from the state changes themselves.

Every service sets states on its rows (events, DOI registrations, placements); rather than
asking each to also count, SQLAlchemy's flush shows which rows changed state, and the counts are
applied only when the transaction commits, so a rolled-back attempt (a retry, a lost database)
is never counted. One place, and no flow needs to know metrics exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.logging import get_logger
from worker.metrics.registry import (
    DOI_OUTCOMES,
    EFFECT_LATENCY,
    EVENT_DELAY,
    EVENTS_HANDLED,
    PLACEMENT_OUTCOMES,
)
from worker.models import (
    DoiRegistration,
    DoiState,
    EventStatus,
    OrcidPlacement,
    PlacementState,
    ReceivedEvent,
)

log = get_logger(__name__)

_PENDING = "pidsync_metrics"
#: DOI states that mean the registrar confirmed what we sent.
_CONFIRMED = {DoiState.REGISTERED.value, DoiState.FINDABLE.value}
_installed = False

Observation = Callable[[], None]


def install() -> None:
    """Watch every session of the process (idempotent; called at boot)."""
    global _installed  # noqa: PLW0603 - listeners are per process, registered once
    if _installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _after_rollback)
    _installed = True


def _change(obj: Any, attr: str) -> tuple[Any, Any] | None:
    """(old, new) when ``attr`` changed in this flush, else None."""
    history = inspect(obj).attrs[attr].history
    if not history.added:
        return None
    old = history.deleted[0] if history.deleted else None
    return old, history.added[0]


def _text(value: Any) -> str:
    """An enum's value, or the string a service set before the flush converts it."""
    return str(getattr(value, "value", value))


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _event(obj: ReceivedEvent) -> list[Observation]:
    change = _change(obj, "status")
    if change is None or _text(change[1]) == EventStatus.RECEIVED.value:
        return []
    outcome = _text(change[1])
    waited = _seconds(obj.received_at, obj.handled_at or utcnow())
    observed: list[Observation] = [EVENTS_HANDLED.labels(type=obj.type, outcome=outcome).inc]
    if waited is not None:
        observed.append(lambda: EVENT_DELAY.labels(outcome=outcome).observe(waited))
    return observed


def _registration(obj: DoiRegistration) -> list[Observation]:
    observed: list[Observation] = []
    registrar = _text(obj.registrar)
    state = _change(obj, "state")
    if state is not None and (state[0] is None or _text(state[0]) != _text(state[1])):
        observed.append(DOI_OUTCOMES.labels(registrar=registrar, state=_text(state[1])).inc)
    confirmed = _change(obj, "confirmed_at")
    since = inspect(obj).attrs.pending_since.history
    # pending_since is when the event's change was accepted; mark_confirmed clears it in the
    # same flush as it sets confirmed_at, so its old value is in the history.
    started = since.deleted[0] if since.deleted else obj.pending_since
    if confirmed is not None and _text(obj.state) in _CONFIRMED:
        took = _seconds(started, confirmed[1])
        if took is not None:
            observed.append(
                lambda: EFFECT_LATENCY.labels(effect="doi_registered", service=registrar).observe(
                    took
                )
            )
    return observed


def _placement(obj: OrcidPlacement) -> list[Observation]:
    state = _change(obj, "state")
    if state is None or (state[0] is not None and _text(state[0]) == _text(state[1])):
        return []
    observed: list[Observation] = [PLACEMENT_OUTCOMES.labels(state=_text(state[1])).inc]
    put_code = _change(obj, "put_code")
    if _text(state[1]) == PlacementState.PLACED.value and put_code and put_code[0] is None:
        # Only when the work first reaches the record (its put-code is new): a placement queued
        # again later (the DOI settled, a reconcile) that sends nothing or updates in place is
        # not a second arrival. The row is made when the work's event is processed: from then
        # to on the record (consent and the DOI's confirmation included, when it waited).
        took = _seconds(obj.created_at, obj.placed_at or utcnow())
        if took is not None:
            observed.append(
                lambda: EFFECT_LATENCY.labels(effect="work_placed", service="orcid").observe(took)
            )
    return observed


_WATCHED: dict[type, Callable[[Any], list[Observation]]] = {
    ReceivedEvent: _event,
    DoiRegistration: _registration,
    OrcidPlacement: _placement,
}


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    pending: list[Observation] = session.info.setdefault(_PENDING, [])
    for obj in (*session.new, *session.dirty):
        watch = _WATCHED.get(type(obj))
        if watch is None:
            continue
        try:
            pending.extend(watch(obj))
        except Exception as exc:  # counting must never break the unit of work it watches
            log.warning("metrics_transition_unreadable", error=f"{type(exc).__name__}: {exc}")


def _after_commit(session: Session) -> None:
    for observe in session.info.pop(_PENDING, []):
        observe()


def _after_rollback(session: Session, previous_transaction: Any) -> None:
    # Only the outermost rollback drops them: a savepoint's rollback keeps the rest's counts.
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
