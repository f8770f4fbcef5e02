"""Crossref: coalesce pending changes into deposit files, upload them, poll each submission
until Crossref has processed it, and apply the outcome record by record.

1. :func:`prepare_batches` (one account/prefix, after the coalescing window): every pending
   registration there, up to the batch size, goes into one file per record kind, with a
   ``<timestamp>`` per DOI of max(now as yyyymmddhhmmssSSS, last + 1) stored in Postgres, and
   the file itself stored, in the same commit.
2. :func:`upload_deposit`: ``doMDUpload`` of the stored file under its unique ``file_name``.
   A lost answer is harmless: the retry uploads the same bytes, which Crossref can only
   accept once (the copy's timestamps are not newer), and polling by ``file_name`` returns
   the first submission.
3. :func:`poll_deposit`: ``submissionDownload`` on the configured schedule (5 s after the
   upload, backing off to an hour) until ``completed``; Crossref's notification callback
   (``worker.web.crossref``, when configured: deposits then name it, see :func:`notify`)
   brings the next poll forward to now, so a submission is read as soon as Crossref has
   processed it. A submission unfinished past the deadline is flagged stale (status, alert,
   webhook) and polling goes on.
4. :func:`apply_result`: Success → registered; Warning → registered with the warning kept;
   Failure → that record's DOI failed with Crossref's message, and only that one. A "not
   newer" failure for a payload Crossref already accepted is treated as done.

An upload or poll that fails transiently (network, 5xx, 429) is recorded on the deposit and
tried again on ``settings.doi.backoff`` (a poll never sooner than its schedule) until the tries
are spent; one that Crossref refuses (4xx) is not tried again. Either way the deposit then
fails, and each of its DOIs with the reason.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.config import CrossrefAccount, Settings
from worker.db import enqueue_after_commit
from worker.errors import error_text
from worker.http import RequestError, ServerError, TransportError, asks_to_wait
from worker.logging import get_logger
from worker.metadata.errors import MetadataError
from worker.metadata.hashing import crossref_record_hash
from worker.metadata.render.crossref_xml import body_element, render_crossref_deposit
from worker.metadata.work import Work as MetaWork
from worker.models import (
    CrossrefDeposit,
    CrossrefDepositRecord,
    DepositStatus,
    DoiRegistration,
    DoiState,
    RecordIntent,
    RecordOutcome,
    Work,
)
from worker.registrars import repository
from worker.registrars.accounts import UnknownAccount
from worker.registrars.common import (
    EARLY,
    mark_confirmed,
    mark_failed,
    report,
    work_model,
)
from worker.registrars.crossref.client import (
    Notify,
    RecordResult,
    SubmissionResult,
    SubmissionStatus,
)
from worker.registrars.deps import RegistrarDeps
from worker.registrars.repository import ACCEPTED, OPEN
from worker.works.render_notes import record_render_notes

log = get_logger(__name__)


class NoTombstone(ValueError):
    """A Crossref DOI cannot be hidden: withdrawing it needs a tombstone URL to point at."""


@dataclass(frozen=True)
class DesiredRecord:
    model: MetaWork
    hash: str
    intent: RecordIntent


def timestamp_for(now: datetime) -> int:
    """``yyyymmddhhmmssSSS`` of ``now`` (UTC) as a number."""
    return int(now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}")


def next_timestamp(now: datetime, last: int | None) -> int:
    """Crossref's ``<timestamp>`` for a DOI: max(now, last + 1), so it only ever grows."""
    return max(timestamp_for(now), (last or 0) + 1)


def desired_record(work: Work, doi: str) -> DesiredRecord:
    """The record for ``work`` as stored now; MetadataError names what Crossref would miss,
    NoTombstone for a withdrawal without a tombstone URL."""
    if work.withdrawn_at is not None:
        if not work.tombstone_url:
            raise NoTombstone(
                "Crossref DOIs cannot be hidden or deleted: a withdrawal needs tombstone_url "
                "to point the DOI at"
            )
        model = work_model(work, doi, url=work.tombstone_url)
        intent = RecordIntent.WITHDRAW
    else:
        model = work_model(work, doi)
        intent = RecordIntent.REGISTER
    return DesiredRecord(model, crossref_record_hash(model), intent)


