"""The preview and dry runs of affiliations, fundings and peer reviews: nothing written (counted
at the sandbox, group-id registry included), exactly what a real run then does, scoped to the
asking client, and a dry run never blocks the real event sent later with the same id."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import INTAKE_SECRET
from tests.helpers import SOURCE, event, process_event, signed_get, signed_post
from tests.orcid.helpers import CONTEXT, authorize, receive, researcher
from tests.orcid.sections_helpers import (
    affiliation,
    funding,
    place_pending_items,
    review,
)
from tests.orcid.sections_helpers import settings as settings  # noqa: PLC0414 - the fixture
from worker.db import pending_messages
from worker.events.intake import DRYRUN_PREFIX
from worker.models import (
    DryRunReport,
    OrcidAssertion,
    OrcidGroupId,
    OrcidItem,
    OutboundNotification,
    ReceivedEvent,
)
from worker.orcid.preview import UnknownResearcher, preview

OTHER_SOURCE = "https://other.example/cris"
SECTIONS = ("affiliations", "fundings", "peer_reviews")
_ids = itertools.count(1)


def _activities(sandbox, orcid: str) -> dict[int, dict[str, Any]]:
    """The record's affiliations, fundings and reviews by put-code, as the sandbox holds them."""
    found = sandbox.state()["orcid"]["records"][orcid]["activities"]
    return {a["put_code"]: a for a in found}


def _item_id(activity: dict[str, Any]) -> str:
    ids = [e["value"] for e in activity["external_ids"] if e["type"] == "source-work-id"]
    return ids[0].split(":")[-1]


def _group_ids(sandbox) -> list[str]:
    return sorted(g["group_id"] for g in sandbox.state()["orcid"]["group_ids"])


def _count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def _footprint(session, sandbox) -> dict[str, Any]:
    """Everything an item event or its placement could write: our rows, queued messages, the
    sandbox's records and its group-id registry."""
    state = sandbox.state()
    return {
        "assertions": _count(session, OrcidAssertion),
        "items": _count(session, OrcidItem),
        "group_ids": _count(session, OrcidGroupId),
        "webhooks": _count(session, OutboundNotification),
        "messages": len(pending_messages(session)),
        "records": state["orcid"]["records"],
        "registry": state["orcid"]["group_ids"],
        "next_put_code": state["orcid"]["next_put_code"],
        "writes": {
            s: n
            for s, n in state["requests"]["orcid"]["by_status"].items()
            if s in ("201", "204", "409")
        },
    }


def _ids_of(plan: dict[str, Any], action: str) -> list[str]:
    return sorted(c["id"] for c in plan[action])


def _diff(before: dict[int, dict], after: dict[int, dict]) -> dict[str, list[str]]:
    """What a run did to the record, by item id: added, updated (in place), removed."""
    return {
        "add": sorted(_item_id(after[c]) for c in after.keys() - before.keys()),
        "remove": sorted(_item_id(before[c]) for c in before.keys() - after.keys()),
        "update": sorted(
            _item_id(after[c])
            for c in after.keys() & before.keys()
            if after[c]["modified_ms"] != before[c]["modified_ms"]
            or after[c]["body"] != before[c]["body"]
        ),
    }


@pytest.fixture
def items_in_motion(session, sandbox, cipher, deps, client_id) -> str:
    """A record holding two affiliations, a funding and a review, placed; then: aff-1 changed,
    aff-2 withdrawn, aff-3 new; fund-1 changed, fund-2 new; rev-2 new (of a journal pidsync
    has not registered); rev-1 as it was. Nothing of the changes sent yet."""
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "affiliation.published", affiliation(orcid, "aff-1", version=1))
    receive(session, "affiliation.published", affiliation(orcid, "aff-2", kind="education"))
    receive(session, "funding.published", funding(orcid, item_id="fund-1", version=1))
    receive(session, "review.published", review(orcid, "rev-1"))
    place_pending_items(session, deps)
    changed = affiliation(orcid, "aff-1", version=2, role="Professor")
    assert receive(session, "affiliation.updated", changed).status.value == "done"
    assert receive(session, "affiliation.withdrawn", {"id": "aff-2"}).status.value == "done"
    receive(session, "affiliation.published", affiliation(orcid, "aff-3", kind="service"))
    receive(session, "funding.updated", funding(orcid, item_id="fund-1", version=2, title="New"))
    receive(session, "funding.published", funding(orcid, item_id="fund-2"))
    receive(session, "review.published", review(orcid, "rev-2", issn="1476-4687"))
    return orcid


