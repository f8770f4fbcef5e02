"""The status API reads true for what waits: the next try and the tries so far for events,
DOIs and placements, why a queued placement is blocked, and a withdrawn DOI's real target."""

from __future__ import annotations

from datetime import datetime

from tests.helpers import SOURCE
from tests.orcid.helpers import authorize, place_pending, publish
from tests.orcid.helpers import researcher as new_researcher
from tests.registrars.flow import datacite_work, event, registration, sync
from worker.clock import utcnow
from worker.ops.status import work_status


def _status(session, work_id: str = "w-1") -> dict:
    session.expire_all()
    status = work_status(session, SOURCE, work_id)
    assert status is not None
    return status


def test_a_withdrawn_dois_target_reads_withdrawn(session, registrars):
    event(session, "work.published", datacite_work())
    sync(session, registrars, registration(session, "w-1"))
    assert _status(session)["doi"]["target_state"] == "findable"
    event(session, "work.withdrawn", {"id": "w-1"})
    doi = _status(session)["doi"]
    assert doi["target_state"] == "withdrawn"
    assert doi["state"] == "findable" and doi["pending"]  # the hide is still to be confirmed
    sync(session, registrars, registration(session, "w-1"))
    assert _status(session)["doi"]["state"] == "withdrawn"


def test_a_doi_waiting_after_an_outage_shows_its_next_try_and_tries(
    session, registrars, sandbox, tune
):
    tune(doi={"retry_backoff": [600.0]})
    event(session, "work.published", datacite_work())
    sandbox.set_faults("datacite", error_rate=1)
    sync(session, registrars, registration(session, "w-1"))
    doi = _status(session)["doi"]
    assert doi["retries"] == 1
    assert doi["blocked"] is None
    waits = (datetime.fromisoformat(doi["next_attempt_at"]) - utcnow()).total_seconds()
    assert 500 < waits <= 600


def test_placements_say_why_they_are_blocked_and_when_they_try_next(
    session, registrars, sandbox, orcid_deps, cipher, client_id
):
    # Given two researchers on a work whose DOI pidsync registers; only one has consented
    consented, other = new_researcher(sandbox), new_researcher(sandbox)
    authorize(session, sandbox, cipher, consented, client_id)
    publish(
        session, "w-1", consented, other, registration={"registrar": "datacite"},
        url="https://repo.example.edu/w-1",
    )  # fmt: skip
    placements = {p["orcid"]: p for p in _status(session)["orcid"]}
    # Then the one without consent says so; the other waits for the DOI to be confirmed
    assert placements[other]["state"] == "awaiting_consent"
    assert "awaiting consent" in placements[other]["blocked"]
    assert placements[consented]["state"] == "pending"
    assert placements[consented]["blocked"].startswith("awaiting the DOI: ")
    assert "reserved at datacite" in placements[consented]["blocked"]
    # When the DOI is confirmed, nothing blocks it; a transient ORCID failure then shows the
    # next try and the tries so far
    sync(session, registrars, registration(session, "w-1"))
    sandbox.set_faults("orcid", error_rate=1)
    place_pending(session, orcid_deps)
    placed = {p["orcid"]: p for p in _status(session)["orcid"]}[consented]
    assert placed["blocked"] is None
    assert placed["state"] == "pending" and placed["attempts"] == 1
    waits = (datetime.fromisoformat(placed["next_attempt_at"]) - utcnow()).total_seconds()
    assert 500 < waits <= 600  # the ORCID backoff of these tests: 600 s