def doi_prefix(doi: str) -> str:
    return doi.split("/", 1)[0]


# --- 1. batches ----------------------------------------------------------------------------


def prepare_batches(
    session: Session,
    deps: RegistrarDeps,
    account_name: str,
    prefix: str,
    *,
    now: datetime | None = None,
) -> list[int]:
    """Put every pending change of one account/prefix (up to the batch size) into deposit
    files, one per record kind; returns the new deposits' ids (uploaded after commit)."""

    now = now or utcnow()
    size = deps.settings.crossref.batch_max_records
    regs = repository.batch_candidates(session, account=account_name, prefix=prefix, limit=size)
    if not regs:
        return []
    try:
        account = deps.crossref_account(account_name)
    except UnknownAccount as exc:
        for reg in regs:
            mark_failed(
                session,
                deps.settings,
                reg,
                f"not deposited: {exc}",
                failed_hash=reg.pending_hash,
            )
        return []
    groups: dict[str, list[tuple[DoiRegistration, DesiredRecord]]] = defaultdict(list)
    for reg in regs:
        want = _batchable(session, deps.settings, reg, now)
        if want is not None:
            groups[body_element(want.model)].append((reg, want))
    deposits = [
        _prepare(session, deps.settings, account, prefix, items, now) for items in groups.values()
    ]
    if len(regs) == size:  # more may be waiting: the next batch right away
        enqueue_after_commit(session, "registrars.crossref.batch", account_name, prefix)
    return [d for d in deposits if d is not None]


def _batchable(
    session: Session, settings: Settings, reg: DoiRegistration, now: datetime
) -> DesiredRecord | None:
    """The record to deposit for ``reg``, or None when there is nothing to send (recorded)."""
    try:
        want = desired_record(reg.work, reg.doi)
    except NoTombstone as exc:
        reg.pending_hash = reg.pending_since = reg.next_attempt_at = None
        reg.warning = f"withdrawn, but the DOI still points at the landing page: {exc}"
        session.flush()
        return None
    except MetadataError as exc:
        mark_failed(session, settings, reg, f"not deposited: {exc}", failed_hash=reg.pending_hash)
        return None
    if want.hash == reg.confirmed_hash and reg.state in (DoiState.REGISTERED, DoiState.WITHDRAWN):
        reg.pending_hash = reg.pending_since = reg.next_attempt_at = None
        session.flush()
        return None
    if want.intent is RecordIntent.WITHDRAW and reg.confirmed_hash is None:
        # Crossref never accepted this DOI: depositing the tombstone would create it.
        mark_confirmed(
            session,
            reg,
            state=DoiState.WITHDRAWN,
            confirmed_hash=want.hash,
            now=now,
            note="the DOI was never registered at Crossref; nothing deposited",
            settings=settings,
        )
        return None
    return want


def _prepare(
    session: Session,
    settings: Settings,
    account: CrossrefAccount,
    prefix: str,
    items: list[tuple[DoiRegistration, DesiredRecord]],
    now: datetime,
) -> int | None:

    token = uuid.uuid4().hex
    stamp = max(next_timestamp(now, reg.last_timestamp) for reg, _ in items)
    batch_id = f"pidsync-{token[:24]}"
    try:
        xml = render_crossref_deposit(
            [want.model for _, want in items],
            doi_batch_id=batch_id,
            timestamps=stamp,
            depositor_name=account.depositor_name,
            depositor_email=account.depositor_email,
            registrant=account.registrant,
        )
    except MetadataError as exc:  # the head (depositor, registrant) is the account's own
        for reg, _ in items:
            mark_failed(
                session, settings, reg, f"not deposited: {exc}", failed_hash=reg.pending_hash
            )
        return None
    deposit = CrossrefDeposit(
        account=account.name,
        prefix=prefix,
        file_name=f"pidsync-{account.name}-{token}.xml",
        doi_batch_id=batch_id,
        content=xml,
        status=DepositStatus.PREPARED,
        next_poll_at=now,
    )
    session.add(deposit)
    session.flush()
    for reg, want in items:
        session.add(
            CrossrefDepositRecord(
                deposit_id=deposit.id,
                registration_id=reg.id,
                doi=reg.doi,
                timestamp=stamp,
                payload_hash=want.hash,
                intent=want.intent,
            )
        )
        record_render_notes(reg, "crossref-xml", want.hash, want.model, doi=reg.doi)
        reg.last_timestamp = stamp
        reg.open_deposit_id = deposit.id
        reg.next_attempt_at = None
    session.flush()
    enqueue_after_commit(session, "registrars.crossref.upload", deposit.id)
    log.info("crossref_deposit_prepared", file=deposit.file_name, records=len(items))
    return deposit.id


