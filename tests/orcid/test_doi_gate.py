"""ORCID gets only DOIs that resolve (DESIGN §7): a work whose DOI pidsync registers is placed
with it only once the agency confirmed it; a DOI refused for good is left out (or the work is
skipped), and a placement already carrying it is corrected. What reached ORCID is read from the
sandbox's record, never from our own rows."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import SOURCE, session_database
from tests.orcid.conftest import with_registrars
from tests.orcid.helpers import (
    authorize,
    place_pending,
    placement,
    publish_registered,
    receive,
    record_works,
    researcher,
)
from tests.registrars.flow import crossref_work, datacite_work, deposit, finish, registration, sync
from worker.config import Settings
from worker.db import pending_messages
from worker.models import DoiState, OrcidPlacement, PlacementState
from worker.ops.status import work_status
from worker.orcid import placements
from worker.orcid.result import Result

SETTLED = "orcid.doi_settled"


@pytest.fixture
def settings(sandbox: Any, tmp_path: Any) -> Settings:
    return with_registrars(sandbox, tmp_path)


def _deliver_settled(session, deps) -> list[Result]:
    """Run each ``orcid.doi_settled`` the registrars asked for (once), as its actor would."""
    done = session.info.setdefault("settled_delivered", 0)
    sent = [args for name, args in pending_messages(session) if name == SETTLED]
    session.info["settled_delivered"] = len(sent)
    return [placements.on_doi_settled(session, deps.settings, *args) for args in sent[done:]]


def _dois_on_record(sandbox, orcid: str) -> list[str | None]:
    """The DOI each work on the record carries (None: placed without one)."""
    found = []
    for work in record_works(sandbox, orcid):
        dois = [e["value"] for e in work["external_ids"] if e["type"] == "doi"]
        found.append(dois[0] if dois else None)
    return found


def test_a_datacite_doi_is_placed_only_after_datacite_confirmed_it(
    session, sandbox, deps, registrars, consented
):
    # Given a work whose DOI pidsync registers at DataCite, published for a consenting researcher
    work = publish_registered(session, datacite_work("w-1"), consented)
    reg = registration(session, "w-1")

    # Then, before DataCite answered, the placement waits visibly and nothing reaches ORCID
    row = placement(session, work, consented)
    assert row.state == PlacementState.AWAITING_DOI
    assert place_pending(session, deps) == []
    shown = work_status(session, SOURCE, "w-1")["orcid"][0]
    assert shown["state"] == "awaiting_doi"
    assert reg.doi in shown["last_error"]
    assert record_works(sandbox, consented) == []

    # When DataCite confirms the DOI and the ORCID flow is told
    sync(session, registrars, reg)
    assert registration(session, "w-1").state == DoiState.FINDABLE
    assert [r.note for r in _deliver_settled(session, deps)] == [
        "DOI settled: 1 placement(s) queued, 0 waiting or skipped"
    ]
    place_pending(session, deps)

    # Then the work is on the record once, with its confirmed DOI
    assert _dois_on_record(sandbox, consented) == [reg.doi]
    assert placement(session, work, consented).state == PlacementState.PLACED


def test_a_doi_datacite_refuses_never_reaches_the_record(
    session, sandbox, deps, registrars, consented
):
    # Given a work carrying a DOI DataCite refuses (422 "doi: Is invalid")
    work = publish_registered(session, datacite_work("w-1", doi="10.5072/ünïcode-ß"), consented)
    reg = registration(session, "w-1")
    assert placement(session, work, consented).state == PlacementState.AWAITING_DOI

    # When DataCite refuses it and the ORCID flow is told
    sync(session, registrars, reg)
    assert registration(session, "w-1").state == DoiState.FAILED
    _deliver_settled(session, deps)
    place_pending(session, deps)

    # Then the work is placed without the DOI (its source-work-id only), never with it
    assert _dois_on_record(sandbox, consented) == [None]
    ids = record_works(sandbox, consented)[0]["external_ids"]
    assert [e["type"] for e in ids] == ["source-work-id"]
    assert placement(session, work, consented).state == PlacementState.PLACED


def test_a_crossref_failure_never_reaches_the_record(session, sandbox, deps, registrars, consented):
    # Given a journal article whose Crossref deposit record ends as a Failure
    work = publish_registered(session, crossref_work("a-1"), consented)
    reg = registration(session, "a-1")
    sandbox.crossref_force_outcome(reg.doi, "Failure", "Title is not unique in journal")
    assert placement(session, work, consented).state == PlacementState.AWAITING_DOI

    # When the deposit is processed
    (deposit_id,) = deposit(session, registrars)
    assert place_pending(session, deps) == []  # submitted is not confirmed: still waiting
    assert record_works(sandbox, consented) == []
    finish(session, registrars, deposit_id)
    assert registration(session, "a-1").state == DoiState.FAILED
    _deliver_settled(session, deps)
    place_pending(session, deps)

    # Then the work is on the record without the refused DOI
    assert _dois_on_record(sandbox, consented) == [None]


def test_a_crossref_success_is_placed_with_its_doi(session, sandbox, deps, registrars, consented):
    work = publish_registered(session, crossref_work("a-1"), consented)
    reg = registration(session, "a-1")
    (deposit_id,) = deposit(session, registrars)
    finish(session, registrars, deposit_id)
    assert registration(session, "a-1").state == DoiState.REGISTERED
    _deliver_settled(session, deps)
    place_pending(session, deps)
    assert _dois_on_record(sandbox, consented) == [reg.doi]
    assert placement(session, work, consented).state == PlacementState.PLACED


def test_skip_setting_leaves_a_work_with_a_failed_doi_off_the_record(
    session, sandbox, deps, registrars, consented
):
    # Given PIDSYNC_ORCID_WITHOUT_DOI=skip
    deps.settings = deps.settings.model_copy(
        update={"orcid": deps.settings.orcid.model_copy(update={"without_doi": "skip"})}
    )
    work = publish_registered(session, datacite_work("w-1", doi="10.5072/ünïcode-ß"), consented)

    # When the DOI is refused for good
    sync(session, registrars, registration(session, "w-1"))
    _deliver_settled(session, deps)

    # Then the work is not placed at all, and the status says why
    assert place_pending(session, deps) == []
    row = placement(session, work, consented)
    assert row.state == PlacementState.SKIPPED
    assert "PIDSYNC_ORCID_WITHOUT_DOI=skip" in row.last_error
    assert record_works(sandbox, consented) == []


def test_nothing_is_placed_while_datacite_is_down_then_it_is(
    session, sandbox, deps, registrars, consented
):
    # Given DataCite is down
    sandbox.set_faults("datacite", outage_seconds=60)
    work = publish_registered(session, datacite_work("w-1"), consented)
    reg = registration(session, "w-1")

    # When the registration is tried (and retried) during the outage
    for _ in range(2):
        assert sync(session, registrars, reg) is not None  # a retry is scheduled
    assert registration(session, "w-1").state in (DoiState.RESERVED, DoiState.SUBMITTED)
    assert _deliver_settled(session, deps) == []
    assert place_pending(session, deps) == []

    # Then nothing reached the record, and the placement says what it waits for
    assert record_works(sandbox, consented) == []
    assert placement(session, work, consented).state == PlacementState.AWAITING_DOI

    # When DataCite is back and confirms the DOI
    sandbox.set_faults("datacite", outage_seconds=0)
    sync(session, registrars, reg)
    _deliver_settled(session, deps)
    place_pending(session, deps)

    # Then the work is placed, with its DOI
    assert _dois_on_record(sandbox, consented) == [reg.doi]


def test_a_placement_carrying_a_doi_that_later_failed_is_corrected(
    session, sandbox, deps, registrars, consented
):
    # Given a work placed with its DOI before the DOI's fate was known (as pidsync did before
    # the DOI gate; a row from then)
    work = publish_registered(session, datacite_work("w-1", doi="10.5072/ünïcode-ß"), consented)
    reg = registration(session, "w-1")
    reg.state = DoiState.FINDABLE  # what the gate saw then
    session.flush()
    row = placement(session, work, consented)
    row.state = PlacementState.PENDING
    session.flush()
    results = place_pending(session, deps)
    assert _dois_on_record(sandbox, consented) == ["10.5072/ünïcode-ß"], results
    put_code = placement(session, work, consented).put_code
    reg.state = DoiState.RESERVED
    session.flush()

    # When DataCite refuses the DOI for good and the ORCID flow is told
    sync(session, registrars, reg)
    assert registration(session, "w-1").state == DoiState.FAILED
    _deliver_settled(session, deps)
    place_pending(session, deps)

    # Then the same work on the record (same put-code) no longer carries the DOI
    assert _dois_on_record(sandbox, consented) == [None]
    assert [w["put_code"] for w in record_works(sandbox, consented)] == [put_code]


def test_a_doi_withdrawn_while_the_work_stays_is_taken_off_the_record(
    session, sandbox, deps, registrars, consented
):
    # Given a work placed with its confirmed DOI
    work = publish_registered(session, datacite_work("w-1"), consented)
    reg = registration(session, "w-1")
    sync(session, registrars, reg)
    _deliver_settled(session, deps)
    place_pending(session, deps)
    assert _dois_on_record(sandbox, consented) == [reg.doi]

    # When the DOI ends withdrawn (hidden at DataCite) and the flow is told
    reg = registration(session, "w-1")
    reg.state = DoiState.WITHDRAWN
    session.flush()
    assert placements.on_doi_settled(session, deps.settings, work.id).note.startswith(
        "DOI settled: 1 placement(s) queued"
    )
    place_pending(session, deps)

    # Then the record's copy is corrected: no DOI
    assert _dois_on_record(sandbox, consented) == [None]


def test_an_external_doi_is_placed_at_once(session, sandbox, deps, consented):
    # Given a work that names its own DOI, registered elsewhere (registrar none)
    data = datacite_work("w-1", doi="10.5072/external-1", registration={"registrar": "none"})
    data["contributors"] = [{"given": "Ada", "family": "Lovelace", "orcid": consented}]
    receive(session, "work.published", data)
    place_pending(session, deps)
    assert _dois_on_record(sandbox, consented) == ["10.5072/external-1"]


def test_the_registrars_tell_the_orcid_flow_when_a_doi_is_settled(
    session, sandbox, deps, registrars, consented
):
    # Given a work whose registration is retried during an outage
    work = publish_registered(session, datacite_work("w-1"), consented)
    reg = registration(session, "w-1")
    sandbox.set_faults("datacite", outage_seconds=60)
    sync(session, registrars, reg)
    # Then no message: its fate is not settled
    assert (SETTLED, (work.id,)) not in pending_messages(session)
    # When it is confirmed: one message, by name, naming the work
    sandbox.set_faults("datacite", outage_seconds=0)
    sync(session, registrars, reg)
    assert [m for m in pending_messages(session) if m[0] == SETTLED] == [(SETTLED, (work.id,))]
    # An unchanged confirmation again sends none
    reg = registration(session, "w-1")
    reg.pending_hash = "changed"
    session.flush()
    sync(session, registrars, reg)
    assert [m for m in pending_messages(session) if m[0] == SETTLED] == [(SETTLED, (work.id,))]


def test_a_placement_waiting_for_consent_then_its_doi_waits_for_the_doi(
    session, sandbox, cipher, deps, registrars, client_id
):
    # Given a work with an unconfirmed DOI naming a researcher who has not consented yet
    orcid = researcher(sandbox)
    work = publish_registered(session, datacite_work("w-1"), orcid)
    assert placement(session, work, orcid).state == PlacementState.AWAITING_CONSENT
    # When the researcher consents: the placement now waits for the DOI, nothing is sent
    authorize(session, sandbox, cipher, orcid, client_id)
    row = placement(session, work, orcid)
    assert row.state == PlacementState.AWAITING_DOI
    assert row.client_id == client_id
    assert place_pending(session, deps) == []
    assert record_works(sandbox, orcid) == []


def test_the_healing_sweep_queues_a_placement_whose_doi_settled(
    session, sandbox, deps, registrars, consented
):
    # Given a placement awaiting its DOI whose settling message was lost
    work = publish_registered(session, datacite_work("w-1"), consented)
    sync(session, registrars, registration(session, "w-1"))
    from worker.orcid import sweep

    # When the sweep runs (the message is never delivered)
    database = session_database(session)
    assert sweep.heal_waiting_placements(database, deps.settings) == 1
    assert sweep.heal_waiting_placements(database, deps.settings) == 0
    session.expire_all()
    place_pending(session, deps)

    # Then the work is placed with its DOI
    row = session.get(OrcidPlacement, placement(session, work, consented).id)
    assert row.state == PlacementState.PLACED
    assert _dois_on_record(sandbox, consented) == [registration(session, "w-1").doi]
