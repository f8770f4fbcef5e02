"""Works on researchers' ORCID records: placed once, kept up to date, removed on withdrawal.

Two halves:

- **Hooks** (``on_work_changed``, ``on_work_withdrawn``, ``on_grant_stored``,
  ``on_researcher_revoked``) run inside an event's unit of work. They record what must happen
  (a placement row per (work, ORCID iD, ORCID client), its state) and enqueue the actors that
  do it after commit, and return a one-line note for the event's outcome. No HTTP.
- **The service** (``place``) makes one placement true on the record, called by the
  ``orcid.place`` actor with a session and :class:`~worker.orcid.deps.OrcidDeps`. Bulk
  backfill lives in :mod:`worker.orcid.backfill`, revoked grants in
  :mod:`worker.orcid.revocation`.

Exactly once (DESIGN.md §4): a POST whose answer was lost leaves the placement ``in_doubt``; the
next attempt reads the record first and adopts our own work with the same ``self`` external id.
A 409/9021 adopts the put-code ORCID names (or the one found by reading) and PUTs. A 404/9016
on PUT or DELETE means the researcher deleted it: ``removed_by_researcher``, never re-added
unless an operator asks (:func:`readd`). 403/9010: ``not_ours``. Other 4xx: ``failed`` with
ORCID's developer message, no retry. Writes to one record hold its lock; every call takes a
slot from the shared rate limit. A revoked token marks the grant revoked, not the job failed.

A DOI pidsync registers reaches ORCID only once its agency confirmed it (DESIGN §7): until then
the placement is ``awaiting_doi``; the registrars send ``orcid.doi_settled`` when the DOI's
fate is known (:func:`on_doi_settled`), and the sweep heals any placement left waiting.

No placement is lost to a race between a researcher's grant and a work naming them: both paths
hold the researcher's transaction-scoped advisory lock (:func:`lock_researchers`) before they
read the other's rows, so whichever commits second sees the first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.db import enqueue_after_commit
from worker.errors import TransientError, error_text
from worker.logging import get_logger
from worker.metadata.errors import MetadataError, WorkValidationError
from worker.metadata.render.orcid_json import orcid_truncations
from worker.models import (
    GrantStatus,
    OrcidGrant,
    OrcidPlacement,
    PlacementState,
    Visibility,
    Work,
)
from worker.orcid import family, repository
from worker.orcid import payload as render
from worker.orcid.attempts import give_back_throttled, log_retry, next_try
from worker.orcid.client import MemberClient, OrcidError, RevokedToken, WorkSummary
from worker.orcid.grants import access_token, can_write
from worker.orcid.payload import DoiReadiness
from worker.orcid.recipients import tell_work
from worker.orcid.result import Result
from worker.orcid.revocation import handle_revoked, revoke_locally, revoked_reason
from worker.works.render_notes import record_render_notes, store_render_notes
from worker.works.trigger import Trigger

if TYPE_CHECKING:
    from worker.config import Settings
    from worker.orcid.deps import OrcidDeps

log = get_logger(__name__)

#: States a hook may move back to pending when the work changes (the researcher's choices
#: and "not ours" are kept).
KEPT = (PlacementState.REMOVED_BY_RESEARCHER, PlacementState.NOT_OURS)
NO_GRANT = "no active grant with /activities/update for this ORCID client"
NO_CONSENT = "the researcher has not authorised placing works"
#: A placement that may be on the record (its POST's outcome was lost) while no grant lets
#: pidsync read the record to find out: said as such, never marked removed unseen.
IN_DOUBT_NO_GRANT = (
    "may be on the record: an earlier try's outcome was lost and no grant lets pidsync read the "
    "record; it is found (adopted, or removed if withdrawn) when the researcher authorises again"
)
#: States a confirmed or failed DOI wakes: waiting for it, skipped without it, or placed (with
#: or without it, to be written again as it now should be).
DOI_WOKEN = (PlacementState.AWAITING_DOI, PlacementState.SKIPPED, PlacementState.PLACED)


def lock_researchers(session: Session, orcids: list[str]) -> None:
    """Serialise, per researcher, the grant path and the work path until the transaction ends:
    each then reads the other's committed rows."""
    repository.lock_researchers(session, orcids)


