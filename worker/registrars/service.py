"""DOI registration decisions, inside the event's unit of work (DESIGN.md §4).

``on_work_changed`` / ``on_work_withdrawn`` are the hooks the event processor calls
(:mod:`worker.works.effects`). They check what the Work asks for (registrar, account, the DOI,
the fields the agency needs), reserve the DOI in the same commit that creates the
registration row, record the change to send (``pending_hash``), and enqueue the registrar's
actor after commit. Nothing here talks to an agency; a refusal becomes the event's failure
reason (:class:`~worker.works.effects.EffectRefused`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import Settings
from worker.db import enqueue_after_commit
from worker.errors import EffectRefused
from worker.logging import get_logger
from worker.metadata.errors import MetadataError, WorkValidationError
from worker.metadata.work import validate_work
from worker.models import (
    DoiRegistration,
    DoiState,
    DuplicateCheck,
    Registrar,
    TargetState,
    Work,
)
from worker.registrars import accounts, duplicates
from worker.registrars.accounts import UnknownAccount
from worker.registrars.common import (
    mark_confirmed,
    mark_failed,
    report,
    wanted_registrar,
    wanted_registration,
    wanted_target,
)
from worker.registrars.crossref import service as crossref
from worker.registrars.datacite import service as datacite
from worker.registrars.doi import DoiTemplateError, choose_doi, is_random
from worker.registrars.repository import (
    CONFIRMED,
    NEVER_SENT,
    registration_of,
    registration_with_doi,
)
from worker.works.service import get_work
from worker.works.trigger import Trigger

log = get_logger(__name__)

WORK_EVENT_TYPES = ("work.published", "work.updated", "work.withdrawn")
#: Draws of a random DOI before giving up on a collision (32^8 suffixes: never in practice).
MINT_TRIES = 5


@dataclass(frozen=True)
class Change:
    hash: str
    target: TargetState


# --- the hooks -----------------------------------------------------------------------------


def on_work_changed(session: Session, work: Work, trigger: Trigger) -> str | None:
    """Reserve (first time) and queue the registration or update of the Work's DOI."""
    try:
        registrar = wanted_registrar(work)
    except UnknownAccount as exc:
        raise EffectRefused(str(exc)) from None
    reg = registration_of(session, work)
    if registrar is None:
        if reg is None:
            return None
        return f"registration 'none': DOI {reg.doi} at {reg.registrar} is left as it is"
    return plan_change(
        session, work, reg, registrar, settings=trigger.settings, client_id=trigger.client_id
    )


def on_work_withdrawn(session: Session, work: Work, trigger: Trigger) -> str | None:
    """Queue the withdrawal of the Work's DOI (hide at DataCite, tombstone at Crossref)."""
    reg = registration_of(session, work)
    if reg is None:
        return None
    return plan_withdrawal(
        session, work, reg, settings=trigger.settings, client_id=trigger.client_id
    )


# --- decisions -----------------------------------------------------------------------------


def plan_change(
    session: Session,
    work: Work,
    reg: DoiRegistration | None,
    registrar: Registrar,
    *,
    settings: Settings,
    client_id: str | None,
    now: datetime | None = None,
) -> str:
    now = now or utcnow()
    wanted = wanted_registration(work)
    try:
        account = accounts.resolve(settings, registrar, wanted.get("account"))
    except UnknownAccount as exc:
        raise EffectRefused(str(exc)) from None
    try:
        model = validate_work(work.work_metadata)
    except WorkValidationError as exc:
        raise EffectRefused(str(exc), fields=exc.paths()) from None
    created = reg is None
    if reg is None:
        reg = _new_registration(session, work, registrar, account, model.doi, settings)
    elif reg.registrar != registrar or reg.account != account.name:
        raise EffectRefused(
            f"this work's DOI {reg.doi} is registered at {reg.registrar} with account "
            f"{reg.account!r}; it cannot move to {registrar} account {account.name!r}"
        )
    elif model.doi and model.doi != reg.doi:
        raise EffectRefused(
            f"doi {model.doi} differs from this work's DOI {reg.doi}; a work's DOI never changes"
        )
    target = wanted_target(work, registrar)
    try:
        change = desired_change(work, reg.doi, registrar, target)
    except MetadataError as exc:
        raise EffectRefused(f"DOI {reg.doi} not registered: {exc}", fields=exc.paths()) from None
    except crossref.NoTombstone:  # a withdrawn work updated without a newer version
        return f"work is withdrawn: DOI {reg.doi} at Crossref left as it is"
    reg.client_id = client_id or reg.client_id
    reg.target_state = change.target
    where = f"{registrar} (account {account.name})"
    if reg.pending_hash is None and reg.confirmed_hash == change.hash and reg.state in CONFIRMED:
        session.flush()
        return f"DOI {reg.doi} unchanged at {where}: nothing sent"
    reg.pending_hash = change.hash
    reg.pending_since = now
    reg.retry_count = 0
    if created:  # the row, its DOI and the change to send: one INSERT, in the event's commit
        reg.next_attempt_at = first_attempt(reg, settings, now)
        session.add(reg)
        # work.registration too, without loading it (see registration_of); only once added: a
        # registration refused before this is never written
        reg.work = work
        work.doi = reg.doi
        message = "DOI reserved; registration queued"
        report(session, reg, "doi.reserved", work=work, settings=settings, message=message)
    if created and _guard_applies(reg, wanted, settings):
        reg.duplicate_check = DuplicateCheck.PENDING
        schedule_check(session, reg, now)
        return f"DOI {reg.doi} reserved at {where}; checking for possible duplicates first"
    if reg.state == DoiState.ON_HOLD:
        # A follow-up event decides: the changed work is checked again.
        reg.duplicate_check = DuplicateCheck.PENDING
        schedule_check(session, reg, now)
        return f"DOI {reg.doi} on hold at {where}; the changed work is checked again"
    schedule_send(session, settings, reg, now)
    verb = "reserved; registration queued" if created else "update queued"
    return f"DOI {reg.doi} {verb} at {where}"


