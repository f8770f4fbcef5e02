"""A work.published event that asks for enrichment gets its missing fields from its DOI."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.helpers import SOURCE
from worker.config import Settings
from worker.events.service import Context, process_event
from worker.models import EventStatus, ReceivedEvent, Work
from worker.pids.negotiation import Negotiator

SEEDED_DOI = "10.5555/12345678"  # a Crossref record the sandbox seeds


@pytest.fixture
def ctx(info):
    return Context(
        Settings(_env_file=None, env="test"),
        negotiator=Negotiator(info["doi_resolver_url"], timeout=5),
    )


def _receive(session, data, *, enrich=True, event_type="work.published"):
    row = ReceivedEvent(
        source=SOURCE,
        event_id="e-" + data["id"],
        type=event_type,
        client_id="cris",
        correlation_id="c",
        data=data,
        options={"enrich": True} if enrich else {},
    )
    session.add(row)
    session.flush()
    return row.id


def test_missing_fields_are_filled_and_what_the_event_says_is_kept(session, ctx):
    data = {"id": "sparse", "type": "journal-article", "title": "Our own title", "doi": SEEDED_DOI}
    outcome = process_event(session, _receive(session, data), ctx)
    assert outcome.status == EventStatus.DONE, outcome.message
    assert f"enriched from {SEEDED_DOI}" in outcome.message
    stored = session.execute(select(Work)).scalar_one()
    assert stored.title == "Our own title"
    assert stored.work_metadata.get("publisher")
    assert stored.work_metadata.get("contributors")


def test_without_the_option_nothing_is_fetched(session, ctx):
    data = {"id": "plain", "type": "journal-article", "title": "T", "doi": SEEDED_DOI}
    outcome = process_event(session, _receive(session, data, enrich=False), ctx)
    assert "enriched" not in outcome.message
    assert "publisher" not in session.execute(select(Work)).scalar_one().work_metadata


def test_an_unknown_doi_leaves_the_work_as_sent_with_the_reason(session, ctx):
    data = {"id": "ghost", "type": "dataset", "title": "T", "doi": "10.5555/does-not-exist"}
    outcome = process_event(session, _receive(session, data), ctx)
    assert outcome.status == EventStatus.DONE
    assert "enrichment skipped" in outcome.message
    assert session.execute(select(Work)).scalar_one().title == "T"


def test_intake_records_the_enrich_extension(client, session):
    from tests.conftest import INTAKE_SECRET
    from tests.helpers import event, signed_post, work

    body = event(data=work(doi=SEEDED_DOI), enrich="true")
    assert signed_post(client, body, secret=INTAKE_SECRET).status_code == 202
    assert session.execute(select(ReceivedEvent.options)).scalar_one() == {"enrich": True}