def doi_wait(settings: Settings, row: OrcidPlacement) -> PlacementState | None:
    """The state a placement waits in instead of being written now (None: write it now).

    A work not yet on the record waits for its DOI's confirmation; with a DOI that failed for
    good it is written without the DOI, or skipped when so configured. A work already on the
    record is written now either way: without an unconfirmed or failed DOI, which corrects
    one that carries it."""
    if row.put_code is not None or row.in_doubt:
        return None
    return _doi_wait_of(settings, row.work)


def _doi_wait_of(settings: Settings, work: Work) -> PlacementState | None:
    """:func:`doi_wait` for a placement of ``work`` not on the record (nor in doubt)."""
    readiness = render.doi_readiness(work)
    if readiness == DoiReadiness.WAITING:
        return PlacementState.AWAITING_DOI
    if readiness == DoiReadiness.FAILED and settings.orcid.without_doi == "skip":
        return PlacementState.SKIPPED
    return None


def held_back(settings: Settings, row: OrcidPlacement) -> bool:
    """Let the placement wait for its DOI (or skip it) when it must: True when it then does."""
    state = doi_wait(settings, row)
    if state is None:
        return False
    _wait(row, state)
    return True


def _wait(row: OrcidPlacement, state: PlacementState, work: Work | None = None) -> None:
    """``work``: the placement's work, when the row is new (not flushed: no ``row.work``)."""
    reg = (work or row.work).registration
    doi = reg.doi if reg is not None else "the DOI"
    row.state = state
    row.next_attempt_at = None
    if state == PlacementState.AWAITING_DOI:
        agency = reg.registrar if reg is not None else "its agency"
        row.last_error = f"waiting for {agency} to confirm {doi} before placing the work"
    else:
        row.last_error = (
            f"not placed: {doi} failed ({reg.state.value if reg else 'unknown'}) and "
            "PIDSYNC_ORCID_WITHOUT_DOI=skip"
        )


def _claim(
    session: Session, row: OrcidPlacement, grant: OrcidGrant, taken: set[int] | None = None
) -> bool:
    """Let ``grant``'s client place an awaiting placement. A work already on the record from
    another client stays with that client (a second copy from another source would be a
    duplicate). ``taken``: ids of works this client already has a placement for (when the
    caller looked them up at once)."""
    if row.client_id == grant.client_id:
        return True
    if row.put_code is not None or row.in_doubt:
        return False
    if taken is None:
        taken = repository.works_placed_by(session, row.orcid, grant.client_id, [row.work_id])
    if row.work_id in taken:
        return False
    row.client_id = grant.client_id
    taken.add(row.work_id)
    return True


def queue_placement(session: Session, row: OrcidPlacement) -> None:
    """Send the placement's message after commit, as a fresh series of tries."""
    row.enqueued_at = utcnow()
    row.attempts = 0
    row.next_attempt_at = None
    enqueue_after_commit(session, "orcid.place", row.id)


def _summary(queued: int, awaiting: int, removing: int) -> str | None:
    parts = []
    if queued:
        parts.append(f"{queued} queued")
    if awaiting:
        parts.append(f"{awaiting} awaiting consent")
    if removing:
        parts.append(f"{removing} to remove")
    return "ORCID placements: " + ", ".join(parts) if parts else None


# --- hooks (inside the event's unit of work) ---------------------------------------------------


