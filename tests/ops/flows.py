"""Failures an operator meets, made for real against the sandbox."""

from __future__ import annotations

from typing import Any

from tests.orcid.helpers import authorize, place_pending, placement, publish, record_works
from tests.orcid.helpers import researcher as new_researcher
from tests.registrars.flow import datacite_work, event, registration, sync
from worker.models import DoiState, OrcidPlacement, PlacementState


def fail_with_401(session, registrars) -> Any:
    """A DataCite DOI refused because the account's password was wrong at the time."""
    event(session, "work.published", datacite_work())
    reg = registration(session, "w-1")
    good = registrars.settings
    registrars.settings = good.model_copy(update={"datacite_password": "wrong-password"})
    assert sync(session, registrars, reg) is None
    registrars.settings = good  # ... and then the operator fixed the password
    session.refresh(reg)
    assert reg.state == DoiState.FAILED
    assert "401" in reg.last_error
    return reg


def fail_placement(session, sandbox, orcid_deps, cipher, client_id) -> OrcidPlacement:
    """A placement whose POST landed at ORCID but whose answers were all lost: its tries ran
    out (failed), and ORCID holds the work although pidsync has no put-code."""
    orcid = new_researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    sandbox.set_faults("orcid", lost_response_rate=1.0)
    work_row = publish(session, "p-1", orcid)
    for _ in range(5):
        if not place_pending(session, orcid_deps):
            break
    sandbox.set_faults("orcid", lost_response_rate=0)
    row = placement(session, work_row, orcid)
    assert row.state == PlacementState.FAILED, row.last_error
    assert row.put_code is None
    assert len(record_works(sandbox, orcid)) == 1  # the first POST did land
    return row
