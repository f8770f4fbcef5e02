"""Works as pidsync stores them: one row per (source, external id), newest version wins."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from worker.db import note_new_work
from worker.errors import TransientError
from worker.events import repository as inbox
from worker.events.types import WORK_WITHDRAWN
from worker.models import Work
from worker.works import family


@dataclass
class Applied:
    work: Work | None
    stale: bool = False
    changed: bool = False
    message: str = ""


def metadata_hash(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def get_work(session: Session, source: str, external_id: str, *, lock: bool = False) -> Work | None:
    query = select(Work).where(Work.source == source, Work.external_id == external_id)
    if lock:
        # FOR NO KEY UPDATE: it serialises the work's events as FOR UPDATE would, but lets a
        # worker holding one of the work's placements insert a row naming the work (a webhook's
        # foreign key takes a key-share lock). With FOR UPDATE an event waiting for that
        # placement and the worker waiting for the work deadlocked (found with the race tests
        # of tests/orcid/test_hook_and_worker_race.py).
        query = query.with_for_update(key_share=True)
    return session.execute(query).scalar_one_or_none()


def _is_stale(stored: int | None, incoming: int | None) -> bool:
    return incoming is not None and stored is not None and incoming <= stored


def apply_work(
    session: Session,
    source: str,
    data: dict[str, Any],
    *,
    client_id: str | None = None,
    exact_families: bool = True,
) -> Applied:
    """Create or update the Work from an event's data (already validated and normalised);
    ``client_id`` is the intake client that sent it. ``exact_families``: serialise the
    client's family assignments (see :func:`worker.works.family.assign`)."""
    external_id = str(data["id"])
    version = data.get("version")
    digest = metadata_hash(data)
    # Create if absent, else lock the row: events of one work are applied one at a time. A row
    # this INSERT created is ours alone until the commit: it comes back as the Work itself
    # (RETURNING), without a second statement to load and lock it (issue 13).
    work = session.execute(
        insert(Work)
        .values(
            source=source,
            external_id=external_id,
            type=data["type"],
            title=data["title"],
            doi=data.get("doi"),
            work_metadata=data,
            metadata_hash=digest,
            version=version,
            client_id=client_id,
        )
        .on_conflict_do_nothing(constraint="uq_works_source_external_id")
        .returning(Work)
    ).scalar_one_or_none()
    created = work is not None
    if work is not None:
        note_new_work(session, work.id)
    else:
        work = get_work(session, source, external_id, lock=True)
        assert work is not None  # noqa: S101 - narrows a type: the conflicting row exists
    if created:
        withdrawn = _withdrawn_before(session, work, version)
        if withdrawn is not None:
            return withdrawn
        family.assign(session, work, exact=exact_families)
        return Applied(work, changed=True, message="stored")
    refused = _foreign(work, client_id)
    if refused is not None:
        return refused
    if work.metadata_hash == digest:
        return Applied(work, changed=False, message="metadata unchanged")
    if _is_stale(work.version, version):
        return Applied(
            work,
            stale=True,
            message=f"version {version} is not newer than the stored version {work.version}",
        )
    if work.doi and data.get("doi") and data["doi"] != work.doi:
        return Applied(
            None,
            message=f"doi {data['doi']} differs from this work's DOI {work.doi}; a work's DOI "
            "never changes",
        )
    work.type = data["type"]
    work.title = data["title"]
    work.client_id = work.client_id or client_id
    work.doi = work.doi or data.get("doi")
    work.work_metadata = data
    work.metadata_hash = digest
    if version is not None:
        work.version = version
    # A higher version after a withdrawal brings the work back (DESIGN.md §7).
    if work.withdrawn_at is not None and version is not None:
        work.withdrawn_at = None
    family.assign(session, work, exact=exact_families)
    session.flush()
    return Applied(work, changed=True, message="stored")


def _withdrawn_before(session: Session, work: Work, version: int | None) -> Applied | None:
    """A work's first publication, when its owner's withdrawal of this or a newer version came
    first and could not apply (no work yet: it waited on the events' backoff, then failed):
    the work is stored withdrawn, as the newest version asks, and nothing is registered or
    placed; the waiting withdrawal is done. None when there is no such withdrawal (versions
    order the two; without a version the order of arrival is all there is)."""
    if version is None:
        return None
    withdrawals = inbox.withdrawals_before(
        session, WORK_WITHDRAWN, source=work.source, item_id=work.external_id,
        client_id=work.client_id, version=version,
    )  # fmt: skip
    if not withdrawals:
        return None
    newest = withdrawals[0][1]
    work.withdrawn_at = datetime.now(UTC)
    work.version = newest
    inbox.close_withdrawals(
        session,
        [event_id for event_id, _v in withdrawals],
        f"withdrawn when the work's version {version} arrived after this withdrawal",
        work_id=work.id,
    )
    session.flush()
    return Applied(
        work,
        stale=True,
        message=f"version {version} arrived after the withdrawal of version {newest}: the work "
        "is stored withdrawn, nothing registered or placed",
    )


def _foreign(work: Work, client_id: str | None) -> Applied | None:
    """The refusal of an event from a client that does not own the work. The intake already
    refuses sources a client does not own; this second guard holds when sources overlap or the
    configuration changed, and the work is never touched."""
    if work.client_id is None or client_id is None or work.client_id == client_id:
        return None
    return Applied(
        None,
        message=f"work {work.external_id!r} from {work.source!r} belongs to another client; "
        "refused, nothing applied",
    )


def withdraw_work(
    session: Session, source: str, data: dict[str, Any], *, client_id: str | None = None
) -> Applied:
    """Withdraw the work; ``client_id`` (the sending intake client) must own it."""
    work = get_work(session, source, str(data["id"]), lock=True)
    if work is None:
        # A withdrawal can overtake the work's publication (events are processed in parallel,
        # and at least once): wait for it on the events' backoff, so the older publication
        # cannot bring the work back. After the tries, the event fails with this reason.
        raise TransientError(f"unknown work {data['id']!r} from {source!r} (yet)")
    refused = _foreign(work, client_id)
    if refused is not None:
        return refused
    version = data.get("version")
    if work.withdrawn_at is not None:  # (also: by its publication, which came after it)
        return Applied(work, changed=False, message="already withdrawn")
    if _is_stale(work.version, version):
        return Applied(
            work,
            stale=True,
            message=f"version {version} is not newer than the stored version {work.version}",
        )
    work.withdrawn_at = datetime.now(UTC)
    work.tombstone_url = data.get("tombstone_url")
    if version is not None:
        work.version = version
    session.flush()
    return Applied(work, changed=True, message="withdrawn")