def on_work_changed(session: Session, work: Work, trigger: Trigger) -> str | None:
    """Queue placing (or updating) the work on every contributor's record that allows it."""
    wanted = render.contributor_orcids(work)
    # The whole version family's researchers at once (one fixed order: no deadlock with a
    # sibling version's event); settle_family below touches their placements.
    family_orcids = (
        repository.family_orcids(session, work.family, work.client_id) if work.family else []
    )
    lock_researchers(session, wanted + family_orcids)
    rows = repository.placements_of_work(session, work.id)
    by_orcid: dict[str, list[OrcidPlacement]] = {}
    for row in rows:
        by_orcid.setdefault(row.orcid, []).append(row)
    # The grants of every researcher that needs one (new, or still awaiting consent), in one
    # query rather than one each (issue 13).
    grants = repository.write_grants_for(
        session,
        [
            orcid
            for orcid in wanted
            if not by_orcid.get(orcid)
            or any(row.state == PlacementState.AWAITING_CONSENT for row in by_orcid[orcid])
        ],
        work.client_id,
    )
    queued = awaiting = removing = 0
    new: list[OrcidPlacement] = []
    for orcid in wanted:
        existing = by_orcid.get(orcid, [])
        if not existing:
            grant = grants.get(orcid)
            row = OrcidPlacement(
                work_id=work.id,
                orcid=orcid,
                owner=work.client_id,
                client_id=grant.client_id if grant else None,
                state=PlacementState.PENDING if grant else PlacementState.AWAITING_CONSENT,
                last_error=None if grant else NO_CONSENT,
            )
            # Inserted in the state it waits in for its DOI (issue 13: inserted pending, then
            # updated to awaiting_doi in the same unit of work, was a second write per row).
            waits = _doi_wait_of(trigger.settings, work) if grant else None
            if waits is not None:
                _wait(row, waits, work)
            session.add(row)
            new.append(row)
            continue
        for row in existing:
            if row.state in KEPT:
                continue
            if row.state == PlacementState.AWAITING_CONSENT:
                grant = grants.get(orcid)
                if grant is None or not _claim(session, row, grant):
                    awaiting += 1
                    continue
            queued += _queue_or_wait(session, trigger.settings, row)
    session.flush()  # the new rows' ids (their messages carry them), in one statement
    for row in new:
        if row.state == PlacementState.PENDING:
            queued += _queue_or_wait(session, trigger.settings, row)
        elif row.state == PlacementState.AWAITING_CONSENT:
            awaiting += 1
    for orcid, existing in by_orcid.items():
        if orcid in wanted:
            continue
        for row in existing:  # no longer a contributor: take the work off that record
            removing += _to_remove(session, row)
    if render.contributors_without_orcid(work) and trigger.settings.orcid_suggest_ids:
        enqueue_after_commit(session, "orcid.suggest", work.id)
    more, gone = settle_family(session, trigger.settings, work)
    session.flush()
    return _summary(queued + more, awaiting, removing + gone)


def settle_family(session: Session, settings: Settings, work: Work) -> tuple[int, int]:
    """Bring the work's version family in line with its owner's ``orcid_versions`` (see
    :mod:`worker.orcid.family`): (placements queued to write, queued to remove)."""
    if work.family is None:
        return 0, 0
    lock_researchers(session, repository.family_orcids(session, work.family, work.client_id))
    settled = family.settle(session, settings, work)
    written = removed = 0
    for row in settled.write:
        if row.client_id is None:
            grant = repository.write_grant_for(session, row.orcid, row.owner)
            if grant is None or not _claim(session, row, grant):
                row.state = PlacementState.AWAITING_CONSENT
                row.last_error = NO_CONSENT
                continue
        if row.state in (PlacementState.AWAITING_CONSENT, PlacementState.FAILED):
            continue  # a grant or an operator moves it, as any placement
        written += _queue_or_wait(session, settings, row)
    for row in settled.remove:
        removed += _to_remove(session, row)
    return written, removed


def _queue_or_wait(session: Session, settings: Settings, row: OrcidPlacement) -> int:
    """Queue the placement, or let it wait for its DOI (visibly, unsent): 1 when queued."""
    if held_back(settings, row):
        return 0
    row.state = PlacementState.PENDING
    row.last_error = None
    queue_placement(session, row)
    return 1


def _to_remove(session: Session, row: OrcidPlacement) -> int:
    if row.state in (*KEPT, PlacementState.DELETED):
        return 0
    # A pending placement may have been POSTed by a try whose transaction died (its in-doubt
    # marker with it): the removal looks at the record rather than trusting "never sent".
    if row.put_code is None and not row.in_doubt and row.state != PlacementState.PENDING:
        row.state = PlacementState.DELETED
        row.last_error = None
        return 0
    row.state = PlacementState.PENDING
    queue_placement(session, row)
    return 1


def on_work_withdrawn(session: Session, work: Work, _trigger: Trigger) -> str | None:
    """Queue removing the work from every record it was placed on."""
    # In a version family the withdrawn version's work passes to the newest remaining one.
    # First: it takes the researchers' locks before their placements' rows, as every path does.
    more, gone = settle_family(session, _trigger.settings, work)
    rows = repository.placements_of_work(session, work.id)
    removing = sum(_to_remove(session, row) for row in rows if row.state != PlacementState.FOLDED)
    session.flush()
    parts = [f"{removing + gone} to remove"] if removing + gone else []
    parts += [f"{more} queued"] if more else []
    return "ORCID placements: " + ", ".join(parts) if parts else None