# --- 2. upload -----------------------------------------------------------------------------


def upload_deposit(
    session: Session, deps: RegistrarDeps, deposit_id: int, *, now: datetime | None = None
) -> float | None:
    """Upload a prepared deposit. Returns a delay when it must be tried again later."""

    now = now or utcnow()
    deposit = repository.lock_deposit(session, deposit_id)
    if deposit is None or deposit.status != DepositStatus.PREPARED:
        return None
    if deposit.next_poll_at is not None and deposit.next_poll_at > now + EARLY:
        return None  # a retry is already scheduled; this message is a duplicate
    try:
        account = deps.crossref_account(deposit.account)
    except UnknownAccount as exc:
        _deposit_failed(session, deps.settings, deposit, f"not uploaded: {exc}")
        return None
    waiting = repository.pending_submissions(session, deposit.account)
    budget = deps.settings.crossref.max_pending_submissions
    if waiting >= budget:
        delay = deps.settings.crossref.poll_delay(0)
        deposit.next_poll_at = now + timedelta(seconds=delay)
        deposit.last_error = (
            f"waiting: {waiting} submissions of account {deposit.account!r} are still queued at "
            f"Crossref (budget {budget})"
        )
        session.flush()
        return delay
    deps.throttle_crossref(account)
    regs = repository.deposit_registrations(session, deposit)
    deposit.upload_attempts += 1
    for reg in regs:
        reg.attempts += 1
    try:
        deps.crossref(account).deposit(
            deposit.file_name, deposit.content.encode("utf-8"), notify=notify(deps.settings)
        )
    except RequestError as exc:
        answer = error_text(exc, deps.settings.error_text_chars)
        message = f"Crossref refused the upload ({exc.status}): {answer}"
        _deposit_failed(session, deps.settings, deposit, message)
        return None
    except (ServerError, TransportError) as exc:
        return _try_again(session, deps.settings, deposit, exc, now, step="upload")
    delay = deps.settings.crossref.poll_delay(0)
    deposit.status = DepositStatus.SUBMITTED
    deposit.submitted_at = now
    deposit.retry_count = 0
    deposit.last_error = None
    deposit.next_poll_at = now + timedelta(seconds=delay)
    for reg in regs:
        if reg.state in (DoiState.RESERVED, DoiState.FAILED):
            reg.state = DoiState.SUBMITTED
    session.flush()
    enqueue_after_commit(session, "registrars.crossref.poll", deposit.id, delay=delay)
    log.info("crossref_deposit_uploaded", file=deposit.file_name, poll_in_s=delay)
    return None


def notify(settings: Settings) -> Notify | None:
    """The notification callback deposits carry, when one is configured."""
    section = settings.crossref
    if section.notify_url is None or section.notify_endpoint is None:
        return None
    return Notify(section.notify_endpoint, section.notify_url.get_secret_value())


def _try_again(
    session: Session,
    settings: Settings,
    deposit: CrossrefDeposit,
    exc: ServerError | TransportError,
    now: datetime,
    *,
    step: str,
    at_least: float = 0.0,
) -> float | None:
    """A transient failure of an upload or a poll (network, 5xx, 429), recorded on the deposit:
    the delay before the next try (never under ``at_least``), or None when the tries are spent
    (then the deposit failed, and each DOI with it). A 429 is Crossref asking us to wait: it
    does not count as a failed try."""
    if not asks_to_wait(exc):
        deposit.retry_count += 1
    answer = error_text(exc, settings.error_text_chars)
    deposit.last_error = f"{step} try {deposit.retry_count} failed: {answer}"
    backoff = settings.doi.backoff
    if backoff.exhausted(deposit.retry_count):
        message = f"gave up after {deposit.retry_count} tries to {step}: {answer}"
        _deposit_failed(session, settings, deposit, message)
        return None
    delay = max(at_least, backoff.delay(deposit.retry_count, exc.retry_after))
    deposit.next_poll_at = now + timedelta(seconds=delay)
    session.flush()
    log.warning(
        "crossref_retry_scheduled",
        step=step,
        file=deposit.file_name,
        delay_s=delay,
        error=deposit.last_error,
    )
    return delay