def test_the_preview_of_items_writes_nothing_and_predicts_the_real_run(
    session, sandbox, deps, items_in_motion
):
    orcid = items_in_motion
    before = _activities(sandbox, orcid)
    registry_before = _group_ids(sandbox)
    footprint = _footprint(session, sandbox)
    reads = sandbox.state()["requests"]["orcid"]["total"]

    # When the record is previewed
    found = preview(session, deps, orcid, "cris").as_dict()
    plans = found["sections"]

    # Then nothing was written here or at ORCID (its group-id registry included): one read
    assert _footprint(session, sandbox) == footprint
    assert sandbox.state()["requests"]["orcid"]["total"] == reads + 1
    assert found["written"] is False

    # And it names each section's changes, the section each goes to, and the journal to register
    aff, fund, rev = (plans[s] for s in SECTIONS)
    assert (_ids_of(aff, "add"), _ids_of(aff, "update"), _ids_of(aff, "remove")) == (
        ["aff-3"],
        ["aff-1"],
        ["aff-2"],
    )
    assert [c["section"] for c in aff["add"]] == ["service"]
    assert (_ids_of(fund, "add"), _ids_of(fund, "update"), fund["remove"]) == (
        ["fund-2"],
        ["fund-1"],
        [],
    )
    assert (_ids_of(rev, "add"), rev["update"], rev["unchanged"]) == (["rev-2"], [], 1)
    assert rev["register_group_ids"] == ["issn:1476-4687"]
    planned_put_codes = {
        c["put_code"] for s in SECTIONS for c in plans[s]["update"] + plans[s]["remove"]
    }
    assert planned_put_codes <= before.keys()

    # When the items are then placed for real
    place_pending_items(session, deps)

    # Then exactly that happened on the record, and the one journal named was registered
    done = _diff(before, _activities(sandbox, orcid))
    assert done == {
        action: sorted(c["id"] for s in SECTIONS for c in plans[s][action])
        for action in ("add", "update", "remove")
    }
    assert _group_ids(sandbox) == sorted([*registry_before, "issn:1476-4687"])


@pytest.mark.parametrize(
    ("event_type", "section", "build"),
    [
        ("funding.published", "fundings", funding),
        ("affiliation.published", "affiliations", affiliation),
    ],
)
def test_an_item_whose_answer_was_lost_is_previewed_as_adopted_not_added(
    session, sandbox, cipher, deps, client_id, event_type, section, build
):
    # Given an item's POST that landed at ORCID but whose answer was lost (an affiliation is
    # found by its source-work-id; a funding also by its grant number, as ORCID's 409 would)
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, event_type, build(orcid))
    sandbox.set_faults("orcid", script=[{"answer": "lost", "method": "POST"}])
    place_pending_items(session, deps)
    (on_record,) = _activities(sandbox, orcid).values()

    # Then the preview says it would adopt the item there, and the real run does just that
    plan = preview(session, deps, orcid, "cris").sections[section]
    assert [(c.action, c.put_code, c.note) for c in plan.changes] == [
        ("update", on_record["put_code"], "adopted")
    ]
    place_pending_items(session, deps)
    assert list(_activities(sandbox, orcid)) == [on_record["put_code"]]