def on_grant_stored(session: Session, grant: OrcidGrant, trigger: Trigger) -> str | None:
    """A researcher authorised us: place their existing works (bulk backfill), register the
    record's webhook when configured. A read-only grant only resolves placements in doubt."""

    if not can_write(grant):
        return _read_doubts(session, grant)
    orcid = grant.researcher.orcid
    lock_researchers(session, [orcid])  # before reading the work path's rows (see module doc)
    claimed = 0
    # A client's grant serves that client's works only; the researcher's consent serves all.
    awaiting = [
        row
        for row in repository.awaiting_placements(session, orcid)
        if grant.owner is None or row.work.client_id in (None, grant.owner)
    ]
    taken = repository.works_placed_by(session, orcid, grant.client_id)
    claimed_at = utcnow()
    with session.no_autoflush:
        for row in awaiting:
            if _claim(session, row, grant, taken):
                claimed += _claimed(trigger.settings, row, claimed_at)
    # Works that name the researcher but have no placement yet (e.g. stored before this grant
    # arrived by another route).
    for work in repository.unplaced_works_naming(session, orcid):
        if grant.owner is not None and work.client_id not in (None, grant.owner):
            continue  # another client's work: its own grant serves it
        row = OrcidPlacement(
            work=work, orcid=orcid, owner=work.client_id, client_id=grant.client_id
        )
        session.add(row)
        claimed += _claimed(trigger.settings, row, claimed_at)
    session.flush()
    enqueue_after_commit(session, "orcid.backfill", grant.id)
    enqueue_after_commit(session, "orcid.register_webhook", grant.id)
    if not claimed:
        return None
    return f"{claimed} existing work(s) queued for placement on ORCID (bulk backfill)"


def _read_doubts(session: Session, grant: OrcidGrant) -> str | None:
    """A grant that may read the record but not write to it: the placements of its client
    waiting in doubt (a lost answer: is our work there?) are queued, so each reads the record
    with it and adopts what it finds (:func:`_without_write_grant`)."""
    if grant.status != GrantStatus.ACTIVE:
        return None
    orcid = grant.researcher.orcid
    lock_researchers(session, [orcid])
    queued = 0
    for row in repository.awaiting_placements(session, orcid):
        if row.client_id == grant.client_id and row.in_doubt and row.put_code is None:
            row.state = PlacementState.PENDING
            queue_placement(session, row)
            queued += 1
    session.flush()
    return f"{queued} placement(s) in doubt queued to read the record" if queued else None


def _claimed(settings: Settings, row: OrcidPlacement, claimed_at: datetime) -> int:
    """A placement the new grant takes on: pending for the backfill (1), or waiting for its
    work's DOI (0)."""
    if held_back(settings, row):
        return 0
    row.state = PlacementState.PENDING
    row.last_error = None
    row.enqueued_at = claimed_at
    return 1


def on_doi_settled(session: Session, settings: Settings, work_id: int) -> Result:
    """The work's DOI was confirmed, failed for good or withdrawn (``orcid.doi_settled``, sent
    by the registrars): queue the placements waiting for it, and those placed or skipped, so
    each is written as it now should be (with the DOI, or corrected without it); one whose
    content does not change sends nothing."""
    return settle_doi(session, settings, work_id)[0]


def settle_doi(
    session: Session, settings: Settings, work_id: int, *, inline: int = 0
) -> tuple[Result, list[int]]:
    """:func:`on_doi_settled`, leaving up to ``inline`` of the placements it queues (and any
    of the work's placements pending but never tried: the ones an earlier run of this message
    left when its worker died) without a message, for the caller to place itself after the
    commit (:mod:`worker.orcid.settled`): their ids, in order."""
    rows = repository.placements_of_work_for_update(session, work_id)
    if not rows or rows[0].work.withdrawn_at is not None:
        # a withdrawn work's placements are removed
        return Result("no placement to update"), []
    queued = waiting = 0
    here: list[int] = []
    for row in rows:
        if (
            inline
            and row.state == PlacementState.PENDING
            and row.attempts == 0
            and row.next_attempt_at is None
            and len(here) < inline
        ):
            here.append(row.id)
            continue
        if row.state not in DOI_WOKEN:
            continue
        if row.state == PlacementState.PLACED and row.put_code is None:
            continue  # nothing on the record to correct
        state = doi_wait(settings, row)
        if state is not None:
            if row.state != state:
                _wait(row, state)
            waiting += 1
            continue
        row.state = PlacementState.PENDING
        row.last_error = None
        queued += 1
        if len(here) < inline:
            # As queue_placement, but this message places it: no message of its own.
            row.enqueued_at = utcnow()
            row.attempts = 0
            row.next_attempt_at = None
            here.append(row.id)
        else:
            queue_placement(session, row)
    session.flush()
    note = f"DOI settled: {queued} placement(s) queued, {waiting} waiting or skipped"
    return Result(note), here


