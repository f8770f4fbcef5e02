"""Dry runs (CloudEvent extension "dryrun": "true"): processed to the end, every outcome
reported, nothing written anywhere (counted at the sandbox), nothing left to block or alter the
real run, which then does what the report said."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import INTAKE_SECRET
from tests.helpers import SOURCE, event, process_event, signed_get, signed_post
from tests.orcid.conftest import with_registrars
from tests.orcid.helpers import CONTEXT, place_pending, publish
from tests.registrars.flow import datacite_work, registration, sync
from worker.config import Settings
from worker.db import pending_messages
from worker.events.intake import DRYRUN_PREFIX
from worker.models import (
    DoiRegistration,
    DryRunReport,
    EventStatus,
    OrcidPlacement,
    OutboundNotification,
    ReceivedEvent,
    Work,
)
from worker.ops.status import event_summary
from worker.orcid import placements

_ids = itertools.count(1)


@pytest.fixture
def settings(sandbox: Any, tmp_path: Any) -> Settings:
    return with_registrars(sandbox, tmp_path)


def receive(session, data: dict[str, Any], *, dry: bool, event_id: str | None = None):
    """A work.published event as the intake stores it, with or without the dry-run extension."""
    event_id = event_id or f"dr-{next(_ids)}"
    row = ReceivedEvent(
        source=SOURCE,
        event_id=DRYRUN_PREFIX + event_id if dry else event_id,
        type="work.published",
        client_id="cris",
        correlation_id=f"corr-{event_id}",
        data=data,
        options={"dryrun": True} if dry else {},
    )
    session.add(row)
    session.flush()
    process_event(session, row.id, CONTEXT[-1])
    return row


def _count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def _footprint(session, sandbox) -> dict[str, Any]:
    """Everything a run could write: our rows, queued messages, the sandbox's records."""
    state = sandbox.state()
    return {
        "works": _count(session, Work),
        "registrations": _count(session, DoiRegistration),
        "placements": _count(session, OrcidPlacement),
        "webhooks": _count(session, OutboundNotification),
        "messages": len(pending_messages(session)),
        "datacite": state["datacite"]["dois"],
        "orcid": state["orcid"]["records"],
        "next_put_code": state["orcid"]["next_put_code"],
    }


def test_a_dry_run_writes_nothing_and_the_real_run_does_what_it_said(
    session, sandbox, deps, registrars, consented
):
    # Given a work whose DOI pidsync would register at DataCite, naming a consenting researcher
    data = datacite_work("w-1", doi="10.5072/dry-1")
    data["contributors"] = [{"given": "Ada", "family": "Lovelace", "orcid": consented}]
    before = _footprint(session, sandbox)

    # When it arrives as a dry run
    dry = receive(session, data, dry=True, event_id="e-1")

    # Then it is processed to the end and nothing was written, here or at any agency
    assert dry.status.value == "done", dry.outcome
    assert dry.outcome.startswith("dry run, nothing written: stored")
    assert _footprint(session, sandbox) == before
    report = event_summary(dry)["dryrun"]
    assert report["doi"] == {
        "doi": "10.5072/dry-1",
        "registrar": "datacite",
        "account": "default",
        "action": "register",
        "state": "findable",
    }
    assert report["orcid"] == [
        {"orcid": consented, "action": "waiting", "note": "waiting for its DOI"}
    ]
    assert event_summary(dry)["id"] == "e-1"

    # When the real event follows (the same id: the dry run does not make it a reuse)
    real = receive(session, data, dry=False, event_id="e-1")

    # Then it does what the report said: the DOI registered, then the work placed with it
    assert real.status.value == "done", real.outcome
    reg = registration(session, "w-1")
    assert (reg.doi, reg.registrar.value, reg.account) == ("10.5072/dry-1", "datacite", "default")
    sync(session, registrars, reg)
    assert "10.5072/dry-1" in json.dumps(sandbox.state()["datacite"]["dois"])
    placements.on_doi_settled(session, deps.settings, reg.work_id)
    place_pending(session, deps)
    works = sandbox.state()["orcid"]["records"][consented]["works"]
    assert len(works) == 1
    assert ("doi", "10.5072/dry-1") in {(e["type"], e["value"]) for e in works[0]["external_ids"]}