def test_an_item_the_researcher_deleted_is_not_previewed_as_written_again(
    session, sandbox, cipher, deps, client_id
):
    # Given an affiliation placed, which the researcher then deleted from their record
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "affiliation.published", affiliation(orcid, version=1))
    place_pending_items(session, deps)
    (placed,) = _activities(sandbox, orcid).values()
    sandbox.delete_activity(orcid, placed["put_code"])
    receive(session, "affiliation.updated", affiliation(orcid, version=2, role="Dean"))

    # Then the preview writes nothing for it, and neither does the real run
    plan = preview(session, deps, orcid, "cris").sections["affiliations"]
    assert (plan.changes, plan.waiting, plan.unchanged) == ([], [], 0)
    place_pending_items(session, deps)
    assert _activities(sandbox, orcid) == {}


def _receive_as(session, client: str, source: str, event_type: str, data: dict) -> None:
    number = next(_ids)
    row = ReceivedEvent(
        source=source,
        event_id=f"other-{number}",
        type=event_type,
        client_id=client,
        correlation_id=f"corr-other-{number}",
        data=data,
    )
    session.add(row)
    session.flush()
    process_event(session, row.id, CONTEXT[-1])
    assert row.status.value == "done", row.outcome


def test_another_tenants_items_never_appear_in_a_clients_preview(
    session, sandbox, deps, items_in_motion
):
    # Given another institution's affiliation and funding naming the same researcher
    orcid = items_in_motion
    _receive_as(session, "other", OTHER_SOURCE, "affiliation.published", affiliation(orcid, "x-1"))
    _receive_as(session, "other", OTHER_SOURCE, "funding.published", funding(orcid, item_id="x-2"))

    def named(tenant: str | None) -> set[str]:
        sections = preview(session, deps, orcid, tenant).as_dict()["sections"]
        return {
            c["id"]
            for s in SECTIONS
            for key in ("add", "update", "remove", "waiting")
            for c in sections[s][key]
        }

    # Then the client's preview names only its own items, the other's only its own
    assert named("cris") == {"aff-1", "aff-2", "aff-3", "fund-1", "fund-2", "rev-2"}
    assert named("other") == {"x-1", "x-2"}
    assert {"x-1", "x-2"} <= named(None)

    # And a client none of whose items, works or grants name the iD gets nothing
    with pytest.raises(UnknownResearcher):
        preview(session, deps, orcid, "nobody")


# --- dry runs ------------------------------------------------------------------------------


def _dry(session, event_type: str, data: dict[str, Any], event_id: str) -> ReceivedEvent:
    row = ReceivedEvent(
        source=SOURCE,
        event_id=DRYRUN_PREFIX + event_id,
        type=event_type,
        client_id="cris",
        correlation_id=f"corr-{event_id}",
        data=data,
        options={"dryrun": True},
    )
    session.add(row)
    session.flush()
    process_event(session, row.id, CONTEXT[-1])
    return row


def _real(session, event_type: str, data: dict[str, Any], event_id: str) -> ReceivedEvent:
    row = ReceivedEvent(
        source=SOURCE,
        event_id=event_id,
        type=event_type,
        client_id="cris",
        correlation_id=f"corr-{event_id}",
        data=data,
    )
    session.add(row)
    session.flush()
    process_event(session, row.id, CONTEXT[-1])
    return row


def _report(session, row: ReceivedEvent) -> dict[str, Any]:
    return session.execute(
        select(DryRunReport.report).where(DryRunReport.event_id == row.id)
    ).scalar_one()