def resume_waiting(session: Session, settings: Settings, placement_id: int) -> bool:
    """The healing sweep's step for one placement left ``awaiting_consent`` although the
    researcher has a usable grant, or ``awaiting_doi`` although the DOI is settled: queue it
    (or let it wait for its DOI). True when it moved."""
    orcid = repository.placement_orcid(session, placement_id)
    if orcid is None:
        return False
    lock_researchers(session, [orcid])  # first, as both event paths take it first
    row = repository.placement_for_update(session, placement_id, skip_locked=True)
    if row is None:
        return False  # gone, or a worker holds it (it is moving already)
    if row.state == PlacementState.AWAITING_CONSENT:
        grant = repository.write_grant_for(session, row.orcid, row.work.client_id)
        if grant is None or not _claim(session, row, grant):
            return False
    elif row.state != PlacementState.AWAITING_DOI:
        return False
    before = row.state
    _queue_or_wait(session, settings, row)
    session.flush()
    moved = row.state != before
    if moved:
        log.info("orcid_placement_healed", orcid=row.orcid, work_id=row.work_id, was=before.value)
    return moved


def on_researcher_revoked(session: Session, data: dict[str, Any], trigger: Trigger) -> str:
    """The emitting system withdrew the researcher's consent: stop placing, revoke at ORCID.
    Only the sending client's own grants are touched (another client's, and the researcher's
    own consent through /orcid/connect, stay)."""
    orcid = data["orcid"]
    grants = [
        grant
        for grant in repository.grants_of(session, orcid, data.get("client_id"))
        if trigger.client_id is None or grant.owner == trigger.client_id
    ]
    if not grants:
        return f"no ORCID grant of {orcid} held by this client: nothing to revoke"
    revoked = sum(
        revoke_locally(session, grant, "revoked by the emitting system (researcher.revoked)")
        for grant in grants
    )
    session.flush()
    if not revoked:
        return f"the ORCID grant of {orcid} was already revoked"
    return f"{revoked} ORCID grant(s) of {orcid} revoked; revoking the token at ORCID is queued"


# --- the service (actors) ----------------------------------------------------------------------


def find_ours(
    summaries: list[WorkSummary], client_id: str | None, wanted: frozenset[tuple[str, str]]
) -> WorkSummary | None:
    """Our own work (same source client) sharing a ``self`` external id with ``wanted``; none
    without a client (a placement awaiting consent has nothing of ours on the record)."""
    if client_id is None:
        return None
    for summary in summaries:
        if summary.source_client_id == client_id and summary.self_ids & wanted:
            return summary
    return None


def placed(session: Session, settings: Settings, row: OrcidPlacement, digest: str) -> None:
    tell_placed(session, settings, row, mark_placed(row, digest))


def mark_placed(row: OrcidPlacement, digest: str) -> str:
    """Record a confirmed placement; "added" or "updated" for the notification."""
    first = row.state != PlacementState.PLACED or row.placed_at is None
    row.state = PlacementState.PLACED
    row.confirmed_hash = digest
    row.last_error = None
    row.in_doubt = False
    row.attempts = 0
    row.next_attempt_at = None
    row.placed_at = row.placed_at or utcnow()
    log.info("orcid_placed", orcid=row.orcid, work_id=row.work_id, put_code=row.put_code)
    return "added" if first else "updated"


def placed_news(row: OrcidPlacement, action: str) -> dict[str, Any]:
    """What ``orcid.placed`` tells of one placement (an ``orcid.backfilled`` item too)."""
    news: dict[str, Any] = {"put_code": row.put_code, "action": action}
    notes = render.truncations(row.work)
    if notes:  # what ORCID's limits made us cut or leave out, said plainly
        news["notes"] = notes
    return news


def tell_placed(session: Session, settings: Settings, row: OrcidPlacement, action: str) -> None:
    payload = {"orcid": row.orcid, "client_id": row.client_id, **placed_news(row, action)}
    tell_work(session, settings, row.work, "orcid.placed", payload)


