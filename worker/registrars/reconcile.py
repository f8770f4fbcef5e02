"""Reconciliation: read back what the agencies hold and repair drift (DESIGN.md §4).

For each DOI pidsync holds as confirmed: unknown at the agency → registered again; metadata or
state differs → updated. Deposits stuck without a poll → polled again (:mod:`.sweep`). Run by
``pidsync reconcile dois [--since]`` and, a batch at a time, by the scheduler.

The comparison looks at what identifies a record to a reader (landing page, titles, creators,
publisher, year, type, state), not at every attribute: an agency that normalises what it
stores must not look like drift on every pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session
from structlog.contextvars import bound_contextvars

from worker.clock import utcnow
from worker.config import Settings
from worker.errors import TransientError, error_text
from worker.http import RequestError, asks_to_wait
from worker.logging import get_logger
from worker.metadata.errors import MetadataError
from worker.models import DoiRegistration, DoiState, Registrar
from worker.registrars import repository
from worker.registrars.accounts import UnknownAccount
from worker.registrars.crossref import service as crossref
from worker.registrars.datacite import service as datacite
from worker.registrars.datacite.client import DataCiteState, state_of
from worker.registrars.deps import RegistrarDeps
from worker.registrars.repository import CONFIRMED, lock_registration
from worker.registrars.service import desired_change, schedule_send

log = get_logger(__name__)


class FindingKind(StrEnum):
    """What reading a DOI back found."""

    IN_SYNC = "in_sync"
    UNKNOWN = "unknown_at_agency"
    METADATA = "metadata_differs"
    STATE = "state_differs"
    ERROR = "error"  # not read back (refused, or the agency did not answer usably)


class Repair(StrEnum):
    """What is done about a finding."""

    NONE = "none"
    RE_REGISTER = "re-register"  # the agency does not know the DOI: sent again
    UPDATE = "update"  # the agency holds something else: our payload sent again


@dataclass(frozen=True)
class Finding:
    doi: str
    registrar: Registrar
    kind: FindingKind
    detail: str = ""
    action: Repair = Repair.NONE
    #: Seconds before the read-back is tried again (the agency did not answer usably).
    retry_in: float | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "doi": self.doi,
            "registrar": self.registrar.value,
            "kind": self.kind.value,
            "detail": self.detail,
            "action": self.action.value,
        }
        if self.retry_in is not None:
            found["retry_in"] = self.retry_in
        return found


def due_registrations(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    since: datetime | None = None,
    limit: int | None = None,
    every: bool = False,
) -> list[int]:
    """Confirmed registrations to read back: changed since ``since`` (all when None), confirmed
    at least the minimum age ago, and (unless ``every``) not read back within the interval."""
    interval = timedelta(seconds=settings.doi.reconcile_interval_seconds)
    return repository.due_reconciliations(
        session,
        confirmed_before=now - timedelta(seconds=settings.doi.reconcile_min_age_seconds),
        since=since,
        read_back_before=None if every else now - interval,
        limit=limit,
    )


def reconcile_registration(
    session: Session, deps: RegistrarDeps, registration_id: int, *, now: datetime | None = None
) -> Finding | None:
    """Read one DOI back from its agency and repair drift. None when it is not in a state to
    compare (a change is pending: the normal path is already sending it). When the agency did
    not answer usably, the try is recorded on the registration and the finding says when to
    try again (``retry_in``), until the tries are spent."""
    now = now or utcnow()
    reg = lock_registration(session, registration_id)
    if reg is None or reg.state not in CONFIRMED or reg.pending_hash is not None:
        return None
    reg.reconciled_at = now
    try:
        with bound_contextvars(work_id=reg.work_id):  # the call records name the work
            finding = (
                _datacite(deps, reg)
                if reg.registrar is Registrar.DATACITE
                else _crossref(deps, reg)
            )
    except TransientError as exc:
        return _read_failed(session, deps.settings, reg, exc, now)
    except (UnknownAccount, RequestError, MetadataError, crossref.NoTombstone) as exc:
        finding = Finding(reg.doi, reg.registrar, FindingKind.ERROR, str(exc))
    # Read back (or refused for good): the tries of this read-back are over.
    reg.retry_count = 0
    reg.last_error = None
    reg.next_attempt_at = None
    if finding.action is not Repair.NONE:
        _send_again(session, deps, reg, finding, now)
    session.flush()
    log.info("doi_reconciled", doi=reg.doi, kind=finding.kind, action=finding.action)
    return finding


def _read_failed(
    session: Session, settings: Settings, reg: DoiRegistration, exc: TransientError, now: datetime
) -> Finding:
    """The agency did not answer usably (network, 5xx, 429): the try is recorded on the
    registration (a confirmed one has no other use for its try count), and the read-back is
    tried again after the backoff; when the tries are spent, the next scheduled pass reads it
    back again and the reason stays on the row. A 429 asks us to wait: not a failed try."""
    if not asks_to_wait(exc):
        reg.retry_count += 1
    answer = error_text(exc, settings.error_text_chars)
    agency = "DataCite" if reg.registrar is Registrar.DATACITE else "Crossref"
    backoff = settings.doi.backoff
    if backoff.exhausted(reg.retry_count):
        reg.last_error = f"reconciliation gave up after {reg.retry_count} tries: {answer}"
        reg.retry_count = 0
        reg.next_attempt_at = None
        session.flush()
        log.warning("doi_reconcile_gave_up", doi=reg.doi, error=reg.last_error)
        return Finding(reg.doi, reg.registrar, FindingKind.ERROR, reg.last_error)
    delay = backoff.delay(reg.retry_count, exc.retry_after)
    reg.last_error = (
        f"reconciliation: {agency} did not answer usably (try {reg.retry_count}): {answer}"
    )
    reg.next_attempt_at = now + timedelta(seconds=delay)
    session.flush()
    log.warning("doi_reconcile_retry_scheduled", doi=reg.doi, delay_s=delay, error=answer)
    detail = f"{agency} did not answer usably: {answer}"
    return Finding(reg.doi, reg.registrar, FindingKind.ERROR, detail, retry_in=delay)


def _send_again(
    session: Session,
    deps: RegistrarDeps,
    reg: DoiRegistration,
    finding: Finding,
    now: datetime,
) -> None:
    change = desired_change(reg.work, reg.doi, reg.registrar, reg.target_state)
    reg.confirmed_hash = None  # the agency does not hold what we last sent
    reg.pending_hash = change.hash
    reg.pending_since = now
    reg.retry_count = 0
    reg.last_error = f"reconciliation: {finding.detail}; sending again"
    schedule_send(session, deps.settings, reg, now)


# --- DataCite ------------------------------------------------------------------------------


def _datacite(deps: RegistrarDeps, reg: DoiRegistration) -> Finding:
    account = deps.datacite_account(reg.account)
    want = datacite.desired(reg.work, reg.doi, reg.target_state)
    deps.throttle_datacite(account)
    held = deps.datacite(account).get_doi(reg.doi)
    if held is None:
        detail = "DataCite does not know the DOI"
        return Finding(reg.doi, Registrar.DATACITE, FindingKind.UNKNOWN, detail, Repair.RE_REGISTER)
    attributes = held.get("attributes") or {}
    differences = [
        key
        for key, value in fingerprint(want.attributes).items()
        if fingerprint(attributes).get(key) != value
    ]
    if differences:
        detail = "DataCite holds different " + ", ".join(differences)
        return Finding(reg.doi, Registrar.DATACITE, FindingKind.METADATA, detail, Repair.UPDATE)
    expected = {
        DoiState.FINDABLE: {DataCiteState.FINDABLE},
        DoiState.REGISTERED: {DataCiteState.REGISTERED},
        DoiState.WITHDRAWN: {DataCiteState.REGISTERED, DataCiteState.DRAFT},
    }[reg.state]
    if state_of(attributes) not in expected:
        remote = str(attributes.get("state") or "")
        detail = f"DataCite has state {remote!r}, pidsync expects {reg.state.value!r}"
        return Finding(reg.doi, Registrar.DATACITE, FindingKind.STATE, detail, Repair.UPDATE)
    return Finding(reg.doi, Registrar.DATACITE, FindingKind.IN_SYNC)


def _names(items: Any, key: str) -> list[str]:
    if not isinstance(items, list):
        return []
    return [_text(item.get(key)) for item in items if isinstance(item, dict)]


def _text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("name")
    return " ".join(str(value or "").split()).casefold()


def fingerprint(attributes: dict[str, Any]) -> dict[str, Any]:
    """What identifies a DataCite record to a reader, normalised; only keys present."""
    found: dict[str, Any] = {}
    if "url" in attributes:
        found["url"] = attributes.get("url") or None
    if "titles" in attributes:
        found["titles"] = _names(attributes.get("titles"), "title")
    if "creators" in attributes:
        found["creators"] = _names(attributes.get("creators"), "name")
    if "publisher" in attributes:
        found["publisher"] = _text(attributes.get("publisher"))
    if "publicationYear" in attributes:
        found["publicationYear"] = str(attributes.get("publicationYear") or "")
    if "types" in attributes:
        types = attributes.get("types") or {}
        found["resourceTypeGeneral"] = types.get("resourceTypeGeneral") if types else None
    return found


# --- Crossref ------------------------------------------------------------------------------


def _crossref(deps: RegistrarDeps, reg: DoiRegistration) -> Finding:
    want = crossref.desired_record(reg.work, reg.doi)
    held = deps.crossref_rest().work(reg.doi)
    if held is None:
        detail = "Crossref does not know the DOI"
        return Finding(reg.doi, Registrar.CROSSREF, FindingKind.UNKNOWN, detail, Repair.RE_REGISTER)
    differences = []
    url = ((held.get("resource") or {}).get("primary") or {}).get("URL")
    if url != want.model.url:
        differences.append("landing page URL")
    titles = [_text(t) for t in held.get("title") or []]
    if _text(want.model.title) not in titles:
        differences.append("title")
    if differences:
        detail = "Crossref holds a different " + " and ".join(differences)
        return Finding(reg.doi, Registrar.CROSSREF, FindingKind.METADATA, detail, Repair.UPDATE)
    return Finding(reg.doi, Registrar.CROSSREF, FindingKind.IN_SYNC)