def test_dry_runs_of_new_items_write_nothing_and_the_real_events_do_what_they_said(
    session, sandbox, cipher, deps, client_id
):
    # Given a consenting researcher
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    events = [
        ("affiliation.published", affiliation(orcid, "aff-9", kind="membership"), "e-aff"),
        ("funding.published", funding(orcid, item_id="fund-9"), "e-fund"),
        ("review.published", review(orcid, "rev-9", issn="2049-3630"), "e-rev"),
    ]
    before = _footprint(session, sandbox)

    # When each arrives as a dry run
    dry = [_dry(session, *e) for e in events]

    # Then each is processed to the end, and nothing was written: no item, no group id, no
    # message queued, nothing at ORCID (its group-id registry included)
    assert [d.status.value for d in dry] == ["done"] * 3, [d.outcome for d in dry]
    assert all(d.outcome.startswith("dry run, nothing written:") for d in dry)
    assert _footprint(session, sandbox) == before
    reports = [_report(session, d) for d in dry]
    assert [r["item"] for r in reports] == [
        {"kind": "affiliation", "source": SOURCE, "id": "aff-9"},
        {"kind": "funding", "source": SOURCE, "id": "fund-9"},
        {"kind": "review", "source": SOURCE, "id": "rev-9"},
    ]
    assert [r["orcid"] for r in reports] == [
        [{"orcid": orcid, "section": "membership", "action": "add"}],
        [{"orcid": orcid, "section": "funding", "action": "add"}],
        [{"orcid": orcid, "section": "peer-review", "action": "add"}],
    ]
    assert reports[2]["register_group_ids"] == ["issn:2049-3630"]
    assert all(r["written"] is False for r in reports)

    # When the real events follow, with the same ids (the dry runs do not make them reuses)
    real = [_real(session, *e) for e in events]
    assert [r.status.value for r in real] == ["done"] * 3, [r.outcome for r in real]
    place_pending_items(session, deps)

    # Then each item was added once, in the section the report said, and the journal registered
    on_record = _activities(sandbox, orcid).values()
    assert sorted((_item_id(a), a["section"]) for a in on_record) == [
        ("aff-9", "membership"),
        ("fund-9", "funding"),
        ("rev-9", "peer-review"),
    ]
    assert "issn:2049-3630" in _group_ids(sandbox)


def test_dry_runs_of_changes_and_withdrawals_predict_the_update_and_the_removal(
    session, sandbox, cipher, deps, client_id
):
    # Given an affiliation and a funding on the record
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "affiliation.published", affiliation(orcid, version=1))
    receive(session, "funding.published", funding(orcid, version=1))
    place_pending_items(session, deps)
    codes = {_item_id(a): p for p, a in _activities(sandbox, orcid).items()}
    before = _footprint(session, sandbox)

    # When the affiliation's change, the funding's withdrawal and a stale repeat of the
    # funding arrive as dry runs
    changed = affiliation(orcid, version=2, role="Dean")
    dry_change = _dry(session, "affiliation.updated", changed, "e-change")
    dry_same = _dry(session, "funding.updated", funding(orcid, version=1), "e-same")
    dry_withdraw = _dry(session, "funding.withdrawn", {"id": "fund-1", "version": 2}, "e-wd")

    # Then the reports name the update and the removal of those very items, and nothing moved
    assert _footprint(session, sandbox) == before
    assert _report(session, dry_change)["orcid"] == [
        {"orcid": orcid, "section": "employment", "action": "update", "put_code": codes["aff-1"]}
    ]
    assert dry_same.status.value == "stale"
    assert _report(session, dry_same)["status"] == "stale"
    assert _report(session, dry_same)["orcid"] == [
        {"orcid": orcid, "section": "funding", "action": "unchanged"}
    ]
    assert _report(session, dry_withdraw)["orcid"] == [
        {"orcid": orcid, "section": "funding", "action": "remove", "put_code": codes["fund-1"]}
    ]

    # And the real events (same ids, not stale: the dry runs stored no version) do just that
    assert _real(session, "affiliation.updated", changed, "e-change").status.value == "done"
    withdraw = _real(session, "funding.withdrawn", {"id": "fund-1", "version": 2}, "e-wd")
    assert withdraw.status.value == "done", withdraw.outcome
    snapshot = _activities(sandbox, orcid)
    place_pending_items(session, deps)
    assert _diff(snapshot, _activities(sandbox, orcid)) == {
        "add": [],
        "update": ["aff-1"],
        "remove": ["fund-1"],
    }