def mark_failed(session: Session, settings: Settings, row: OrcidPlacement, why: str) -> None:
    row.state = PlacementState.FAILED
    row.last_error = why[: settings.error_text_chars]
    row.in_doubt = False
    row.next_attempt_at = None
    tell_work(
        session,
        settings,
        row.work,
        "orcid.failed",
        {"orcid": row.orcid, "client_id": row.client_id, "put_code": row.put_code, "error": why},
    )
    log.warning("orcid_placement_failed", orcid=row.orcid, work_id=row.work_id, error=why)


def mark_removed_by_researcher(
    session: Session, settings: Settings, row: OrcidPlacement, how: str
) -> None:
    row.state = PlacementState.REMOVED_BY_RESEARCHER
    row.last_error = f"the researcher removed this work from their record ({how}); it is not "
    row.last_error += "added again unless an operator asks (pidsync orcid re-add)"
    row.in_doubt = False
    tell_work(
        session,
        settings,
        row.work,
        "orcid.removed_by_researcher",
        {"orcid": row.orcid, "client_id": row.client_id, "put_code": row.put_code},
    )
    log.info("orcid_removed_by_researcher", orcid=row.orcid, work_id=row.work_id)


def _not_ours(settings: Settings, row: OrcidPlacement, exc: OrcidError) -> None:
    row.state = PlacementState.NOT_OURS
    row.last_error = error_text(exc, settings.error_text_chars)
    row.in_doubt = False


def place(
    session: Session, deps: OrcidDeps, placement_id: int, *, skip_locked: bool = False
) -> Result:
    """Make one placement true on the record: add, update, leave alone, or remove.

    ``skip_locked``: when another transaction holds the placement's row, return at once with
    ``busy`` set rather than wait for it (the caller leaves it to a message of its own)."""
    result = _place(session, deps, placement_id, skip_locked)
    session.flush()
    return result


def _place(session: Session, deps: OrcidDeps, placement_id: int, skip_locked: bool) -> Result:
    found = repository.placement_and_grant_for_update(
        session, placement_id, skip_locked=skip_locked
    )
    if found is None and skip_locked:
        return Result("held by another worker", busy=True)
    if found is None or found[0].state != PlacementState.PENDING:
        return Result("nothing to do")
    row, active = found
    work = row.work
    role = family.role_of(session, deps.settings, row)
    present = (
        work.withdrawn_at is None
        and row.orcid in render.contributor_orcids(work)
        and role.kind != family.Kind.FOLDED
    )
    gone = PlacementState.FOLDED if role.kind == family.Kind.FOLDED else PlacementState.DELETED
    grant = _writable(active)
    if grant is None:
        # About to wait for consent: first let a grant being stored at this moment finish, so
        # either we see it or its path sees this placement waiting (the healing sweep's net
        # is then not needed).
        repository.await_researcher(session, row.orcid)
        session.expire_all()  # read the grant as committed now, not as first loaded
        grant = _usable_grant(session, row)
    if grant is None:
        return _without_write_grant(session, deps, row, present, gone)
    body: dict[str, Any] = {}
    digest = ""
    if present and held_back(deps.settings, row):
        return Result(f"not sent: {row.last_error}")
    if present:
        try:
            if role.kind == family.Kind.CARRIER:
                body = family.body(row, role)
                digest = render.digest(body)
                record_render_notes(
                    row, "orcid-json", digest, lambda: render.metadata_work(work),
                    extra=orcid_truncations, orcid=row.orcid, work_id=row.work_id,
                )  # fmt: skip
            else:
                # Rendered once for all the work's placements; never changed here.
                once = render.rendered(work)
                body, digest = once.body, once.digest
                store_render_notes(
                    row, "orcid-json", digest, lambda: once.notes,
                    orcid=row.orcid, work_id=row.work_id,
                )  # fmt: skip
        except (MetadataError, WorkValidationError) as exc:
            mark_failed(session, deps.settings, row, f"cannot render the ORCID work: {exc}")
            return Result("failed: cannot render", failed=True)
        if row.put_code is not None and row.confirmed_hash == digest and not row.in_doubt:
            row.state = PlacementState.PLACED
            row.last_error = None
            return Result("unchanged: nothing sent")
    row.attempts += 1
    row.enqueued_at = utcnow()
    row.next_attempt_at = None
    client = deps.member(grant.client_id)
    token = access_token(deps.cipher, grant)
    try:
        with deps.locks.hold(row.orcid):
            if present:
                return _write(session, deps, client, token, row, body, digest)
            return _remove(deps.settings, client, token, row, gone)
    except RevokedToken as exc:
        return handle_revoked(session, deps.settings, grant, revoked_reason(exc))
    except OrcidError as exc:
        mark_failed(session, deps.settings, row, error_text(exc, deps.settings.error_text_chars))
        return Result("failed", failed=True)
    except TransientError as exc:
        return _transient(session, deps.settings, row, exc)