def plan_withdrawal(
    session: Session,
    work: Work,
    reg: DoiRegistration,
    *,
    settings: Settings,
    client_id: str | None,
    now: datetime | None = None,
) -> str:
    now = now or utcnow()
    reg.client_id = client_id or reg.client_id
    if reg.state == DoiState.WITHDRAWN and reg.pending_hash is None:
        return f"DOI {reg.doi} is already withdrawn"
    never_sent = reg.attempts == 0 and reg.open_deposit_id is None
    # A DataCite PUT can be accepted in a transaction that never commits (the worker killed,
    # the database lost, before the answer was recorded): its attempt count says nothing then,
    # so an unconfirmed DataCite DOI is withdrawn through the sync, which asks DataCite first.
    unsent = never_sent and reg.confirmed_hash is None and reg.registrar is not Registrar.DATACITE
    if reg.state == DoiState.ON_HOLD or unsent:
        # Nothing ever reached the agency: there is nothing to hide or re-point.
        reg.duplicate_check = None if reg.state == DoiState.ON_HOLD else reg.duplicate_check
        mark_confirmed(
            session,
            reg,
            state=DoiState.WITHDRAWN,
            confirmed_hash=NEVER_SENT,
            now=now,
            note="the DOI was never registered; nothing was sent",
            settings=settings,
        )
        reg.pending_hash = reg.pending_since = None
        return f"DOI {reg.doi} was never registered: withdrawn without a call to {reg.registrar}"
    try:
        change = desired_change(work, reg.doi, reg.registrar, reg.target_state)
    except crossref.NoTombstone as exc:
        reg.warning = f"withdrawn, but the DOI still points at the landing page: {exc}"
        session.flush()
        return f"DOI {reg.doi} left unchanged at Crossref: {exc}"
    except MetadataError as exc:  # the tombstone record still needs Crossref's fields
        mark_failed(session, settings, reg, f"withdrawal not deposited: {exc}")
        return f"withdrawal of DOI {reg.doi} not deposited: {exc}"
    reg.pending_hash = change.hash
    reg.pending_since = now
    reg.retry_count = 0
    schedule_send(session, settings, reg, now)
    how = "hide" if reg.registrar is Registrar.DATACITE else "re-deposit pointing at the tombstone"
    if reg.registrar is Registrar.DATACITE and work.tombstone_url:
        how += ", URL to the tombstone"
    return f"withdrawal of DOI {reg.doi} queued at {reg.registrar} ({how})"


def desired_change(work: Work, doi: str, registrar: Registrar, target: TargetState) -> Change:
    """The hash of what the agency should hold for ``work`` now (MetadataError names what it
    would miss)."""
    if registrar is Registrar.DATACITE:
        want = datacite.desired(work, doi, target)
        return Change(want.hash, target)
    record = crossref.desired_record(work, doi)
    return Change(record.hash, TargetState.REGISTERED)


def _new_registration(
    session: Session,
    work: Work,
    registrar: Registrar,
    account: accounts.Account,
    supplied: str | None,
    settings: Settings,
) -> DoiRegistration:
    """A registration (not yet added to the session) with its DOI chosen and checked."""
    if supplied is not None:
        prefix = supplied.split("/", 1)[0]
        if prefix not in account.prefixes:
            raise EffectRefused(
                f"doi {supplied}: prefix {prefix} is not one of {registrar} account "
                f"{account.name!r}'s prefixes ({', '.join(account.prefixes)})"
            )
        _refuse_if_taken(session, supplied)
        doi, minted = supplied, False
    else:
        doi, minted = _mint(session, work, account.prefixes[0], settings), True
    return DoiRegistration(
        work_id=work.id,
        registrar=registrar,
        account=account.name,
        doi=doi,
        minted=minted,
        state=DoiState.RESERVED,
        attempts=0,
        retry_count=0,
    )


