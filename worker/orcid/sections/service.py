"""The hooks of the other sections, inside an event's unit of work: store the assertion (the
newest version wins, as for works), decide which researchers' records it goes on, and queue
one item per (assertion, researcher, ORCID client) after commit. No HTTP.

Items that wait for a grant (``awaiting_consent``) are taken on when one arrives
(:func:`on_grant_stored`, called with the works' backfill); a revoked grant parks its pending
items (:func:`park`). A researcher who deleted an item, or an item another client placed, is
left alone (as for works).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.db import enqueue_after_commit
from worker.errors import TransientError
from worker.events import repository as inbox
from worker.models import OrcidAssertion, OrcidGrant, OrcidItem, OrcidItemKind, PlacementState
from worker.orcid import repository as grants
from worker.orcid.grants import can_write
from worker.orcid.sections import repository
from worker.orcid.sections.kinds import KINDS, digest

#: States an assertion's change leaves alone: the researcher's choice, another source's item.
KEPT = (PlacementState.REMOVED_BY_RESEARCHER, PlacementState.NOT_OURS)
NO_CONSENT = "the researcher has not authorised this ORCID client to write to their record"


@dataclass
class Applied:
    """What an event did: ``stale`` (skipped), ``failed`` (refused, with the reason)."""

    message: str
    assertion_id: int | None = None
    stale: bool = False
    failed: bool = False


def queue_item(session: Session, row: OrcidItem) -> None:
    """Send the item's message after commit, as a fresh series of tries."""
    row.state = PlacementState.PENDING
    row.last_error = None
    row.enqueued_at = utcnow()
    row.attempts = 0
    row.next_attempt_at = None
    enqueue_after_commit(session, "orcid.place_item", row.id)


def _version_refusal(row: OrcidAssertion, version: Any, *, withdrawing: bool) -> str | None:
    """Why this event is stale (None: it applies). An older version never overwrites a newer
    one; a withdrawal is final unless a higher version follows."""
    if version is None or row.version is None:
        if row.withdrawn_at is not None and not withdrawing:
            return "withdrawn: send a higher version to publish it again"
        return None
    if version < row.version or (version == row.version and not withdrawing):
        return f"version {version} is not newer than the stored version {row.version}"
    return None


def apply_item(
    session: Session, kind: OrcidItemKind, source: str, data: dict[str, Any], client_id: str
) -> Applied:
    """An ``<kind>.published|updated`` event: store the item, queue its placements."""
    row = repository.claim_assertion(session, kind, source, str(data["id"]), client_id)
    if row.client_id != client_id:
        return Applied(f"{kind.value} {data['id']!r} belongs to another client", failed=True)
    new = row.data_hash == ""
    stale = None if new else _version_refusal(row, data.get("version"), withdrawing=False)
    if stale:
        return Applied(f"stale: {stale}", row.id, stale=True)
    data_hash = digest(data)
    if new:
        withdrawn = _withdrawn_before(session, row, data, data_hash)
        if withdrawn is not None:
            return withdrawn
    if not new and row.data_hash == data_hash and row.withdrawn_at is None:
        return Applied(f"{kind.value} unchanged", row.id)
    row.data = data
    row.data_hash = data_hash
    row.version = data.get("version", row.version)
    row.withdrawn_at = None
    session.flush()
    note = _place_all(session, row)
    verb = "stored" if new else "updated"
    return Applied(f"{kind.value} {verb}; {note}", row.id)


def _withdrawn_before(
    session: Session, row: OrcidAssertion, data: dict[str, Any], data_hash: str
) -> Applied | None:
    """An item's first publication, when its owner's withdrawal of this or a newer version came
    first and could not apply (no item yet: it waited on the events' backoff, then failed): the
    item is stored withdrawn at that version and goes on no record; the waiting withdrawal is
    done. As for works (:func:`worker.works.service.apply_work`)."""
    version = data.get("version")
    if version is None:
        return None
    withdrawals = inbox.withdrawals_before(
        session, f"{row.kind.value}.withdrawn", source=row.source, item_id=row.external_id,
        client_id=row.client_id, version=version,
    )  # fmt: skip
    if not withdrawals:
        return None
    newest = withdrawals[0][1]
    row.data = data
    row.data_hash = data_hash
    row.version = newest
    row.withdrawn_at = utcnow()
    inbox.close_withdrawals(
        session,
        [event_id for event_id, _v in withdrawals],
        f"withdrawn when the {row.kind.value}'s version {version} arrived after this withdrawal",
    )
    session.flush()
    return Applied(
        f"stale: version {version} arrived after the withdrawal of version {newest}: the "
        f"{row.kind.value} is stored withdrawn, placed on no record",
        row.id,
        stale=True,
    )


def withdraw_item(
    session: Session, kind: OrcidItemKind, source: str, data: dict[str, Any], client_id: str
) -> Applied:
    """An ``<kind>.withdrawn`` event: remove the item from every record it is on."""
    row = repository.find_assertion(session, kind, source, str(data["id"]))
    if row is None:
        # A withdrawal can overtake the item's publication (events are processed in parallel,
        # and at least once): wait for it on the events' backoff, so the older publication
        # cannot bring the item back. After the tries, the event fails with this reason.
        raise TransientError(f"no {kind.value} {data['id']!r} from {source} to withdraw (yet)")
    row = repository.claim_assertion(session, kind, source, str(data["id"]), client_id)
    if row.client_id != client_id:
        return Applied(f"{kind.value} {data['id']!r} belongs to another client", failed=True)
    stale = _version_refusal(row, data.get("version"), withdrawing=True)
    if stale:
        return Applied(f"stale: {stale}", row.id, stale=True)
    if row.withdrawn_at is not None:
        return Applied(f"{kind.value} already withdrawn", row.id)
    row.withdrawn_at = utcnow()
    row.version = data.get("version", row.version)
    removing = sum(
        _to_remove(session, item) for item in repository.items_of(session, row.id, lock=True)
    )
    session.flush()
    return Applied(f"{kind.value} withdrawn; {removing} ORCID item(s) to remove", row.id)