def _without_write_grant(
    session: Session, deps: OrcidDeps, row: OrcidPlacement, present: bool, gone: PlacementState
) -> Result:
    """No grant lets pidsync write to the record. A placement without a put-code may still be
    there: its answer was lost (in doubt), or its try died before the commit (pending: nothing
    local says a POST went out). The doubt is resolved by reading the record with whatever grant
    the researcher gave (a read-only one reads), else kept, visibly, until a grant returns:
    never marked removed unseen (nor left untracked while a grant could look)."""
    if row.put_code is None and row.client_id is not None:  # no client: nothing ever sent
        row.in_doubt = True
        reader = repository.active_grant(session, row.orcid, row.client_id)
        if reader is not None:
            row.attempts += 1  # a read that keeps failing ends as any try does, visibly
            try:
                _read_record(deps, reader, row)
            except RevokedToken as exc:
                return handle_revoked(session, deps.settings, reader, revoked_reason(exc))
            except TransientError as exc:
                return _transient(session, deps.settings, row, exc)
            except (OrcidError, MetadataError, WorkValidationError) as exc:
                log.warning(
                    "orcid_doubt_unread", orcid=row.orcid, work_id=row.work_id, error=str(exc)
                )
    if not present and row.put_code is None and not row.in_doubt:
        row.state = gone
        return Result("nothing on the record to remove")
    row.state = PlacementState.AWAITING_CONSENT
    row.last_error = IN_DOUBT_NO_GRANT if row.in_doubt else NO_GRANT
    return Result("awaiting consent" + (" (in doubt)" if row.in_doubt else ""))


def _read_record(deps: OrcidDeps, grant: OrcidGrant, row: OrcidPlacement) -> None:
    """Resolve a placement's doubt by reading the record: adopt our work if it is there."""
    ids = render.payload_self_ids(render.orcid_work(row.work))
    token = access_token(deps.cipher, grant)
    _settle_doubt(
        row, find_ours(deps.member(grant.client_id).works(row.orcid, token), row.client_id, ids)
    )


def _settle_doubt(row: OrcidPlacement, found: WorkSummary | None) -> None:
    """A placement in doubt, after reading the record: our work adopted (its put-code tracked,
    its content to be written again), or known absent."""
    row.in_doubt = False
    if found is not None:
        row.put_code = found.put_code
        row.visibility = Visibility.read(found.visibility)
        row.confirmed_hash = None
        log.info("orcid_adopted", orcid=row.orcid, work_id=row.work_id, put_code=found.put_code)


def _usable_grant(session: Session, row: OrcidPlacement) -> OrcidGrant | None:
    return _writable(
        repository.active_grant(session, row.orcid, row.client_id) if row.client_id else None
    )


def _writable(grant: OrcidGrant | None) -> OrcidGrant | None:
    return grant if grant is not None and can_write(grant) else None


def retry_later(
    session: Session, settings: Settings, row: OrcidPlacement, exc: TransientError
) -> float | None:
    """Record a transient failure on the placement (its ``attempts`` already count this try):
    the delay before the next try, or None when the tries are spent (then failed, and the
    emitting system told with ``orcid.failed``)."""
    give_back_throttled(row, exc)
    why = error_text(exc, settings.error_text_chars)
    delay = next_try(settings, row.attempts, exc)
    if delay is None:
        mark_failed(session, settings, row, f"gave up after {row.attempts} attempts: {why}")
        return None
    row.last_error = why
    row.next_attempt_at = utcnow() + timedelta(seconds=delay)
    return delay


def _transient(
    session: Session, settings: Settings, row: OrcidPlacement, exc: TransientError
) -> Result:
    delay = retry_later(session, settings, row, exc)
    if delay is None:
        return Result("failed: retries exhausted", failed=True)
    why = error_text(exc, settings.error_text_chars)
    log_retry("orcid.place", row.attempts, delay, why, orcid=row.orcid, work_id=row.work_id)
    return Result(f"will retry in {delay:g}s: {why}", delay=delay)


