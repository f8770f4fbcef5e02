"""Every webhook type pidsync sends to an emitting system, in one place.

Each webhook is a signed CloudEvent (``worker.notify.service.envelope``) whose ``data`` always
names what it is about: a work by ``source`` and ``id`` (the CloudEvent source and the Work's
id in the emitting system), a researcher by ``orcid``. Successes and failures alike reach the
emitting system, so a CRIS never has to poll to learn that something went wrong.
"""

from __future__ import annotations

# --- a work's events -----------------------------------------------------------------------

#: An event about a work could not be applied (refused registration, a field the registrar
#: needs missing, retries spent). data: source, id, event {source, id, type}, reason,
#: fields (JSON paths at fault, may be empty), attempts, correlation_id.
WORK_FAILED = "work.failed"
#: The same for an event that is not about a work (``researcher.*``); no ``id``.
EVENT_FAILED = "event.failed"

# --- DOIs (worker.registrars.common.report: source, id, doi, registrar, account, state) -----

DOI_RESERVED = "doi.reserved"
DOI_REGISTERED = "doi.registered"
DOI_WITHDRAWN = "doi.withdrawn"
#: The agency refused the DOI or its tries are spent; ``message`` and ``errors`` say why.
DOI_FAILED = "doi.failed"
DOI_STALE = "doi.stale"
DOI_ON_HOLD = "doi.on_hold"

# --- ORCID (worker.orcid.recipients: works by source and id, researchers by orcid) ---------

#: A work, affiliation, funding or peer review placed; the last three also name their ``kind``
#: and ORCID ``section`` (employment, ..., funding, peer-review).
ORCID_PLACED = "orcid.placed"
#: The works one bulk backfill request placed, told at once (one row and one delivery per
#: request of up to 100 works and intake client, not one per work). data: orcid, client_id,
#: works [{source, id, put_code, action, notes?}] (each item as ``orcid.placed`` tells it).
ORCID_BACKFILLED = "orcid.backfilled"
#: A placement ORCID refused or whose tries are spent; ``error`` says why.
ORCID_FAILED = "orcid.failed"
ORCID_REMOVED_BY_RESEARCHER = "orcid.removed_by_researcher"
ORCID_SUGGESTIONS = "orcid.suggestions"
ORCID_RECORD_CHANGED = "orcid.record_changed"
#: The researcher's grant is gone (revoked at ORCID or by an operator); ``awaiting_consent``
#: counts the placements parked until the researcher authorises again.
GRANT_REVOKED = "grant.revoked"

ALL = frozenset(
    {
        WORK_FAILED,
        EVENT_FAILED,
        DOI_RESERVED,
        DOI_REGISTERED,
        DOI_WITHDRAWN,
        DOI_FAILED,
        DOI_STALE,
        DOI_ON_HOLD,
        ORCID_PLACED,
        ORCID_BACKFILLED,
        ORCID_FAILED,
        ORCID_REMOVED_BY_RESEARCHER,
        ORCID_SUGGESTIONS,
        ORCID_RECORD_CHANGED,
        GRANT_REVOKED,
    }
)
