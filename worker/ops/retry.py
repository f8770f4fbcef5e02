"""Retry now: what waits is brought forward, what failed is revived (``pidsync retry``,
``POST /ops/retry``).

Selectors narrow together (AND): a work (source and id), a DOI, an ORCID iD, a failure reason
(a case-insensitive piece of the recorded error, e.g. "401" for everything an account's
rejected password failed), and for the API the calling client. Three kinds of rows answer:

- events: one waiting for its next try is due now; a failed one is received again and
  processed from scratch (its effects run again even if the Work is unchanged);
- DOI registrations: one waiting (a transient failure, a Crossref deposit being polled) is due
  now; a failed one is sent again as ``pidsync doi release --force`` does: the same DOI, PUT to
  DataCite or deposited to Crossref with a newer timestamp, never a second DOI;
- ORCID placements: one waiting is due now; a failed one is pending again with its tries
  reset, and one without a put-code is marked in doubt so the record is read back (our own
  work adopted) before any POST.

Nothing else changes state: DOIs on hold (an operator's ``doi release``), placements the
researcher removed (``orcid re-add``) or awaiting consent are never selected. A dry run takes
the same locks and returns the same list, and changes nothing.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.db import enqueue_after_commit
from worker.logging import current_correlation_id, get_logger
from worker.models import (
    CrossrefDeposit,
    DepositStatus,
    DoiRegistration,
    DoiState,
    EventStatus,
    OrcidPlacement,
    PlacementState,
    ReceivedEvent,
    Registrar,
    Work,
)
from worker.orcid.placements import queue_placement
from worker.pids.identifiers import normalize_doi, normalize_orcid
from worker.registrars import service as registrars

log = get_logger(__name__)


class NoSelector(ValueError):
    """A retry must say what to retry: everything at once is not an operator's "retry now"."""


class Action(enum.StrEnum):
    BRING_FORWARD = "bring_forward"  # waiting for its next try: due now
    REVIVE = "revive"  # failed: tried again from the start of its budget
    SKIPPED = "skipped"  # selected, but it cannot be sent again as it stands (``reason``)


@dataclass(frozen=True)
class Selector:
    source: str | None = None
    work_id: str | None = None
    doi: str | None = None
    orcid: str | None = None
    reason: str | None = None
    #: Only this intake client's works and events (the API's caller); None: every client.
    client_id: str | None = None

    def check(self) -> None:
        if (self.source is None) != (self.work_id is None):
            raise NoSelector("a work is selected by its source and its id together")
        if not (self.work_id or self.doi or self.orcid or self.reason):
            raise NoSelector("say what to retry: a work, a DOI, an ORCID iD or a failure reason")


def selector(
    *,
    work: tuple[str, str] | None = None,
    doi: str | None = None,
    orcid: str | None = None,
    reason: str | None = None,
    client_id: str | None = None,
) -> Selector:
    """A checked Selector from an operator's input (the CLI's options, the API's body): DOIs
    and ORCID iDs normalised (``https://doi.org/...``, lower-case ``x``); NoSelector or
    InvalidIdentifier (both ValueError) name what is wrong."""
    if reason is not None and not reason.strip():
        raise NoSelector("the failure reason to match is empty")
    chosen = Selector(
        source=work[0] if work else None,
        work_id=work[1] if work else None,
        doi=normalize_doi(doi) if doi is not None else None,
        orcid=normalize_orcid(orcid) if orcid is not None else None,
        reason=reason.strip() if reason is not None else None,
        client_id=client_id,
    )
    chosen.check()
    return chosen


@dataclass
class Item:
    kind: str  # event | doi | placement
    row_id: int
    action: Action
    state: str
    work: dict[str, str]
    attempts: int
    next_attempt_at: datetime | None
    error: str | None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "action": self.action.value,
            "state": self.state,
            "work": self.work,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "error": self.error,
            **self.detail,
        }


@dataclass
class Report:
    dry_run: bool
    items: list[Item]
    #: Carried by the messages this retry sent for DOIs and placements (a revived event keeps
    #: its own): the operator finds every log line the retry caused by it.
    correlation_id: str

    @property
    def retried(self) -> list[Item]:
        return [i for i in self.items if i.action != Action.SKIPPED]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "correlation_id": self.correlation_id,
            "retried": len(self.retried),
            "skipped": len(self.items) - len(self.retried),
            "items": [i.as_dict() for i in self.items],
        }


def retry(
    session: Session,
    settings: Settings,
    selector: Selector,
    *,
    dry_run: bool,
    now: datetime | None = None,
) -> Report:
    """Bring forward or revive every row the selector picks; with ``dry_run``, only list them."""
    selector.check()
    now = now or utcnow()
    correlation = current_correlation_id() or f"retry-{uuid.uuid4()}"
    with structlog.contextvars.bound_contextvars(correlation_id=correlation):
        items = [
            *(_event(session, e, dry_run, now) for e in _events(session, selector)),
            *(_doi(session, settings, r, dry_run, now) for r in _registrations(session, selector)),
            *(_placement(session, p, dry_run, now) for p in _placements(session, selector)),
        ]
        session.flush()
        if not dry_run:
            log.info(
                "operator_retry",
                retried=sum(i.action != Action.SKIPPED for i in items),
                skipped=sum(i.action == Action.SKIPPED for i in items),
                selector={k: v for k, v in vars(selector).items() if v is not None},
            )
    return Report(dry_run, items, correlation)