def _write(
    session: Session,
    deps: OrcidDeps,
    client: MemberClient,
    token: str,
    row: OrcidPlacement,
    body: dict[str, Any],
    digest: str,
) -> Result:
    if row.put_code is None and row.in_doubt:
        # An earlier POST's answer was lost: it may have landed. Look before writing again.
        found = find_ours(
            client.works(row.orcid, token), row.client_id, render.payload_self_ids(body)
        )
        _settle_doubt(row, found)
        if found is None and held_back(deps.settings, row):
            # Not on the record after all: a new work, so it waits for its DOI as any (a doubt
            # kept while consent was gone may outlive the DOI's confirmation).
            return Result(f"not sent: {row.last_error}")
    if row.put_code is None:
        row.in_doubt = True  # committed as such if the answer never comes
        try:
            row.put_code = client.add_work(row.orcid, token, body)
        except OrcidError as exc:
            row.in_doubt = False
            if exc.status != 409 or exc.error_code not in (9021, None):
                raise
            adopted = exc.named_put_code()
            if adopted is None:
                summaries = client.works(row.orcid, token)
                found = find_ours(summaries, row.client_id, render.payload_self_ids(body))
                if found is None:
                    raise
                adopted = found.put_code
            row.put_code = adopted
            log.info("orcid_adopted_409", orcid=row.orcid, work_id=row.work_id, put_code=adopted)
            return _update(session, deps, client, token, row, body, digest)
        row.in_doubt = False
        placed(session, deps.settings, row, digest)
        return Result(f"added (put-code {row.put_code})")
    if row.confirmed_hash == digest:
        placed(session, deps.settings, row, digest)
        return Result("unchanged: nothing sent")
    return _update(session, deps, client, token, row, body, digest)


def _update(
    session: Session,
    deps: OrcidDeps,
    client: MemberClient,
    token: str,
    row: OrcidPlacement,
    body: dict[str, Any],
    digest: str,
) -> Result:
    assert row.put_code is not None  # noqa: S101 - narrows a type, holds by construction
    try:
        client.update_work(row.orcid, token, row.put_code, body)
    except OrcidError as exc:
        if exc.status == 404:
            mark_removed_by_researcher(session, deps.settings, row, "ORCID: 404 on update")
            return Result("removed by the researcher")
        if exc.status == 403 and exc.error_code in (9010, None):
            _not_ours(deps.settings, row, exc)
            return Result("not ours")
        raise
    placed(session, deps.settings, row, digest)
    return Result(f"updated (put-code {row.put_code})")


def _remove(
    settings: Settings,
    client: MemberClient,
    token: str,
    row: OrcidPlacement,
    gone: PlacementState = PlacementState.DELETED,
) -> Result:
    if row.put_code is None:
        # A lost answer (in doubt), or a try whose POST landed and whose transaction died
        # (pending, nothing local says a POST went out): ours may be there (chaos run,
        # RabbitMQ: a withdrawn work left on the record).
        body = render.orcid_work(row.work)
        found = find_ours(
            client.works(row.orcid, token), row.client_id, render.payload_self_ids(body)
        )
        row.in_doubt = False
        row.put_code = found.put_code if found else None
    if row.put_code is not None:
        try:
            client.delete_work(row.orcid, token, row.put_code)
        except OrcidError as exc:
            if exc.status == 403 and exc.error_code in (9010, None):
                _not_ours(settings, row, exc)
                return Result("not ours")
            if exc.status != 404:  # 404: already gone, which is what we wanted
                raise
    row.state = gone
    row.put_code = None
    row.confirmed_hash = None
    row.last_error = None
    row.attempts = 0
    row.next_attempt_at = None
    log.info("orcid_deleted", orcid=row.orcid, work_id=row.work_id)
    return Result("removed from the record")


# --- revocation at ORCID, operator actions ----------------------------------------------------


def readd(session: Session, placement: OrcidPlacement) -> bool:
    """An operator asks to put back a work the researcher removed (or that failed)."""
    if placement.state not in (PlacementState.REMOVED_BY_RESEARCHER, PlacementState.FAILED):
        return False
    placement.state = PlacementState.PENDING
    placement.put_code = None
    placement.confirmed_hash = None
    placement.last_error = None
    placement.in_doubt = False
    queue_placement(session, placement)
    session.flush()
    return True
