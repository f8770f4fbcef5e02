"""Actors for DOI registration. Thin: ids in, one unit of work, one service call.

A service that must try again later records why and when on its row and returns the delay;
the actor then postpones the message after the unit of work has committed (worker.retry).
"""

from __future__ import annotations

from worker.bootstrap import runtime
from worker.broker import actor, later
from worker.registrars import guard
from worker.registrars.crossref import service as crossref
from worker.registrars.datacite import service as datacite
from worker.registrars.reconcile import reconcile_registration as reconcile_one

#: Milliseconds a message that may settle a DOI may run: its own calls, then the
#: ``orcid.doi_settled`` it runs as a follow-up (worker.broker.FOLLOW_UPS), whose own limit
#: this is.
SETTLING_TIME_LIMIT = 300_000


@actor("registrars.datacite.sync", time_limit=SETTLING_TIME_LIMIT)
def datacite_sync(registration_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        delay = datacite.sync_registration(session, rt.registrars, registration_id)
    later(delay, "DataCite did not answer usably; next try scheduled")


@actor("registrars.crossref.batch", time_limit=300_000)
def crossref_batch(account: str, prefix: str) -> None:
    rt = runtime()
    with rt.session() as session:
        crossref.prepare_batches(session, rt.registrars, account, prefix)


@actor("registrars.crossref.upload", time_limit=300_000)
def crossref_upload(deposit_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        delay = crossref.upload_deposit(session, rt.registrars, deposit_id)
    later(delay, "Crossref upload to be tried again")


@actor("registrars.crossref.poll", time_limit=SETTLING_TIME_LIMIT)
def crossref_poll(deposit_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        delay = crossref.poll_deposit(session, rt.registrars, deposit_id)
    later(delay, "Crossref submission not processed yet")


@actor("registrars.check_duplicates", time_limit=SETTLING_TIME_LIMIT)
def check_duplicates(registration_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        delay = guard.check_registration(session, rt.registrars, registration_id)
    later(delay, "registry search failed; duplicate check to be tried again")


@actor("registrars.reconcile", time_limit=SETTLING_TIME_LIMIT)
def reconcile_registration(registration_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        finding = reconcile_one(session, rt.registrars, registration_id)
    later(finding.retry_in if finding else None, "the agency did not answer; read back later")
