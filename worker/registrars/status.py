"""A registration as the status API, the CLI and the dashboard show it: the DOI, its state,
the agency's messages, attempts, timestamps, and each Crossref deposit that carried it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from worker.models import (
    CrossrefDepositRecord,
    DoiRegistration,
    DoiState,
    DuplicateCheck,
    Registrar,
)
from worker.works.render_notes import shown_notes

#: Deposits shown per DOI (newest first).
DEPOSITS_SHOWN = 5


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _word(state: StrEnum | None) -> str | None:
    return state.value if state is not None else None


def describe(reg: DoiRegistration) -> dict[str, Any]:
    details: dict[str, Any] = {
        "doi": reg.doi,
        "registrar": reg.registrar.value,
        "account": reg.account,
        "state": reg.state.value,
        # What pidsync is making true at the agency: a withdrawn work's DOI is hidden (DataCite)
        # or points at its tombstone (Crossref), whatever state was asked when it was published.
        "target_state": (
            DoiState.WITHDRAWN.value
            if reg.work.withdrawn_at is not None
            else reg.target_state.value
        ),
        "blocked": blocked(reg),
        "minted": reg.minted,
        "pending": reg.pending_hash is not None,
        "pending_since": _iso(reg.pending_since),
        "warning": reg.warning,
        "last_error": reg.last_error,
        "errors": reg.error_details,
        "hold": reg.hold,
        "duplicate_check": _word(reg.duplicate_check),
        "attempts": reg.attempts,
        # Transient failures in a row of the change waiting (the retry budget spent so far).
        "retries": reg.retry_count,
        "next_attempt_at": _iso(reg.next_attempt_at),
        "registered_at": _iso(reg.registered_at),
        "confirmed_at": _iso(reg.confirmed_at),
        "reconciled_at": _iso(reg.reconciled_at),
        "updated_at": _iso(reg.updated_at),
        # What the registrar's format could not hold of the Work last sent (issue 16).
        "notes": shown_notes(reg),
    }
    if reg.registrar is Registrar.CROSSREF:
        records = sorted(reg.deposit_records, key=lambda r: r.id, reverse=True)
        details["timestamp"] = reg.last_timestamp
        details["deposits"] = [_deposit(r) for r in records[:DEPOSITS_SHOWN]]
    return details


def blocked(reg: DoiRegistration) -> str | None:
    """Why a change that waits is not being sent, when it is something other than its next
    try (``next_attempt_at``): a person's decision or another process's answer."""
    if reg.state == DoiState.ON_HOLD:
        return f"held as a possible duplicate ({reg.warning}): an operator decides (doi release)"
    if reg.duplicate_check == DuplicateCheck.PENDING:
        return "checking the agencies for a possible duplicate before registering"
    if reg.pending_hash is not None and reg.open_deposit_id is not None:
        return "waiting for Crossref to process the deposit that carries it"
    return None


def _deposit(record: CrossrefDepositRecord) -> dict[str, Any]:
    deposit = record.deposit
    return {
        "file_name": deposit.file_name,
        "status": deposit.status.value,
        "intent": record.intent.value,
        "timestamp": record.timestamp,
        "outcome": _word(record.status),
        "message": record.message,
        "submitted_at": _iso(deposit.submitted_at),
        "completed_at": _iso(deposit.completed_at),
        "polls": deposit.poll_count,
        "next_poll_at": _iso(deposit.next_poll_at),
        "stale": deposit.stale,
        "last_error": deposit.last_error,
    }
