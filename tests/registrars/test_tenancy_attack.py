"""The attack from issue 11, at the registrar: client B sending a work.updated or
work.withdrawn for client A's work (sources overlapping, so only the work service's owner guard
stands between them) is refused, and A's DataCite record is unchanged at the agency."""

from __future__ import annotations

from tests.registrars.flow import calls, datacite_dois, datacite_work, event, registration, sync
from worker.models import EventStatus


def test_client_b_cannot_rewrite_or_withdraw_client_as_datacite_record(session, sandbox, deps):
    # Given A's work registered at DataCite
    assert event(session, "work.published", datacite_work(), client_id="a").status == (
        EventStatus.DONE
    )
    reg = registration(session, "w-1")
    sync(session, deps, reg)
    before = datacite_dois(sandbox)[reg.doi]
    puts = len(calls(session, "datacite", "PUT"))
    # When B rewrites its title and URL, then withdraws it
    hostile = datacite_work(title="Taken over", url="https://attacker.example/", version=99)
    updated = event(session, "work.updated", hostile, client_id="b")
    withdrawn = event(session, "work.withdrawn", {"id": "w-1", "version": 100}, client_id="b")
    # Then both events fail naming the reason, nothing is queued, and DataCite holds A's record
    assert updated.status == withdrawn.status == EventStatus.FAILED
    assert "belongs to another client" in updated.message
    assert "belongs to another client" in withdrawn.message
    reg = registration(session, "w-1")
    assert reg.pending_hash is None
    assert len(calls(session, "datacite", "PUT")) == puts
    assert datacite_dois(sandbox)[reg.doi] == before
