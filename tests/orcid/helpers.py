"""Builders for the ORCID tests: works and grants arrive as events, placements run through the
service (what the actors call), and the sandbox is asked what the record really holds."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from sqlalchemy import select

from tests.helpers import SOURCE, process_event, work
from worker.models import (
    OrcidGrant,
    OrcidPlacement,
    OutboundNotification,
    PlacementState,
    ReceivedEvent,
    Work,
)
from worker.orcid import placements
from worker.orcid.grants import seal_token_response
from worker.orcid.result import Result

_ids = itertools.count(1)

#: The event context the ORCID tests process events with (set per test by conftest): the
#: sandbox's ORCID proves researcher.authorized tokens as the worker's does.
CONTEXT: list[Any] = []


def receive(session, event_type: str, data: dict, *, client_id: str = "cris") -> ReceivedEvent:
    number = next(_ids)
    row = ReceivedEvent(
        source=SOURCE,
        event_id=f"ev-{number}",
        type=event_type,
        client_id=client_id,
        correlation_id=f"corr-{number}",
        data=data,
    )
    session.add(row)
    session.flush()
    process_event(session, row.id, CONTEXT[-1] if CONTEXT else None)
    return row


def publish(session, work_id: str, *orcids: str, event_type="work.published", **fields) -> Work:
    """A work with one contributor per ORCID iD, published through the event processor."""
    contributors = [
        {"given": "Ada", "family": f"Lovelace {i}", "orcid": orcid}
        for i, orcid in enumerate(orcids)
    ]
    data = work(work_id, contributors=contributors or [{"family": "Nobody"}], **fields)
    event = receive(session, event_type, data)
    assert event.status.value in ("done", "stale"), event.outcome
    return session.execute(select(Work).where(Work.external_id == work_id)).scalar_one()


def authorize(
    session, sandbox, cipher, orcid: str, client_id: str, scope: str = ""
) -> tuple[OrcidGrant, dict[str, Any]]:
    """The researcher consents (at the sandbox); the grant arrives as researcher.authorized."""
    token = sandbox.issue_token(orcid, client_id, scope)
    sealed = seal_token_response(cipher, token, client_id)
    event = receive(session, "researcher.authorized", sealed)
    assert event.status.value == "done", event.outcome
    grant = (
        session.execute(
            select(OrcidGrant)
            .where(OrcidGrant.client_id == client_id)
            .order_by(OrcidGrant.id.desc())
        )
        .scalars()
        .first()
    )
    return grant, token


def placement(session, work_row: Work, orcid: str) -> OrcidPlacement:
    session.expire_all()
    return session.execute(
        select(OrcidPlacement).where(
            OrcidPlacement.work_id == work_row.id, OrcidPlacement.orcid == orcid
        )
    ).scalar_one()


def place_pending(session, deps) -> list[Result]:
    """Run every pending placement once, as the orcid.place actor would."""
    ids = session.execute(
        select(OrcidPlacement.id)
        .where(OrcidPlacement.state == PlacementState.PENDING)
        .order_by(OrcidPlacement.id)
    ).scalars()
    return [placements.place(session, deps, pid) for pid in list(ids)]


def record_works(sandbox, orcid: str) -> list[dict[str, Any]]:
    return sandbox.state()["orcid"]["records"][orcid]["works"]


def notifications(session, event_type: str | None = None) -> list[OutboundNotification]:
    query = select(OutboundNotification).order_by(OutboundNotification.id)
    if event_type:
        query = query.where(OutboundNotification.event_type == event_type)
    return list(session.execute(query).scalars())


def researcher(sandbox, **fields) -> str:
    return sandbox.add_researcher(given_names="Ada", family_name="Lovelace", **fields)


@contextmanager
def throttled(sandbox, orcid: str, client_id: str) -> Iterator[None]:
    """ORCID's nginx refusing the client's every request (503, its rate-limit answer): the
    sandbox's bucket cut to a burst of one, and that one spent."""
    usual = sandbox.state()["limits"]["orcid"]
    sandbox.set_limits(orcid={"rate": 0.001, "burst": 1})
    try:
        token = sandbox.issue_token(orcid, client_id)["access_token"]
        spent = requests.get(
            f"{sandbox.info()['orcid_api_url']}/v3.0/{orcid}/works",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=5,
        )
        assert spent.status_code == 200
        yield
    finally:
        sandbox.set_limits(orcid=usual)


def publish_registered(session, data: dict[str, Any], orcid: str) -> Work:
    """A work that asks for a DOI (``data``), naming ``orcid`` as its one contributor,
    published through the event processor: the stored work, its registration reserved."""
    from tests.registrars.flow import registration

    data["contributors"] = [{"given": "Ada", "family": "Lovelace", "orcid": orcid}]
    event = receive(session, "work.published", data)
    assert event.status.value == "done", event.outcome
    work_id = registration(session, data["id"]).work_id
    found = session.get(Work, work_id)
    assert found is not None
    return found
