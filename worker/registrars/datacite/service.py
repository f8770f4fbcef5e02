"""DataCite: send a registration's pending change with ``PUT /dois/{doi}`` and record what
DataCite answered.

The payload is rendered from the Work as stored when the message runs, so a late message
always sends the newest version, and its hash (attributes + target state) is compared with
what DataCite last confirmed: unchanged means nothing is sent. A state that says DataCite holds
the DOI is set only from DataCite's answer. 422 → failed with DataCite's field messages; 401
and 403 → failed as an account problem (logged as an alert and reported); 429, 5xx and network
failures → tried again with backoff (Retry-After honoured).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from structlog.contextvars import bound_contextvars

from worker.clock import utcnow
from worker.config import DataCiteAccount, Settings
from worker.http import RequestError, ServerError, TransportError
from worker.logging import get_logger
from worker.metadata.errors import MetadataError
from worker.metadata.hashing import payload_hash
from worker.metadata.render.datacite_json import render_datacite_attributes
from worker.metadata.work import Work as MetaWork
from worker.models import DoiRegistration, DoiState, DuplicateCheck, TargetState, Work
from worker.registrars.accounts import UnknownAccount
from worker.registrars.common import (
    in_flight,
    mark_confirmed,
    mark_failed,
    retry_later,
    work_model,
)
from worker.registrars.datacite.client import (
    DataCiteClient,
    DataCiteEvent,
    DataCiteState,
    describe_errors,
    field_errors,
    state_of,
)
from worker.registrars.deps import RegistrarDeps
from worker.registrars.repository import lock_registration
from worker.works.render_notes import record_render_notes

log = get_logger(__name__)


@dataclass(frozen=True)
class Desired:
    """What DataCite should hold for a registration: attributes, the state, and their hash."""

    attributes: dict[str, Any]
    target: DoiState  # FINDABLE, REGISTERED or WITHDRAWN (hidden)
    hash: str
    model: MetaWork | None = None  # the Work rendered (None for a withdrawal)

    def event(self, current: DoiState) -> DataCiteEvent:
        """The DataCite event that moves the DOI from ``current`` to the target."""
        if self.target is DoiState.WITHDRAWN:
            return DataCiteEvent.HIDE
        if self.target is DoiState.REGISTERED:
            return DataCiteEvent.HIDE if current == DoiState.FINDABLE else DataCiteEvent.REGISTER
        return DataCiteEvent.PUBLISH


def desired(work: Work, doi: str, target_state: TargetState) -> Desired:
    """The request for ``work`` as stored now; MetadataError names what DataCite would miss."""
    model: MetaWork | None = None
    if work.withdrawn_at is not None:
        # Hidden; the landing page moves to the tombstone when the emitting system names one.
        attributes: dict[str, Any] = {"url": work.tombstone_url} if work.tombstone_url else {}
        target = DoiState.WITHDRAWN
    else:
        model = work_model(work, doi)
        attributes = render_datacite_attributes(model)
        target = (
            DoiState.REGISTERED if target_state is TargetState.REGISTERED else DoiState.FINDABLE
        )
    # The state's word in the hash, as before it was typed: a hash once confirmed stays equal.
    digest = payload_hash({"attributes": attributes, "target": target.value})
    return Desired(attributes, target, digest, model)


def sync_registration(
    session: Session,
    deps: RegistrarDeps,
    registration_id: int,
    *,
    now: datetime | None = None,
) -> float | None:
    """Send the registration's pending change. Returns the delay before the next try after a
    transient failure, else None (confirmed, refused, or nothing to do). Every branch's
    changes are flushed (the outcome's webhook row no longer flushes them: issue 13)."""
    delay = _sync(session, deps, registration_id, now or utcnow())
    session.flush()
    return delay


def _sync(
    session: Session, deps: RegistrarDeps, registration_id: int, now: datetime
) -> float | None:
    reg = lock_registration(session, registration_id)
    if reg is None or reg.pending_hash is None or in_flight(reg, now):
        return None
    if reg.state == DoiState.ON_HOLD or reg.duplicate_check == DuplicateCheck.PENDING:
        return None
    try:
        want = desired(reg.work, reg.doi, reg.target_state)
    except MetadataError as exc:
        mark_failed(
            session,
            deps.settings,
            reg,
            f"not sent to DataCite: {exc}",
            failed_hash=reg.pending_hash,
        )
        return None
    if want.model is not None:
        record_render_notes(reg, "datacite-json", want.hash, want.model, doi=reg.doi)
    if want.hash == reg.confirmed_hash and reg.state in (
        DoiState.FINDABLE,
        DoiState.REGISTERED,
        DoiState.WITHDRAWN,
    ):
        reg.pending_hash = reg.pending_since = reg.next_attempt_at = None
        session.flush()
        return None
    try:
        account = deps.datacite_account(reg.account)
    except UnknownAccount as exc:
        mark_failed(
            session,
            deps.settings,
            reg,
            f"not sent to DataCite: {exc}",
            failed_hash=reg.pending_hash,
        )
        return None
    client = deps.datacite(account)
    try:
        # Never confirmed: if nothing reached DataCite, there is nothing to hide. Asked even when
        # no attempt is recorded: a PUT accepted just before its worker died left none.
        if (
            want.target is DoiState.WITHDRAWN
            and reg.confirmed_hash is None
            and _unknown_at_datacite(deps, client, account, reg)
        ):
            mark_confirmed(
                session,
                reg,
                state=DoiState.WITHDRAWN,
                confirmed_hash=want.hash,
                now=now,
                note="the DOI was never registered at DataCite; nothing to hide",
                settings=deps.settings,
            )
            return None
        deps.throttle_datacite(account)
        reg.attempts += 1
        with bound_contextvars(work_id=reg.work_id):  # the call record names the work
            data = client.put_doi(reg.doi, want.attributes, want.event(reg.state))
    except RequestError as exc:  # permanent: recorded at once, never tried again
        _refused(session, deps.settings, reg, exc)
        return None
    except (ServerError, TransportError) as exc:
        return retry_later(session, deps.settings, reg, exc, now, agency="DataCite")
    _confirmed(session, deps.settings, reg, want, data, now)
    return None


def _unknown_at_datacite(
    deps: RegistrarDeps, client: DataCiteClient, account: DataCiteAccount, reg: DoiRegistration
) -> bool:
    deps.throttle_datacite(account)
    with bound_contextvars(work_id=reg.work_id):
        return client.get_doi(reg.doi) is None


def _confirmed(
    session: Session,
    settings: Settings,
    reg: DoiRegistration,
    want: Desired,
    data: dict[str, Any],
    now: datetime,
) -> None:
    attributes = data.get("attributes") or {}
    remote = state_of(attributes)
    warning = None
    if want.target is DoiState.WITHDRAWN:
        state = DoiState.WITHDRAWN
    elif remote is DataCiteState.FINDABLE:
        state = DoiState.FINDABLE
    elif remote is DataCiteState.REGISTERED:
        state = DoiState.REGISTERED
        if want.target is DoiState.FINDABLE:
            warning = "DataCite answered state 'registered', not 'findable'"
    else:
        word = str(attributes.get("state") or "unknown")
        mark_failed(
            session,
            settings,
            reg,
            f"DataCite kept {reg.doi} in state {word!r} after the '{want.event(reg.state)}' event",
            failed_hash=want.hash,
        )
        return
    mark_confirmed(
        session,
        reg,
        state=state,
        confirmed_hash=want.hash,
        now=now,
        warning=warning,
        settings=settings,
    )


def _refused(session: Session, settings: Settings, reg: DoiRegistration, exc: RequestError) -> None:
    errors = field_errors(exc)
    detail = describe_errors(errors) or exc.text or str(exc)
    status = exc.status
    if status == 401:
        message = (
            f"DataCite refused the credentials of account {reg.account!r} (401 {detail}): "
            "check its repository id and password"
        )
    elif status == 403:
        message = (
            f"DataCite refused account {reg.account!r} for {reg.doi} (403 {detail}): the DOI's "
            "prefix may not belong to this repository, or another repository owns the DOI"
        )
    elif status == 422:
        message = f"DataCite refused the metadata (422): {detail}"
    else:
        message = f"DataCite refused the request ({status}): {detail}"
    if status in (401, 403):
        log.error(
            "registrar_account_refused",
            registrar=reg.registrar.value,
            account=reg.account,
            status=status,
            doi=reg.doi,
        )
    mark_failed(
        session, settings, reg, message, details=errors or None, failed_hash=reg.pending_hash
    )