def _place_all(session: Session, row: OrcidAssertion) -> str:
    kind = KINDS[row.kind]
    item = kind.read(row.data)
    wanted = kind.orcids(item)
    section = kind.section(item)
    grants.lock_researchers(session, wanted)  # the grant path reads these rows under it too
    existing: dict[str, list[OrcidItem]] = {}
    for entry in repository.items_of(session, row.id, lock=True):
        existing.setdefault(entry.orcid, []).append(entry)
    queued = awaiting = removing = 0
    for orcid in wanted:
        rows = existing.get(orcid)
        if not rows:
            grant = grants.write_grant_for(session, orcid, row.client_id)
            entry = OrcidItem(
                assertion_id=row.id,
                orcid=orcid,
                owner=row.client_id,
                client_id=grant.client_id if grant else None,
                section=section,
                state=PlacementState.AWAITING_CONSENT,
                last_error=None if grant else NO_CONSENT,
                attempts=0,
                in_doubt=False,
            )
            session.add(entry)
            session.flush()
            rows = [entry]
            if grant is None:
                awaiting += 1
                continue
        for entry in rows:
            if entry.state in KEPT:
                continue
            if entry.state == PlacementState.AWAITING_CONSENT and not _claim(session, entry):
                awaiting += 1
                continue
            queue_item(session, entry)
            queued += 1
    for orcid, rows in existing.items():
        if orcid not in wanted:  # no longer a contributor: take it off that record
            removing += sum(_to_remove(session, entry) for entry in rows)
    session.flush()
    parts = [f"{queued} queued"]
    if awaiting:
        parts.append(f"{awaiting} awaiting consent")
    if removing:
        parts.append(f"{removing} to remove")
    return "ORCID items: " + ", ".join(parts)


def _claim(session: Session, entry: OrcidItem) -> bool:
    """Give an item awaiting consent the researcher's usable grant, if there is one."""
    if entry.client_id is not None:
        grant = grants.active_grant(session, entry.orcid, entry.client_id)
        if grant is not None and can_write(grant):
            return True
        if entry.put_code is not None or entry.in_doubt:
            return False  # on the record through that client: only its grant may write it
    grant = grants.write_grant_for(session, entry.orcid, entry.owner)
    if grant is None:
        return False
    entry.client_id = grant.client_id
    return True


def _to_remove(session: Session, entry: OrcidItem) -> int:
    if entry.state in (*KEPT, PlacementState.DELETED):
        return 0
    # A pending item may have been POSTed by a try whose transaction died (its in-doubt marker
    # with it): the removal reads the section for it rather than trusting "never sent".
    never_sent = entry.state != PlacementState.PENDING
    if entry.put_code is None and not entry.in_doubt and never_sent:
        entry.state = PlacementState.DELETED
        entry.last_error = None
        return 0
    queue_item(session, entry)
    return 1


def on_grant_stored(session: Session, grant: OrcidGrant) -> str | None:
    """A researcher authorised a client: their items waiting for consent (of the grant's
    owner, or every owner's for the researcher's own consent) are queued."""
    if not can_write(grant):
        return None
    orcid = grant.researcher.orcid
    grants.lock_researchers(session, [orcid])
    queued = 0
    for entry in repository.awaiting_items(session, orcid):
        if grant.owner is not None and entry.owner != grant.owner:
            continue  # another client's item: its own grant serves it
        if entry.client_id not in (None, grant.client_id) and (
            entry.put_code is not None or entry.in_doubt
        ):
            continue
        entry.client_id = grant.client_id
        queue_item(session, entry)
        queued += 1
    session.flush()
    if not queued:
        return None
    return f"{queued} affiliation/funding/review item(s) queued for ORCID"


def heal(session: Session, item_id: int) -> bool:
    """The healing sweep's step for one item left awaiting consent although its researcher
    has a usable grant: queue it when that grant may take it. True when it moved."""
    orcid = repository.item_orcid(session, item_id)
    if orcid is None:
        return False
    grants.lock_researchers(session, [orcid])  # first, as both event paths take it first
    entry = repository.item_for_update(session, item_id, skip_locked=True)
    if (
        entry is None
        or entry.state != PlacementState.AWAITING_CONSENT
        or not _claim(session, entry)
    ):
        return False
    queue_item(session, entry)
    session.flush()
    return True


def park(session: Session, grant: OrcidGrant, reason: str) -> int:
    """The grant was revoked: its pending items wait until the researcher authorises again."""
    count = 0
    for entry in repository.pending_items(session, grant.researcher.orcid, grant.client_id):
        entry.state = PlacementState.AWAITING_CONSENT
        entry.last_error = f"waiting for the researcher to authorise again: {reason}"
        entry.next_attempt_at = None
        # A try may have POSTed it and died before its commit: its withdrawal or the next
        # grant reads the section first.
        entry.in_doubt = entry.in_doubt or entry.put_code is None
        count += 1
    return count