def test_a_dry_run_of_a_change_predicts_the_update_and_leaves_the_stored_version(
    session, sandbox, deps, consented
):
    # Given a work on the record (external DOI), version 1
    publish(session, "w-2", consented, doi="10.5072/ext-2", title="First title", version=1)
    place_pending(session, deps)
    (placed,) = sandbox.state()["orcid"]["records"][consented]["works"]
    stored = session.execute(select(Work).where(Work.external_id == "w-2")).scalar_one()

    # When version 2 arrives as a dry run
    data = {**stored.work_metadata, "title": "Second title", "version": 2}
    before = _footprint(session, sandbox)
    dry = receive(session, data, dry=True)

    # Then the report names the update of that very work, and nothing moved
    report = session.execute(
        select(DryRunReport.report).where(DryRunReport.event_id == dry.id)
    ).scalar_one()
    assert report["orcid"] == [
        {"orcid": consented, "action": "update", "put_code": placed["put_code"]}
    ]
    assert _footprint(session, sandbox) == before
    session.refresh(stored)
    assert (stored.version, stored.title) == (1, "First title")

    # And the real version 2 is not stale: it updates that work in place, as predicted
    real = receive(session, data, dry=False)
    assert real.status.value == "done", real.outcome
    results = place_pending(session, deps)
    assert [r.note for r in results] == [f"updated (put-code {placed['put_code']})"]


def test_dryrun_values_other_than_true_or_false_are_422_naming_it(client, session):
    for value in ("yes", "TRUE", 1, None):
        body = event(event_id="bad-dry", dryrun=value)
        if value is None:
            body["dryrun"] = None
        answer = signed_post(client, body, secret=INTAKE_SECRET)
        assert answer.status_code == 422, (value, answer.text)
        assert "dryrun" in answer.text
    assert _count(session, ReceivedEvent) == 0


def test_over_http_a_dry_run_is_its_own_event_and_its_report_is_in_the_status_api(client, session):
    # Given a dry run and then the real event, with the same id
    dry = signed_post(client, event(event_id="same", dryrun="true"), secret=INTAKE_SECRET)
    real = signed_post(client, event(event_id="same"), secret=INTAKE_SECRET)

    # Then both are accepted (the real one is no reuse of the dry run's id), and a repeated
    # dry run is a duplicate of the first
    assert (dry.status_code, real.status_code) == (202, 202), (dry.text, real.text)
    assert dry.json()["events"][0]["status_url"] is None  # no work: the receipt tells
    assert real.json()["events"][0]["status_url"] is not None
    again = signed_post(client, event(event_id="same", dryrun="true"), secret=INTAKE_SECRET)
    assert again.json()["duplicates"] == 1
    rows = list(session.execute(select(ReceivedEvent).order_by(ReceivedEvent.id)).scalars())
    assert [r.event_id for r in rows] == [DRYRUN_PREFIX + "same", "same"]

    # When the dry run is processed, its receipt shows the report, under the id as sent
    process_event(session, rows[0].id, CONTEXT[-1])
    receipt = dry.json()["events"][0]["receipt"]
    shown = signed_get(client, f"/events/{receipt}", secret=INTAKE_SECRET).json()
    assert shown["id"] == "same"
    assert shown["dryrun"]["written"] is False
    assert shown["dryrun"]["work"] == {"source": SOURCE, "id": "w-1"}
    assert _count(session, Work) == 0


def test_a_dry_run_that_would_fail_says_so_and_sends_no_webhook(session, sandbox, consented):
    # Given a work naming a registrar account that does not exist
    data = datacite_work("w-9", doi="10.5072/dry-9")
    data["registration"]["account"] = "no-such-account"
    before = _footprint(session, sandbox)

    # When it arrives as a dry run
    dry = receive(session, data, dry=True)

    # Then the failure is reported, and neither a work.failed webhook nor anything else left
    assert dry.status.value == "failed"
    report = event_summary(dry)["dryrun"]
    assert report["status"] == "failed"
    assert "no-such-account" in report["outcome"]
    assert _footprint(session, sandbox) == before

    # And an operator's retry of it runs the dry run again, replacing its report
    dry.status = EventStatus.RECEIVED
    session.flush()
    process_event(session, dry.id, CONTEXT[-1])
    assert dry.status.value == "failed"
    reports = session.execute(select(DryRunReport).where(DryRunReport.event_id == dry.id))
    assert len(list(reports.scalars())) == 1