def _deposit_failed(
    session: Session, settings: Settings, deposit: CrossrefDeposit, message: str
) -> None:
    """The deposit cannot go on (refused, or the tries are spent): failed, and each of its
    DOIs failed with ``message``, a reason a person can act on (then ``pidsync doi release
    --force`` deposits them again)."""
    deposit.status = DepositStatus.FAILED
    deposit.last_error = message
    deposit.next_poll_at = None
    log.error("crossref_deposit_failed", account=deposit.account, file=deposit.file_name)
    hashes = {record.registration_id: record.payload_hash for record in deposit.records}
    for reg in repository.deposit_registrations(session, deposit):
        reg.open_deposit_id = None
        mark_failed(session, settings, reg, message, failed_hash=hashes.get(reg.id))
    session.flush()


# --- 3. polling ----------------------------------------------------------------------------


def poll_deposit(
    session: Session, deps: RegistrarDeps, deposit_id: int, *, now: datetime | None = None
) -> float | None:
    """Ask Crossref about one submission. Returns the delay until the next poll while it is
    unfinished, else None."""
    now = now or utcnow()
    deposit = repository.lock_deposit(session, deposit_id)
    if deposit is None or deposit.status not in OPEN:
        return None
    if deposit.next_poll_at is not None and deposit.next_poll_at > now + EARLY:
        return None  # the next poll is already scheduled; this message is a duplicate
    try:
        account = deps.crossref_account(deposit.account)
    except UnknownAccount as exc:
        _deposit_failed(session, deps.settings, deposit, f"outcome unknown, cannot poll: {exc}")
        return None
    deps.throttle_crossref(account)
    try:
        result = deps.crossref(account).submission_result(deposit.file_name)
    except RequestError as exc:
        # Permanent (e.g. the account's password changed): asking again cannot help.
        answer = error_text(exc, deps.settings.error_text_chars)
        message = f"outcome unknown, Crossref refused polling ({exc.status}): {answer}"
        _deposit_failed(session, deps.settings, deposit, message)
        return None
    except (ServerError, TransportError) as exc:
        flag_if_stale(session, deps.settings, deposit, now)
        after = deps.settings.crossref.poll_delay(deposit.poll_count)
        return _try_again(session, deps.settings, deposit, exc, now, step="poll", at_least=after)
    deposit.poll_count += 1
    deposit.retry_count = 0
    if result.completed:
        apply_result(session, deps, deposit, result, now=now)
        return None
    deposit.last_error = (
        "Crossref does not know this submission yet"
        if result.status is SubmissionStatus.UNKNOWN_SUBMISSION
        else None
    )
    if result.status is SubmissionStatus.QUEUED:
        deposit.status = DepositStatus.QUEUED
    elif result.status is SubmissionStatus.IN_PROCESS:
        deposit.status = DepositStatus.IN_PROCESS
    deposit.submission_id = result.submission_id or deposit.submission_id
    return _poll_again(session, deps, deposit, now)


def _poll_again(
    session: Session, deps: RegistrarDeps, deposit: CrossrefDeposit, now: datetime
) -> float:
    """Not processed yet: the next poll on the schedule."""
    flag_if_stale(session, deps.settings, deposit, now)
    delay = deps.settings.crossref.poll_delay(deposit.poll_count)
    deposit.next_poll_at = now + timedelta(seconds=delay)
    session.flush()
    return delay


