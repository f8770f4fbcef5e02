"""What Crossref and ORCID could not hold of a Work reaches the people who sent it: the status
API's DOI and placement entries carry ``notes`` (stored with the payload's hash, so a retry of
the same payload computes nothing), and one INFO line says it when the notes change."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import structlog

from tests.conftest import INTAKE_SECRET
from tests.helpers import SOURCE, signed_get
from tests.orcid.conftest import with_registrars
from tests.orcid.helpers import (
    place_pending,
    placement,
    publish_registered,
)
from tests.registrars.flow import crossref_work, datacite_work, deposit, finish, registration, sync
from worker.config import Settings
from worker.db import pending_messages
from worker.models import DoiState, PlacementState
from worker.orcid import placements

OTHER_SECRET = "another-clients-intake-secret-0123456789"
MULTILINGUAL = {
    "title": "Corrientes profundas",
    "title_language": "es",
    "language": "es",
    "alternative_titles": [
        {"title": "Deep currents", "type": "TranslatedTitle", "language": "en"},
        {"title": "Correntes profundas", "type": "TranslatedTitle", "language": "pt"},
    ],
}


@pytest.fixture
def settings(sandbox: Any, tmp_path: Any) -> Settings:
    # A second intake client, to read as another tenant.
    clients = [
        {"id": "cris", "secrets": [INTAKE_SECRET], "sources": [SOURCE]},
        {"id": "other-cris", "secrets": [OTHER_SECRET], "sources": ["https://other.example.org"]},
    ]
    return with_registrars(sandbox, tmp_path, intake_clients=clients)


def _settle_and_place(session, deps) -> None:
    for name, args in pending_messages(session):
        if name == "orcid.doi_settled":
            placements.on_doi_settled(session, deps.settings, *args)
    place_pending(session, deps)


def _status(client, session, work_id: str) -> dict[str, Any]:
    session.commit()
    answer = signed_get(client, f"/works/{quote(SOURCE, safe='')}/{work_id}", secret=INTAKE_SECRET)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_multilingual_work_shows_what_crossref_and_orcid_left_out(
    session, sandbox, deps, registrars, consented, client
):
    # Given a work whose title is in Spanish with English and Portuguese translations
    work = publish_registered(session, crossref_work("ml-1", **MULTILINGUAL), consented)
    # When it is registered at Crossref and placed on the researcher's ORCID record
    with structlog.testing.capture_logs() as logs:
        (deposit_id,) = deposit(session, registrars)
        finish(session, registrars, deposit_id)
        assert registration(session, "ml-1").state == DoiState.REGISTERED
        _settle_and_place(session, deps)
    assert placement(session, work, consented).state == PlacementState.PLACED

    # Then the status API says, per target, what it could not hold
    status = _status(client, session, "ml-1")
    doi_notes = status["doi"]["notes"]
    assert "alternative_titles: not carried by this target" in doi_notes
    assert "title_language: Crossref titles carry no language" in doi_notes
    (shown,) = status["orcid"]
    # ORCID holds one translated title (the English one); the Portuguese one is a note
    assert (
        "alternative_titles[1]: ORCID takes one translated title (with a language ORCID knows); "
        "this one is not carried"
    ) in shown["notes"]
    assert "title_language: ORCID's title carries no language" in shown["notes"]
    assert not any(note.startswith("alternative_titles[0]") for note in shown["notes"])
    # and one INFO line per target said it
    said = [entry for entry in logs if entry["event"] == "render_notes"]
    assert sorted(entry["target"] for entry in said) == ["crossref-xml", "orcid-json"]
    assert all(entry["log_level"] == "info" for entry in said)


def test_a_work_that_loses_nothing_shows_no_notes(
    session, sandbox, deps, registrars, consented, client
):
    publish_registered(session, crossref_work("plain-1", publisher=None), consented)
    (deposit_id,) = deposit(session, registrars)
    finish(session, registrars, deposit_id)
    _settle_and_place(session, deps)
    status = _status(client, session, "plain-1")
    assert status["doi"]["notes"] == []
    assert status["orcid"][0]["notes"] == []


def test_a_retry_of_the_same_payload_computes_and_logs_nothing_again(
    session, sandbox, registrars, consented
):
    # Given a DataCite work with a conference (DataCite has no event) whose first try fails
    data = datacite_work("dc-1", event={"name": "PIDapalooza 2026"})
    publish_registered(session, data, consented)
    reg = registration(session, "dc-1")
    sandbox.set_faults("datacite", error_rate=1)
    with structlog.testing.capture_logs() as first:
        sync(session, registrars, reg)
    assert reg.render_notes["notes"] == ["event: DataCite has no conference/event property"]
    stored_hash = reg.render_notes["hash"]
    # When the same payload is retried and succeeds
    sandbox.set_faults("datacite", error_rate=0)
    with structlog.testing.capture_logs() as second:
        sync(session, registrars, registration(session, "dc-1"))
    reg = registration(session, "dc-1")
    assert reg.state == DoiState.FINDABLE
    # Then the notes stand, under the same hash, and were said once only
    assert reg.render_notes == {
        "hash": stored_hash,
        "notes": ["event: DataCite has no conference/event property"],
    }
    assert [e["event"] for e in first].count("render_notes") == 1
    assert [e["event"] for e in second].count("render_notes") == 0


def test_another_client_does_not_see_the_notes(session, sandbox, registrars, consented, client):
    # Given a work of client "cris" whose Crossref registration left things out
    publish_registered(session, crossref_work("ml-2", **MULTILINGUAL), consented)
    (deposit_id,) = deposit(session, registrars)
    finish(session, registrars, deposit_id)
    assert _status(client, session, "ml-2")["doi"]["notes"]
    # When another client reads it, signed with its own secret
    answer = signed_get(
        client, f"/works/{quote(SOURCE, safe='')}/ml-2", secret=OTHER_SECRET,
        client_id="other-cris",
    )  # fmt: skip
    # Then it is not found, and nothing of the notes is in the answer
    assert answer.status_code == 404
    assert "alternative_titles" not in answer.text
