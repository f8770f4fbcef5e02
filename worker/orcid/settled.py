"""A settled DOI's placements, written by the message that learns the DOI settled (issue 13).

``orcid.doi_settled`` used to queue one ``orcid.place`` message per placement it woke: for a
work with three ORCID contributors, three more messages, each fetched, acknowledged and run
as a unit of work of its own (a fifth of the worker's CPU per event went to dramatiq and the
sessions around them). Here the message settles the placements in one unit of work, then
places up to :data:`INLINE` of them itself after that commit, each in its own unit of work
exactly as ``orcid.place`` would (same service, same row lock, same record lock), so one
placement's outcome never depends on another's.

Each placement that cannot be finished here becomes its own ``orcid.place`` message, so it is
retried exactly as before: a transient failure after its recorded delay; the record's lock
held by another worker (``Postpone``) after that wait; its row held by another transaction at
once (that message waits for the row); an unexpected error, for it and every placement after
it, with the broker's retries. Nothing is lost if the worker dies midway: the placements are
committed ``pending``, the redelivered ``orcid.doi_settled`` places those never tried (a POST
that reached ORCID before the crash is adopted by its 409, as on any redelivery), and the
ORCID sweep re-sends any pending placement left without a message.

Usually this runs as a follow-up of the message that settled the DOI
(:data:`worker.broker.FOLLOW_UPS`), in the same worker thread, not as a message of its own.
A worker that dies then leaves no ``orcid.doi_settled`` to redeliver: the ORCID sweep's heal
of placements still waiting for a settled DOI, and its re-sending of pending ones, take its
place (:mod:`worker.orcid.sweep`: ``heal_waiting_placements``, ``resend_stalled_placements``).
"""

from __future__ import annotations

import time

from worker.broker import Outgoing, send_committed
from worker.db import Database
from worker.errors import Postpone
from worker.logging import current_correlation_id, get_logger
from worker.orcid.deps import OrcidDeps
from worker.orcid.placements import place, settle_doi
from worker.orcid.result import Result

log = get_logger(__name__)

#: Placements one ``orcid.doi_settled`` message writes itself; the rest get messages of their
#: own (so a work with many contributors is still placed by several workers at once).
INLINE = 10
#: Seconds after which no further placement is started inline: one placement may take up to
#: its calls' deadlines, and the message must end well within its time limit.
BUDGET_SECONDS = 10.0


def settle_and_place(database: Database, deps: OrcidDeps, work_id: int) -> Result:
    """Settle the work's placements for its DOI and place the ones it woke (see module doc)."""
    started = time.monotonic()
    with database.session() as session:
        result, here = settle_doi(session, deps.settings, work_id, inline=INLINE)
    for index, placement_id in enumerate(here):
        if time.monotonic() - started > BUDGET_SECONDS:
            _send_each(here[index:], "out of time in orcid.doi_settled")
            break
        try:
            with database.session() as session:
                done = place(session, deps, placement_id, skip_locked=True)
        except Postpone as wait:  # the record is being written by another worker
            _send_each([placement_id], wait.reason, wait.delay)
            continue
        except Exception as exc:
            # Its own message retries it (and those after it) under the broker's policy.
            log.warning("orcid_place_inline_failed", placement=placement_id, error=str(exc))
            _send_each(here[index:], "failed in orcid.doi_settled")
            break
        if done.busy or done.delay is not None:
            _send_each([placement_id], done.note, done.delay)
    return result


def _send_each(placement_ids: list[int], why: str, delay: float | None = None) -> None:
    """One ``orcid.place`` message per placement (their state is committed), sent together
    (one round trip with Redis, as after a commit: :func:`worker.broker.send_committed`)."""
    correlation = current_correlation_id()
    options = {"correlation_id": correlation} if correlation else None
    # As after any commit: one not sent is found pending by the ORCID sweep, and re-sent.
    send_committed([Outgoing("orcid.place", (pid,), delay, options) for pid in placement_ids])
    log.info("orcid_place_sent", placements=placement_ids, reason=why, delay_s=delay)