def _mint(session: Session, work: Work, prefix: str, settings: Settings) -> str:
    template = settings.doi.suffix_template
    year = work.work_metadata.get("publication_date")
    tries = MINT_TRIES if is_random(template) else 1
    taken: list[str] = []
    for _ in range(tries):
        try:
            doi = choose_doi(
                prefix, template, work_id=work.external_id, year=int(year[:4]) if year else None
            )
        except DoiTemplateError as exc:
            raise EffectRefused(str(exc)) from None
        if not template:
            # 32^8 random suffixes: no look-up first. The unique index still guards; a
            # collision fails this event's transaction, and its retry draws again.
            return doi
        if registration_with_doi(session, doi) is None:
            return doi
        taken.append(doi)
    raise EffectRefused(
        f"the DOI suffix template gives {', '.join(taken)}, already used by another work"
    )


def _refuse_if_taken(session: Session, doi: str) -> None:
    holder = registration_with_doi(session, doi)
    if holder is not None:
        other = holder.work
        raise EffectRefused(
            f"DOI {doi} already belongs to work {other.external_id!r} from {other.source!r}"
        )


def _guard_applies(reg: DoiRegistration, wanted: dict[str, Any], settings: Settings) -> bool:
    return reg.minted and settings.doi.duplicate_check and not duplicates.declared_new(wanted)


# --- sending -------------------------------------------------------------------------------


def schedule_send(
    session: Session, settings: Settings, reg: DoiRegistration, now: datetime
) -> None:
    """Enqueue (after commit) the actor that sends the registration's pending change:
    DataCite at once; Crossref after the coalescing window, batched per account/prefix."""

    if reg.registrar is Registrar.DATACITE:
        reg.next_attempt_at = first_attempt(reg, settings, now)
        enqueue_after_commit(session, "registrars.datacite.sync", reg.id)
    elif reg.open_deposit_id is None:
        reg.next_attempt_at = first_attempt(reg, settings, now)
        prefix = reg.doi.split("/", 1)[0]
        window = settings.crossref.batch_window_seconds
        enqueue_after_commit(
            session, "registrars.crossref.batch", reg.account, prefix, delay=window
        )
    # else: the deposit in flight re-batches the newer change when it completes
    session.flush()


def first_attempt(reg: DoiRegistration, settings: Settings, now: datetime) -> datetime:
    """When the message that sends a new change is due: now, or after Crossref's window."""
    if reg.registrar is Registrar.DATACITE:
        return now
    return now + timedelta(seconds=settings.crossref.batch_window_seconds)


def schedule_check(session: Session, reg: DoiRegistration, now: datetime) -> None:

    reg.next_attempt_at = now
    enqueue_after_commit(session, "registrars.check_duplicates", reg.id)
    session.flush()


# --- operator actions ----------------------------------------------------------------------


class ReleaseRefused(Exception):
    """The registration is not in a state ``pidsync doi release`` can act on."""


def release(
    session: Session,
    source: str,
    external_id: str,
    *,
    settings: Settings,
    force: bool = False,
    now: datetime | None = None,
) -> DoiRegistration:
    """Let an on-hold registration go on (an operator judged it is no duplicate). With
    ``force``, also send any other registration again now, whatever the agency last
    confirmed (e.g. a failed one after its account was fixed)."""
    now = now or utcnow()
    work = get_work(session, source, external_id)
    if work is None:
        raise LookupError(f"no work {external_id!r} from source {source!r}")
    reg = registration_of(session, work)
    if reg is None:
        raise LookupError(f"work {external_id!r} from {source!r} has no DOI registration")
    held = reg.state == DoiState.ON_HOLD or reg.duplicate_check == DuplicateCheck.PENDING
    if not held and not force:
        raise ReleaseRefused(
            f"DOI {reg.doi} is {reg.state.value}, not on hold; use --force to send it again"
        )
    if held:
        reg.duplicate_check = DuplicateCheck.RELEASED
        if reg.hold is not None:
            reg.hold = {**reg.hold, "released_at": now.isoformat()}
        reg.warning = None
        if reg.state == DoiState.ON_HOLD:
            reg.state = DoiState.RESERVED
    if force:
        reg.confirmed_hash = None  # whatever the agency holds, send ours again
        if reg.state == DoiState.FAILED:
            reg.state = DoiState.SUBMITTED  # sent again; the agency's answer decides
    try:
        change = desired_change(work, reg.doi, reg.registrar, reg.target_state)
    except (MetadataError, crossref.NoTombstone) as exc:
        raise ReleaseRefused(f"DOI {reg.doi} cannot be sent: {exc}") from None
    reg.pending_hash = change.hash
    reg.pending_since = now
    reg.retry_count = 0
    reg.last_error = None
    reg.error_details = None
    schedule_send(session, settings, reg, now)
    log.info("doi_released", doi=reg.doi, force=force)
    return reg


__all__ = [
    "ReleaseRefused",
    "on_work_changed",
    "on_work_withdrawn",
    "plan_change",
    "plan_withdrawal",
    "release",
    "schedule_send",
]