def flag_if_stale(
    session: Session, settings: Settings, deposit: CrossrefDeposit, now: datetime
) -> bool:
    """Flag a submission still unfinished past the deadline (once): status, alert, webhook."""
    if deposit.stale or deposit.submitted_at is None or deposit.status not in OPEN:
        return False
    age = (now - deposit.submitted_at).total_seconds()
    if age < settings.crossref.stale_after_seconds:
        return False
    deposit.stale = True
    deposit.stale_at = now
    hours = age / 3600
    message = (
        f"Crossref submission {deposit.file_name} is still {deposit.status.value} after "
        f"{hours:.1f} h; pidsync keeps polling"
    )
    log.error(
        "crossref_deposit_stale", account=deposit.account, file=deposit.file_name, hours=hours
    )
    for reg in repository.deposit_registrations(session, deposit):
        if reg.open_deposit_id == deposit.id:
            reg.warning = message
            report(session, reg, "doi.stale", message=message, deposit=deposit.file_name)
    session.flush()
    return True


# --- 4. outcome ----------------------------------------------------------------------------


def apply_result(
    session: Session,
    deps: RegistrarDeps,
    deposit: CrossrefDeposit,
    result: SubmissionResult,
    *,
    now: datetime,
) -> None:
    """Apply a completed submission's per-record diagnostics, each to its own DOI."""

    by_doi = {record.doi.lower(): record for record in result.records}
    regs = {reg.id: reg for reg in repository.deposit_registrations(session, deposit)}
    rebatch = False
    outcomes: list[str] = []
    for record in sorted(deposit.records, key=lambda r: r.id):
        reg = regs[record.registration_id]
        outcome = by_doi.get(record.doi.lower()) or RecordResult(
            record.doi,
            RecordOutcome.FAILURE,
            "Crossref's result has no diagnostic for this DOI",
        )
        record.status = outcome.status
        outcomes.append(outcome.status.value)
        record.message = outcome.message or None
        if reg.open_deposit_id == deposit.id:
            reg.open_deposit_id = None
        _apply_record(session, deps.settings, reg, record, outcome, now)
        if reg.pending_hash is not None and reg.state != DoiState.ON_HOLD:
            rebatch = True  # a newer change arrived while this deposit was in flight
    deposit.status = DepositStatus.COMPLETED
    deposit.completed_at = now
    deposit.next_poll_at = None
    deposit.last_error = None
    deposit.submission_id = result.submission_id or deposit.submission_id
    session.flush()
    if rebatch:
        enqueue_after_commit(
            session,
            "registrars.crossref.batch",
            deposit.account,
            deposit.prefix,
            delay=deps.settings.crossref.batch_window_seconds,
        )
    log.info(
        "crossref_deposit_completed",
        file=deposit.file_name,
        outcomes=outcomes,
    )


def _apply_record(
    session: Session,
    settings: Settings,
    reg: DoiRegistration,
    record: CrossrefDepositRecord,
    outcome: RecordResult,
    now: datetime,
) -> None:
    state = DoiState.WITHDRAWN if record.intent is RecordIntent.WITHDRAW else DoiState.REGISTERED
    if outcome.status in ACCEPTED:
        warning = outcome.message if outcome.status is RecordOutcome.WARNING else None
        mark_confirmed(
            session,
            reg,
            state=state,
            confirmed_hash=record.payload_hash,
            now=now,
            warning=warning and f"Crossref: {warning}",
            settings=settings,
        )
    elif outcome.timestamp_not_newer and _accepted_before(session, record):
        mark_confirmed(
            session,
            reg,
            state=state,
            confirmed_hash=record.payload_hash,
            now=now,
            note="Crossref already held this payload (its timestamp was not newer)",
            settings=settings,
        )
    else:
        mark_failed(
            session,
            settings,
            reg,
            f"Crossref refused the record: {outcome.message or outcome.status}",
            details=[{"status": outcome.status.value, "msg": outcome.message}],
            failed_hash=record.payload_hash,
        )


def _accepted_before(session: Session, record: CrossrefDepositRecord) -> bool:
    """Whether the newer-or-equal version Crossref holds is one of ours with this very payload:
    a record of this DOI that Crossref accepted, with the same payload and a timestamp at least
    this one's, or this same file uploaded twice (an answer was lost: the first copy was
    accepted, the second is refused). Newer content deposited by someone else is not ours to
    call done."""
    return record.deposit.upload_attempts > 1 or repository.accepted_same_payload(session, record)
