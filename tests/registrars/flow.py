"""Driving the registrar services the way the worker does, synchronously, in a test's session."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from tests.helpers import SOURCE, process_event
from tests.helpers import work as base_work
from worker.events.service import Outcome
from worker.models import (
    ApiCall,
    CrossrefDeposit,
    DepositStatus,
    DoiRegistration,
    OutboundNotification,
    ReceivedEvent,
    Work,
)
from worker.registrars.crossref import service as crossref
from worker.registrars.datacite import service as datacite
from worker.registrars.repository import OPEN

_counter = iter(range(1, 1_000_000))


def datacite_work(work_id: str = "w-1", **fields: Any) -> dict[str, Any]:
    data = base_work(work_id, url=f"https://repo.example.edu/{work_id}")
    data["registration"] = {"registrar": "datacite"}
    data.update(fields)
    return data


def crossref_work(work_id: str = "a-1", **fields: Any) -> dict[str, Any]:
    data = base_work(
        work_id,
        type="journal-article",
        title=f"Deep currents {work_id}",
        url=f"https://journal.example.edu/{work_id}",
        container={"title": "Journal of Examples", "volume": "3", "issue": "2"},
    )
    data["registration"] = {"registrar": "crossref"}
    data.update(fields)
    return data


def event(
    session,
    event_type: str,
    data: dict[str, Any],
    *,
    event_id: str | None = None,
    client_id: str = "cris",
) -> Outcome:
    """Receive one event into the inbox and process it, as the events actor does."""
    row = ReceivedEvent(
        source=SOURCE,
        event_id=event_id or f"e-{next(_counter)}",
        type=event_type,
        client_id=client_id,
        correlation_id="c-test",
        data=data,
    )
    session.add(row)
    session.flush()
    outcome = process_event(session, row.id)
    assert outcome is not None
    return outcome


def registration(session, work_id: str) -> DoiRegistration:
    work = session.execute(
        select(Work).where(Work.source == SOURCE, Work.external_id == work_id)
    ).scalar_one()
    reg = session.execute(
        select(DoiRegistration).where(DoiRegistration.work_id == work.id)
    ).scalar_one()
    session.refresh(reg)
    return reg


def sync(session, deps, reg: DoiRegistration) -> float | None:
    reg.next_attempt_at = None  # the worker runs it when due; tests run it now
    session.flush()
    return datacite.sync_registration(session, deps, reg.id)


def upload(session, deps, deposit_id: int) -> None:
    row = session.get(CrossrefDeposit, deposit_id)
    row.next_poll_at = None  # the worker runs it when due; tests run it now
    session.flush()
    assert crossref.upload_deposit(session, deps, deposit_id) is None
    assert row.status == DepositStatus.SUBMITTED, row.last_error


def deposit(session, deps, *, account: str = "default", prefix: str = "10.32013") -> list[int]:
    """Batch the pending changes of one account/prefix and upload the files."""
    ids = crossref.prepare_batches(session, deps, account, prefix)
    for deposit_id in ids:
        upload(session, deps, deposit_id)
    return ids


def finish(session, deps, deposit_id: int, *, timeout: float = 30.0) -> CrossrefDeposit:
    """Poll a deposit until Crossref (the sandbox) has processed it."""
    deadline = time.monotonic() + timeout
    row = session.get(CrossrefDeposit, deposit_id)
    assert row.status != DepositStatus.PREPARED, "upload it first"
    while row.status in OPEN:
        assert time.monotonic() < deadline, f"deposit {row.file_name} still {row.status}"
        row.next_poll_at = None
        session.flush()
        crossref.poll_deposit(session, deps, deposit_id)
        session.refresh(row)
        if row.status in OPEN:
            time.sleep(0.05)
    return row


def calls(session, service: str, method: str | None = None) -> list[ApiCall]:
    query = select(ApiCall).where(ApiCall.service == service).order_by(ApiCall.id)
    if method is not None:
        query = query.where(ApiCall.method == method)
    return list(session.execute(query).scalars())


def webhooks(session, event_type: str | None = None) -> list[OutboundNotification]:
    query = select(OutboundNotification).order_by(OutboundNotification.id)
    if event_type is not None:
        query = query.where(OutboundNotification.event_type == event_type)
    return list(session.execute(query).scalars())


def datacite_dois(sandbox) -> dict[str, dict[str, Any]]:
    return {d["doi"]: d for d in sandbox.state()["datacite"]["dois"]}


def crossref_dois(sandbox) -> dict[str, dict[str, Any]]:
    return {d["doi"]: d for d in sandbox.state()["crossref"]["dois"]}


def open_deposits(session) -> list[CrossrefDeposit]:
    return list(
        session.execute(
            select(CrossrefDeposit).where(CrossrefDeposit.status != DepositStatus.COMPLETED)
        ).scalars()
    )
