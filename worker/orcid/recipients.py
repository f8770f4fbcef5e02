"""Telling the emitting systems what happened on ORCID (signed webhooks via worker.notify).

A work's news goes to the intake client that sent its latest event; a researcher's news
(``grant.revoked``, ``orcid.record_changed``) to every intake client with works on that record
or that sent the researcher's authorisation. With a single intake client configured, that one
is the fallback when no event names a client (a grant made through ``/orcid/connect``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from worker.config import Settings
from worker.logging import get_logger
from worker.models import Work
from worker.notify.service import notify
from worker.orcid import repository

log = get_logger(__name__)


def _fallback(settings: Settings) -> list[str]:
    if len(settings.intake_clients) == 1:
        return list(settings.intake_clients)
    return []


_CACHE = "pidsync_orcid_work_clients"


def prefetch_work_clients(session: Session, work_ids: list[int]) -> None:
    """Look up the clients of many works in one query (a bulk backfill tells each)."""
    cache: dict[int, str | None] = session.info.setdefault(_CACHE, {})
    wanted = [w for w in work_ids if w not in cache]
    if wanted:
        cache.update(repository.work_clients(session, wanted))


def work_client(session: Session, work_id: int, settings: Settings) -> str | None:
    cache: dict[int, str | None] = session.info.setdefault(_CACHE, {})
    if work_id not in cache:
        cache.update(repository.work_clients(session, [work_id]))
    found = cache[work_id]
    if found:
        return found
    fallback = _fallback(settings)
    return fallback[0] if fallback else None


def researcher_clients(session: Session, orcid: str, settings: Settings) -> list[str]:
    return repository.researcher_clients(session, orcid) or _fallback(settings)


def tell_work(
    session: Session,
    settings: Settings,
    work: Work,
    event_type: str,
    payload: dict[str, Any],
) -> None:
    # The work in hand names its client: no query for it (issue 13: one per placement).
    client = work.client_id or work_client(session, work.id, settings)
    body = {"source": work.source, "id": work.external_id, **payload}
    if client is None:
        log.warning("orcid_notify_no_client", event_type=event_type, work_id=work.id)
        return
    notify(
        session,
        client_id=client,
        event_type=event_type,
        payload=body,
        work_id=work.id,
        settings=settings,
    )


def tell_works(
    session: Session,
    settings: Settings,
    event_type: str,
    common: dict[str, Any],
    items: list[tuple[Work, dict[str, Any]]],
) -> int:
    """One notification per intake client for many works (``common`` plus ``works``: each
    item's work named by source and id); the number of notifications recorded."""
    by_client: dict[str, list[dict[str, Any]]] = {}
    for work, item in items:
        client = work_client(session, work.id, settings)
        if client is None:
            log.warning("orcid_notify_no_client", event_type=event_type, work_id=work.id)
            continue
        by_client.setdefault(client, []).append(
            {"source": work.source, "id": work.external_id, **item}
        )
    for client, works in by_client.items():
        notify(session, client_id=client, event_type=event_type, payload={**common, "works": works})
    return len(by_client)


def tell_researcher(
    session: Session,
    settings: Settings,
    orcid: str,
    event_type: str,
    payload: dict[str, Any],
) -> int:
    clients = researcher_clients(session, orcid, settings)
    for client in clients:
        notify(
            session,
            client_id=client,
            event_type=event_type,
            payload={"orcid": orcid, **payload},
            settings=settings,
        )
    if not clients:
        log.warning("orcid_notify_no_client", event_type=event_type, orcid=orcid)
    return len(clients)
