"""The preview of a record: nothing written (counted at the sandbox), exactly what a real run
then does, scoped to the asking client."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import INTAKE_SECRET
from tests.helpers import SOURCE, signed_get
from tests.orcid.helpers import authorize, place_pending, publish, receive, researcher
from worker.orcid.preview import UnknownResearcher, preview


def _record(sandbox, orcid: str) -> dict[int, dict[str, Any]]:
    """The record's works by put-code, as the sandbox holds them (content and modified time)."""
    works = sandbox.state()["orcid"]["records"][orcid]["works"]
    return {w["put_code"]: w for w in works}


def _work_id(work: dict[str, Any]) -> str:
    ids = [e["value"] for e in work["external_ids"] if e["type"] == "source-work-id"]
    return ids[0].removeprefix(f"{SOURCE}:")


def _writes(sandbox) -> tuple[int, dict[str, int]]:
    state = sandbox.state()
    return state["orcid"]["next_put_code"], state["requests"]["orcid"]["by_status"]


@pytest.fixture
def record_in_motion(session, sandbox, cipher, deps, client_id) -> str:
    """A record with three works placed, then: w-2 changed, w-3 withdrawn, w-4 new; w-1 as it
    was. Nothing of the changes has been sent yet."""
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    for n in (1, 2, 3):
        publish(session, f"w-{n}", orcid, doi=f"10.5072/pv.{n}", title=f"Work {n}")
    place_pending(session, deps)
    publish(session, "w-2", orcid, doi="10.5072/pv.2", title="Work 2, corrected", version=2)
    receive(session, "work.withdrawn", {"id": "w-3"})
    publish(session, "w-4", orcid, doi="10.5072/pv.4", title="Work 4")
    return orcid


def test_preview_writes_nothing_and_predicts_the_real_run(session, sandbox, deps, record_in_motion):
    orcid = record_in_motion
    before = _record(sandbox, orcid)
    counter_before, statuses_before = _writes(sandbox)

    # When the record is previewed
    plan = preview(session, deps, orcid, "cris").as_dict()["sections"]["works"]

    # Then nothing changed at the sandbox: same works, same content, no write answered
    assert _record(sandbox, orcid) == before
    counter, statuses = _writes(sandbox)
    assert counter == counter_before
    assert sum(statuses.values()) == sum(statuses_before.values()) + 1  # the one read
    assert statuses.get("201") == statuses_before.get("201")
    assert statuses.get("204") == statuses_before.get("204")

    # And it names what would change
    assert [c["id"] for c in plan["add"]] == ["w-4"]
    assert [c["id"] for c in plan["update"]] == ["w-2"]
    assert [c["id"] for c in plan["remove"]] == ["w-3"]
    assert plan["unchanged"] == 1

    # When the placements then run for real
    place_pending(session, deps)
    after = _record(sandbox, orcid)

    # Then exactly that happened at the sandbox
    added = [_work_id(after[c]) for c in after.keys() - before.keys()]
    removed = [_work_id(before[c]) for c in before.keys() - after.keys()]
    updated = [
        _work_id(after[c])
        for c in after.keys() & before.keys()
        if after[c]["modified_ms"] != before[c]["modified_ms"]
    ]
    assert added == [c["id"] for c in plan["add"]]
    assert removed == [c["id"] for c in plan["remove"]]
    assert updated == [c["id"] for c in plan["update"]]
    assert {c["put_code"] for c in plan["update"] + plan["remove"]} <= before.keys()


def test_the_preview_of_an_adopted_lost_write_is_an_update(
    session, sandbox, cipher, deps, client_id
):
    # Given a POST whose answer was lost (the work is on the record, pidsync does not know)
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    publish(session, "w-lost", orcid, doi="10.5072/lost")
    sandbox.set_faults("orcid", lost_response_rate=1.0)
    place_pending(session, deps)
    sandbox.set_faults("orcid", lost_response_rate=0)
    (on_record,) = _record(sandbox, orcid).values()

    # Then the preview says the work there is adopted, not added a second time
    plan = preview(session, deps, orcid, "cris").sections["works"]
    assert [(c.action, c.put_code) for c in plan.changes] == [("update", on_record["put_code"])]


def test_another_tenants_preview_is_404_and_orcid_is_not_read(
    session, sandbox, deps, record_in_motion
):
    reads_before = sandbox.state()["requests"]["orcid"]["total"]
    with pytest.raises(UnknownResearcher):
        preview(session, deps, record_in_motion, "another-client")
    assert sandbox.state()["requests"]["orcid"]["total"] == reads_before


def test_the_signed_preview_is_scoped_to_the_client(client, session, record_in_motion, sandbox):
    orcid = record_in_motion
    session.flush()
    before = _record(sandbox, orcid)

    answer = signed_get(client, f"/researchers/{orcid}/preview", secret=INTAKE_SECRET)
    assert answer.status_code == 200, answer.text
    works = answer.json()["sections"]["works"]
    assert [c["id"] for c in works["add"]] == ["w-4"]
    assert answer.json()["written"] is False
    assert _record(sandbox, orcid) == before

    # An unsigned read, a wrong signature, an iD nothing names, a malformed iD
    assert client.get(f"/researchers/{orcid}/preview").status_code == 401
    forged = signed_get(client, f"/researchers/{orcid}/preview", secret="not-the-secret")
    assert forged.status_code == 401
    unknown = signed_get(client, "/researchers/0000-0002-1825-0097/preview", secret=INTAKE_SECRET)
    assert unknown.status_code == 404
    assert "0000-0002-1825-0097" in unknown.json()["error"]
    bad = signed_get(client, "/researchers/0000-0002-1825-0098/preview", secret=INTAKE_SECRET)
    assert bad.status_code == 400
    assert "orcid" in bad.json()["error"]


@pytest.fixture
def booted(runtime, monkeypatch):
    from worker.cli import orcid_plan

    monkeypatch.setattr(orcid_plan, "boot", lambda: runtime)
    return runtime


def test_the_preview_command(booted, session, record_in_motion, sandbox):
    from click.testing import CliRunner

    from worker.cli import main

    orcid = record_in_motion
    session.flush()
    before = _record(sandbox, orcid)
    runner = CliRunner()

    as_json = runner.invoke(main, ["orcid", "preview", orcid, "--tenant", "cris", "--json"])
    assert as_json.exit_code == 0, as_json.output
    works = json.loads(as_json.stdout)["sections"]["works"]
    assert [c["id"] for c in works["update"]] == ["w-2"]

    text = runner.invoke(main, ["orcid", "preview", orcid])
    assert text.exit_code == 0, text.output
    assert "works: 1 to add, 1 to update, 1 to remove, 1 unchanged, 0 waiting" in text.stdout
    assert _record(sandbox, orcid) == before

    # Bad input exits 2 naming it: a malformed iD, an unknown tenant, an iD nothing names
    bad = runner.invoke(main, ["orcid", "preview", "0000-0002-1825-0098"])
    assert bad.exit_code == 2 and "ORCID" in bad.stderr
    tenant = runner.invoke(main, ["orcid", "preview", orcid, "--tenant", "nobody"])
    assert tenant.exit_code == 2 and "--tenant" in tenant.stderr
    unknown = runner.invoke(main, ["orcid", "preview", "0000-0002-1825-0097"])
    assert unknown.exit_code == 2 and "0000-0002-1825-0097" in unknown.stderr
