"""Make one item (an affiliation, funding or peer review on one record) true at ORCID: add,
update, leave alone, or remove. Called by the ``orcid.place_item`` actor.

Exactly once, as for works (DESIGN.md §4): a POST whose answer was lost leaves the item
``in_doubt``, and the next try reads the section first and adopts our own item (same source
client, same ``source-work-id``). A 409/9021 (fundings and peer reviews: a ``self`` id ORCID
already holds from this client) adopts the put-code ORCID names, or the one found by reading,
then PUTs. The marker is only as durable as the try's transaction: when the worker dies after
ORCID created the item, nothing local says a POST went out. Fundings and peer reviews are then
caught by that 409; ORCID refuses no duplicate affiliation, so an affiliation's first POST
always reads its section first (one GET per new affiliation), and a pending item's removal
reads too. 404 on PUT: the researcher deleted it, ``removed_by_researcher``, never re-added
unless asked. 403/9010: ``not_ours``. Other 4xx: ``failed`` with ORCID's message. Transient
failures follow the one retry model. A revoked token revokes the grant (its items are parked).
Writes to one record hold its lock; a peer review first makes sure its journal's group id is
in ORCID's registry (:mod:`.groups`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.errors import TransientError, error_text
from worker.logging import get_logger
from worker.metadata.errors import MetadataError
from worker.models import OrcidAssertion, OrcidGrant, OrcidItem, OrcidItemKind, PlacementState
from worker.notify import types as webhook
from worker.notify.service import notify
from worker.orcid import repository as grants
from worker.orcid.attempts import give_back_throttled, log_retry, next_try
from worker.orcid.client import MemberClient, OrcidError, RevokedToken
from worker.orcid.grants import access_token, can_write
from worker.orcid.result import Result
from worker.orcid.revocation import handle_revoked, revoked_reason
from worker.orcid.sections import client as api
from worker.orcid.sections import groups, repository
from worker.orcid.sections.kinds import KINDS, Kind, digest, home_organization, source_key

if TYPE_CHECKING:
    from worker.config import Settings
    from worker.orcid.deps import OrcidDeps

log = get_logger(__name__)
NO_GRANT = "no active grant with /activities/update for this ORCID client"
IN_DOUBT_NO_GRANT = (
    "may be on the record: an earlier try's outcome was lost and no grant lets pidsync read the "
    "section; it is found (adopted, or removed if withdrawn) when the researcher authorises again"
)


def tell(session: Session, row: OrcidItem, event_type: str, extra: dict[str, Any]) -> None:
    """A webhook to the owning client about one item; it names the ORCID ``section``."""
    assertion = row.assertion
    notify(
        session,
        client_id=assertion.client_id,
        event_type=event_type,
        payload={
            "source": assertion.source,
            "id": assertion.external_id,
            "kind": assertion.kind.value,
            "section": row.section,
            "orcid": row.orcid,
            "client_id": row.client_id,
            "put_code": row.put_code,
            **extra,
        },
    )


def place(session: Session, deps: OrcidDeps, item_id: int) -> Result:
    result = _place(session, deps, item_id)
    session.flush()
    return result


def _usable_grant(session: Session, row: OrcidItem) -> OrcidGrant | None:
    grant = grants.active_grant(session, row.orcid, row.client_id) if row.client_id else None
    return grant if grant is not None and can_write(grant) else None


def _place(session: Session, deps: OrcidDeps, item_id: int) -> Result:
    row = repository.item_for_update(session, item_id)
    if row is None or row.state != PlacementState.PENDING:
        return Result("nothing to do")
    assertion = row.assertion
    kind = KINDS[assertion.kind]
    item = kind.read(assertion.data)
    present = assertion.withdrawn_at is None and row.orcid in kind.orcids(item)
    grant = _usable_grant(session, row)
    if grant is None:
        # Let a grant being stored right now finish first (its path then sees this item).
        grants.await_researcher(session, row.orcid)
        session.expire_all()
        grant = _usable_grant(session, row)
    if grant is None:
        # Pending without a put-code, the item may be on the record: a try may have POSTed it
        # and died before its commit. With no grant to look, that doubt is kept, visibly, and
        # the next grant reads the section before anything else; never marked removed unseen.
        row.in_doubt = row.in_doubt or (row.put_code is None and row.client_id is not None)
        row.state = PlacementState.AWAITING_CONSENT
        row.last_error = IN_DOUBT_NO_GRANT if row.in_doubt else NO_GRANT
        return Result("awaiting consent" + (" (in doubt)" if row.in_doubt else ""))
    body: dict[str, Any] = {}
    section = row.section
    if present:
        section = kind.section(item)
        try:
            org = home_organization(deps.settings, assertion.client_id)
            body = kind.render(item, assertion.source, org)
        except MetadataError as exc:
            return _failed(session, deps.settings, row, f"cannot render the ORCID item: {exc}")
        unchanged = row.put_code is not None and row.confirmed_hash == digest(body)
        if unchanged and section == row.section and not row.in_doubt:
            row.state = PlacementState.PLACED
            row.last_error = None
            return Result("unchanged: nothing sent")
    row.attempts += 1
    row.enqueued_at = utcnow()
    row.next_attempt_at = None
    member = deps.member(grant.client_id)
    try:
        if present and assertion.kind == OrcidItemKind.REVIEW:
            groups.ensure(session, deps, grant.client_id, item)
        token = access_token(deps.cipher, grant)
        with deps.locks.hold(row.orcid):
            if present:
                return _write(session, deps, member, token, row, kind, section, body)
            return _remove(member, token, row)
    except RevokedToken as exc:
        return handle_revoked(session, deps.settings, grant, revoked_reason(exc))
    except OrcidError as exc:
        return _failed(session, deps.settings, row, error_text(exc, deps.settings.error_text_chars))
    except TransientError as exc:
        return _transient(session, deps.settings, row, exc)


def _failed(session: Session, settings: Settings, row: OrcidItem, why: str) -> Result:
    row.state = PlacementState.FAILED
    row.last_error = why[: settings.error_text_chars]
    row.in_doubt = False
    row.next_attempt_at = None
    tell(session, row, webhook.ORCID_FAILED, {"error": why})
    log.warning("orcid_item_failed", orcid=row.orcid, item_id=row.id, error=why)
    return Result(f"failed: {why}", failed=True)


def _transient(session: Session, settings: Settings, row: OrcidItem, exc: TransientError) -> Result:
    give_back_throttled(row, exc)
    why = error_text(exc, settings.error_text_chars)
    delay = next_try(settings, row.attempts, exc)
    if delay is None:
        _failed(session, settings, row, f"gave up after {row.attempts} attempts: {why}")
        return Result("failed: retries exhausted", failed=True)
    row.last_error = why
    row.next_attempt_at = utcnow() + timedelta(seconds=delay)
    log_retry("orcid.place_item", row.attempts, delay, why, orcid=row.orcid, item_id=row.id)
    return Result(f"will retry in {delay:g}s: {why}", delay=delay)


def _ours(
    member: MemberClient,
    token: str,
    row: OrcidItem,
    section: str,
    wanted: frozenset[tuple[str, str]],
) -> int | None:
    """Our own item (same source client) in ``section`` sharing a ``self`` id with
    ``wanted``: its put-code."""
    for summary in api.summaries(member, row.orcid, token, section):
        if summary.source_client_id == row.client_id and summary.self_ids & wanted:
            return summary.put_code
    return None


def _own_key(row: OrcidItem) -> frozenset[tuple[str, str]]:
    assertion: OrcidAssertion = row.assertion
    return source_key(assertion.source, assertion.external_id)


def _placed(session: Session, row: OrcidItem, section: str, body: dict[str, Any]) -> Result:
    first = row.state != PlacementState.PLACED or row.placed_at is None
    action = "added" if first or row.confirmed_hash is None else "updated"
    row.section = section
    row.state = PlacementState.PLACED
    row.confirmed_hash = digest(body)
    row.last_error = None
    row.in_doubt = False
    row.attempts = 0
    row.next_attempt_at = None
    row.placed_at = row.placed_at or utcnow()
    tell(session, row, webhook.ORCID_PLACED, {"action": action})
    log.info("orcid_item_placed", orcid=row.orcid, item_id=row.id, put_code=row.put_code)
    return Result(f"{action} (put-code {row.put_code})")


def _write(
    session: Session,
    deps: OrcidDeps,
    member: MemberClient,
    token: str,
    row: OrcidItem,
    kind: Kind,
    section: str,
    body: dict[str, Any],
) -> Result:
    if section != row.section and (row.put_code is not None or row.in_doubt):
        # An affiliation that moved section (employment → service): ORCID has no move, so
        # the old item goes and a new one is added.
        _remove(member, token, row)
        row.state = PlacementState.PENDING
        row.placed_at = None
    row.section = section
    if row.put_code is None and (row.in_doubt or not kind.duplicates_refused):
        # An earlier POST's answer was lost: it may have landed. Look before writing again.
        # The marker dies with its transaction (a worker killed, PostgreSQL restarted after
        # ORCID created the item), so where ORCID would not refuse a second item from us (an
        # affiliation) every first POST looks; fundings and reviews meet a 409 instead.
        row.put_code = _ours(member, token, row, section, _own_key(row))
        row.in_doubt = False
        row.confirmed_hash = None
        if row.put_code is not None:
            log.info("orcid_item_adopted", orcid=row.orcid, item_id=row.id, put_code=row.put_code)
    if row.put_code is None:
        row.in_doubt = True  # committed as such if the answer never comes
        try:
            row.put_code = api.add(member, row.orcid, token, section, body)
        except OrcidError as exc:
            row.in_doubt = False
            if not kind.duplicates_refused or exc.status != 409:
                raise
            adopted = exc.named_put_code() or _ours(
                member, token, row, section, kind.self_ids(body)
            )
            if adopted is None:
                raise
            row.put_code = adopted
            log.info("orcid_item_adopted_409", orcid=row.orcid, item_id=row.id, put_code=adopted)
            return _update(session, deps, member, token, row, section, body)
        row.in_doubt = False
        return _placed(session, row, section, body)
    if row.confirmed_hash == digest(body):
        return _placed(session, row, section, body)
    return _update(session, deps, member, token, row, section, body)


def _update(
    session: Session,
    deps: OrcidDeps,
    member: MemberClient,
    token: str,
    row: OrcidItem,
    section: str,
    body: dict[str, Any],
) -> Result:
    assert row.put_code is not None  # noqa: S101 - narrows a type, holds by construction
    try:
        api.update(member, row.orcid, token, section, row.put_code, body)
    except OrcidError as exc:
        if exc.status == 404:
            return _removed_by_researcher(session, deps.settings, row)
        if exc.status == 403 and exc.error_code in (9010, None):
            row.state = PlacementState.NOT_OURS
            row.last_error = error_text(exc, deps.settings.error_text_chars)
            return Result("not ours")
        raise
    return _placed(session, row, section, body)


def _removed_by_researcher(session: Session, settings: Settings, row: OrcidItem) -> Result:
    row.state = PlacementState.REMOVED_BY_RESEARCHER
    row.last_error = (
        "the researcher removed this item from their record (ORCID: 404 on update); it is not "
        "added again"
    )[: settings.error_text_chars]
    row.in_doubt = False
    tell(session, row, webhook.ORCID_REMOVED_BY_RESEARCHER, {})
    log.info("orcid_item_removed_by_researcher", orcid=row.orcid, item_id=row.id)
    return Result("removed by the researcher")


def _remove(member: MemberClient, token: str, row: OrcidItem) -> Result:
    if row.put_code is None:
        # A lost answer, or a try that died uncommitted after its POST: ours may be there.
        row.put_code = _ours(member, token, row, row.section, _own_key(row))
        row.in_doubt = False
    if row.put_code is not None:
        try:
            api.delete(member, row.orcid, token, row.section, row.put_code)
        except OrcidError as exc:
            if exc.status != 404:  # 404: already gone, which is what we wanted
                raise
    row.state = PlacementState.DELETED
    row.put_code = None
    row.confirmed_hash = None
    row.last_error = None
    row.attempts = 0
    row.next_attempt_at = None
    log.info("orcid_item_deleted", orcid=row.orcid, item_id=row.id)
    return Result("removed from the record")