# --- selection ----------------------------------------------------------------------------


def _reason(column: Any, reason: str | None) -> Any:
    # A literal piece of the error: % and _ in the operator's text match themselves.
    if reason is None:
        return True
    escaped = reason.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.coalesce(column, "").ilike(f"%{escaped}%", escape="\\")


def _work_filter(query: Select[Any], selector: Selector) -> Select[Any]:
    if selector.work_id is not None:
        query = query.where(Work.source == selector.source, Work.external_id == selector.work_id)
    if selector.client_id is not None:
        query = query.where(Work.client_id == selector.client_id)
    return query


def _events(session: Session, selector: Selector) -> list[ReceivedEvent]:
    if selector.doi or selector.orcid:  # events are selected by work or reason only
        return []
    waiting = (ReceivedEvent.status == EventStatus.RECEIVED) & ReceivedEvent.next_attempt_at.isnot(
        None
    )
    query = select(ReceivedEvent).where(
        or_(ReceivedEvent.status == EventStatus.FAILED, waiting),
        _reason(ReceivedEvent.outcome, selector.reason),
    )
    if selector.work_id is not None:
        query = query.where(
            ReceivedEvent.source == selector.source,
            ReceivedEvent.data["id"].astext == selector.work_id,
        )
    if selector.client_id is not None:
        query = query.where(ReceivedEvent.client_id == selector.client_id)
    return list(
        session.execute(
            query.order_by(ReceivedEvent.id).with_for_update(skip_locked=True)
        ).scalars()
    )


def _registrations(session: Session, selector: Selector) -> list[DoiRegistration]:
    if selector.orcid:
        return []
    waiting = DoiRegistration.pending_hash.isnot(None) & DoiRegistration.state.notin_(
        (DoiState.ON_HOLD, DoiState.FAILED)
    )
    query = (
        select(DoiRegistration)
        .join(Work, DoiRegistration.work_id == Work.id)
        .where(
            or_(DoiRegistration.state == DoiState.FAILED, waiting),
            _reason(DoiRegistration.last_error, selector.reason),
        )
    )
    if selector.doi is not None:
        query = query.where(func.lower(DoiRegistration.doi) == selector.doi.lower())
    query = _work_filter(query, selector)
    return list(
        session.execute(
            query.order_by(DoiRegistration.id).with_for_update(of=DoiRegistration, skip_locked=True)
        ).scalars()
    )


def _placements(session: Session, selector: Selector) -> list[OrcidPlacement]:
    if selector.doi:
        return []
    waiting = (
        OrcidPlacement.state == PlacementState.PENDING
    ) & OrcidPlacement.next_attempt_at.isnot(None)
    query = (
        select(OrcidPlacement)
        .join(Work, OrcidPlacement.work_id == Work.id)
        .where(
            or_(OrcidPlacement.state == PlacementState.FAILED, waiting),
            _reason(OrcidPlacement.last_error, selector.reason),
        )
    )
    if selector.orcid is not None:
        query = query.where(OrcidPlacement.orcid == selector.orcid)
    query = _work_filter(query, selector)
    return list(
        session.execute(
            query.order_by(OrcidPlacement.id).with_for_update(of=OrcidPlacement, skip_locked=True)
        ).scalars()
    )


# --- acting -------------------------------------------------------------------------------


def _named(work: Work | None, source: str, work_id: Any) -> dict[str, str]:
    if work is not None:
        return {"source": work.source, "id": work.external_id}
    return {"source": source, "id": str(work_id or "")}


def _event(session: Session, event: ReceivedEvent, dry_run: bool, now: datetime) -> Item:
    failed = event.status == EventStatus.FAILED
    item = Item(
        "event",
        event.id,
        Action.REVIVE if failed else Action.BRING_FORWARD,
        event.status.value,
        _named(None, event.source, event.data.get("id")),
        event.attempts,
        event.next_attempt_at,
        event.outcome,
        {"event": {"source": event.source, "id": event.event_id, "type": event.type}},
    )
    if dry_run:
        return item
    if failed:
        # handled_at stays: a received event that was handled before is a revived one, and
        # its effects run again even if the Work itself is unchanged (events.service).
        event.status = EventStatus.RECEIVED
        event.attempts = 0
        event.outcome = f"retried by an operator after: {event.outcome}"
    event.next_attempt_at = None
    event.enqueued_at = now
    enqueue_after_commit(session, "events.process", event.id, correlation_id=event.correlation_id)
    return item