def test_over_http_a_review_dry_run_registers_no_group_id_and_the_real_one_is_accepted(
    client, session, sandbox, cipher, client_id
):
    # Given a consenting reviewer
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    data = review(orcid, "rev-h", issn="0028-0836")
    registry = _group_ids(sandbox)

    # When the review is sent as a dry run, then for real with the same id
    body = event("review.published", data, event_id="rev-same")
    dry = signed_post(client, {**body, "dryrun": "true"}, secret=INTAKE_SECRET)
    real = signed_post(client, body, secret=INTAKE_SECRET)

    # Then both are accepted, and the dry run's receipt reports the group id it would register
    assert (dry.status_code, real.status_code) == (202, 202), (dry.text, real.text)
    rows = list(
        session.execute(
            select(ReceivedEvent)
            .where(ReceivedEvent.type == "review.published")
            .order_by(ReceivedEvent.id)
        ).scalars()
    )
    assert [r.event_id for r in rows] == [DRYRUN_PREFIX + "rev-same", "rev-same"]
    process_event(session, rows[0].id, CONTEXT[-1])
    receipt = dry.json()["events"][0]["receipt"]
    shown = signed_get(client, f"/events/{receipt}", secret=INTAKE_SECRET).json()
    assert shown["dryrun"]["register_group_ids"] == ["issn:0028-0836"]
    assert shown["dryrun"]["orcid"] == [{"orcid": orcid, "section": "peer-review", "action": "add"}]

    # And nothing was registered or stored by it; the real event then does it
    assert _group_ids(sandbox) == registry
    assert _count(session, OrcidGroupId) == 0
    assert _count(session, OrcidAssertion) == 0
    process_event(session, rows[1].id, CONTEXT[-1])
    assert rows[1].status.value == "done", rows[1].outcome
    assert _count(session, OrcidAssertion) == 1


def test_the_preview_command_shows_each_items_section_and_the_journal_to_register(
    runtime, monkeypatch, session, sandbox, items_in_motion
):
    from click.testing import CliRunner

    from worker.cli import main, orcid_plan

    monkeypatch.setattr(orcid_plan, "boot", lambda: runtime)
    session.flush()
    before = _activities(sandbox, items_in_motion)

    text = CliRunner().invoke(main, ["orcid", "preview", items_in_motion, "--tenant", "cris"])

    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert "affiliations: 1 to add, 1 to update, 1 to remove, 0 unchanged, 0 waiting" in lines
    assert "  add    aff-3: service" in lines
    assert "peer_reviews: 1 to add, 0 to update, 0 to remove, 1 unchanged, 0 waiting" in lines
    assert "  register group id issn:1476-4687 (unless ORCID's registry has it)" in lines
    assert _activities(sandbox, items_in_motion) == before


def test_an_affiliation_moving_section_is_previewed_as_a_removal_and_an_addition(
    session, sandbox, cipher, deps, client_id
):
    # Given an employment on the record, then restated as a service (ORCID has no move)
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    receive(session, "affiliation.published", affiliation(orcid, version=1))
    place_pending_items(session, deps)
    before = _activities(sandbox, orcid)
    (old,) = before
    receive(session, "affiliation.updated", affiliation(orcid, version=2, kind="service"))

    # Then the preview names the old item's removal and the new one's addition, by section
    plan = preview(session, deps, orcid, "cris").sections["affiliations"]
    assert [(c.action, c.item["section"], c.put_code) for c in plan.changes] == [
        ("remove", "employment", old),
        ("add", "service", None),
    ]

    # And the real run does exactly that
    place_pending_items(session, deps)
    after = _activities(sandbox, orcid)
    assert old not in after
    assert [(_item_id(a), a["section"]) for a in after.values()] == [("aff-1", "service")]
