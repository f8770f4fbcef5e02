"""Actors for DOI registration. Thin: ids in, one unit of work, one service call.

A service that must try again later returns the delay; the actor then raises Postpone after
the unit of work has committed what happened (attempts, the error, the next attempt time), so
waiting never spends a dramatiq retry and the status API shows every try.
"""

from __future__ import annotations

from worker.broker import actor
from worker.db import session_scope
from worker.errors import Postpone
from worker.registrars import duplicates
from worker.registrars.context import current_context
from worker.registrars.crossref import service as crossref
from worker.registrars.datacite import service as datacite
from worker.registrars.reconcile import reconcile_registration as reconcile_one


def _later(delay: float | None, reason: str) -> None:
    if delay is not None:
        raise Postpone(delay, reason)


@actor("registrars.datacite.sync", time_limit=120_000)
def datacite_sync(registration_id: int) -> None:
    ctx = current_context()
    with session_scope() as session:
        delay = datacite.sync_registration(session, ctx, registration_id)
    _later(delay, "DataCite did not answer usably; next try scheduled")


@actor("registrars.crossref.batch", time_limit=300_000)
def crossref_batch(account: str, prefix: str) -> None:
    ctx = current_context()
    with session_scope() as session:
        crossref.prepare_batches(session, ctx, account, prefix)


@actor("registrars.crossref.upload", time_limit=300_000)
def crossref_upload(deposit_id: int) -> None:
    ctx = current_context()
    with session_scope() as session:
        delay = crossref.upload_deposit(session, ctx, deposit_id)
    _later(delay, "Crossref upload to be tried again")


@actor("registrars.crossref.poll", time_limit=120_000)
def crossref_poll(deposit_id: int) -> None:
    ctx = current_context()
    with session_scope() as session:
        delay = crossref.poll_deposit(session, ctx, deposit_id)
    _later(delay, "Crossref submission not processed yet")


@actor("registrars.check_duplicates", time_limit=120_000)
def check_duplicates(registration_id: int) -> None:
    ctx = current_context()
    with session_scope() as session:
        delay = duplicates.check_registration(session, ctx, registration_id)
    _later(delay, "registry search failed; duplicate check to be tried again")


@actor("registrars.reconcile", time_limit=120_000)
def reconcile_registration(registration_id: int) -> None:
    ctx = current_context()
    with session_scope() as session:
        reconcile_one(session, ctx, registration_id)