def _doi(
    session: Session, settings: Settings, reg: DoiRegistration, dry_run: bool, now: datetime
) -> Item:
    failed = reg.state == DoiState.FAILED
    item = Item(
        "doi",
        reg.id,
        Action.REVIVE if failed else Action.BRING_FORWARD,
        reg.state.value,
        _named(reg.work, "", ""),
        reg.retry_count,
        reg.next_attempt_at,
        reg.last_error,
        {"doi": reg.doi, "registrar": reg.registrar, "account": reg.account},
    )
    if failed:
        try:
            with session.begin_nested():  # a refusal leaves the failed row as it was
                if not dry_run:
                    registrars.release(
                        session,
                        reg.work.source,
                        reg.work.external_id,
                        settings=settings,
                        force=True,
                        now=now,
                    )
                else:
                    registrars.desired_change(reg.work, reg.doi, reg.registrar, reg.target_state)
        except (registrars.ReleaseRefused, LookupError, ValueError) as exc:
            item.action = Action.SKIPPED
            item.detail["reason"] = str(exc)
        return item
    if not dry_run:
        _bring_doi_forward(session, reg, now)
    return item


def _bring_doi_forward(session: Session, reg: DoiRegistration, now: datetime) -> None:
    reg.next_attempt_at = now
    if reg.open_deposit_id is not None:  # a Crossref deposit carries it: poll (or upload) now
        deposit = session.get(CrossrefDeposit, reg.open_deposit_id, with_for_update=True)
        if deposit is not None:
            deposit.next_poll_at = now
            step = "upload" if deposit.status == DepositStatus.PREPARED else "poll"
            enqueue_after_commit(session, f"registrars.crossref.{step}", deposit.id)
    elif reg.registrar == Registrar.DATACITE:
        enqueue_after_commit(session, "registrars.datacite.sync", reg.id)
    else:
        prefix = reg.doi.split("/", 1)[0]
        enqueue_after_commit(session, "registrars.crossref.batch", reg.account, prefix)


def _placement(session: Session, row: OrcidPlacement, dry_run: bool, now: datetime) -> Item:
    failed = row.state == PlacementState.FAILED
    item = Item(
        "placement",
        row.id,
        Action.REVIVE if failed else Action.BRING_FORWARD,
        row.state.value,
        _named(row.work, "", ""),
        row.attempts,
        row.next_attempt_at,
        row.last_error,
        {"orcid": row.orcid, "client_id": row.client_id, "put_code": row.put_code},
    )
    if dry_run:
        return item
    if failed:
        row.state = PlacementState.PENDING
        row.last_error = None
        # Without a put-code, an earlier POST may have landed with its answer lost: the record
        # is read back (our work adopted by its self ids) before anything is POSTed again.
        row.in_doubt = row.in_doubt or row.put_code is None
        queue_placement(session, row)  # a fresh series of tries
        return item
    row.next_attempt_at = None  # the tries so far still count
    row.enqueued_at = now
    enqueue_after_commit(session, "orcid.place", row.id)
    return item


# --- one row (the dashboard's "retry" on a listed problem) --------------------------------

KINDS = ("event", "doi", "placement")


def retry_row(
    session: Session, settings: Settings, kind: str, row_id: int, *, now: datetime | None = None
) -> Report:
    """Retry one failed or waiting row, as :func:`retry` would had a selector picked it alone.
    LookupError when there is no such row, or it neither failed nor waits."""
    now = now or utcnow()
    correlation = current_correlation_id() or f"retry-{uuid.uuid4()}"
    with structlog.contextvars.bound_contextvars(correlation_id=correlation):
        if kind == "event":
            event = _locked(session, select(ReceivedEvent), ReceivedEvent.id, row_id)
            if not isinstance(event, ReceivedEvent) or event.status not in (
                EventStatus.FAILED,
                EventStatus.RECEIVED,
            ):
                raise LookupError(f"no failed or waiting event {row_id}")
            item = _event(session, event, dry_run=False, now=now)
        elif kind == "doi":
            reg = _locked(session, select(DoiRegistration), DoiRegistration.id, row_id)
            waiting = isinstance(reg, DoiRegistration) and reg.pending_hash is not None
            if not isinstance(reg, DoiRegistration) or not (
                reg.state == DoiState.FAILED or (waiting and reg.state != DoiState.ON_HOLD)
            ):
                raise LookupError(f"no failed or waiting DOI registration {row_id}")
            item = _doi(session, settings, reg, dry_run=False, now=now)
        elif kind == "placement":
            row = _locked(session, select(OrcidPlacement), OrcidPlacement.id, row_id)
            if not isinstance(row, OrcidPlacement) or row.state not in (
                PlacementState.FAILED,
                PlacementState.PENDING,
            ):
                raise LookupError(f"no failed or waiting ORCID placement {row_id}")
            item = _placement(session, row, dry_run=False, now=now)
        else:
            raise ValueError(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
        session.flush()
        log.info("operator_retry", kind=kind, row_id=row_id, action=item.action.value)
    return Report(dry_run=False, items=[item], correlation_id=correlation)


def _locked(session: Session, query: Select[Any], column: Any, row_id: int) -> object:
    return session.execute(query.where(column == row_id).with_for_update()).scalar_one_or_none()
