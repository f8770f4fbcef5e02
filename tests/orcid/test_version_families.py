"""One ORCID work per version family (orcid_versions latest/concept): counted at the sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import INTAKE_SECRET
from tests.orcid import helpers
from tests.orcid.conftest import orcid_settings
from tests.orcid.helpers import (
    authorize,
    place_pending,
    placement,
    publish,
    record_works,
    researcher,
)
from worker.events.service import Context
from worker.models import PlacementState
from worker.orcid import versions
from worker.orcid.deps import build

CONCEPT = "10.5072/zenodo.100"


@pytest.fixture
def use_mode(sandbox, tmp_path, cipher, redis_client) -> Iterator[Callable[[str], Any]]:
    """Configure the intake client's orcid_versions (as a restart with new settings would):
    events are processed, and placements made, with these settings from then on."""
    depth = len(helpers.CONTEXT)

    def configure(mode: str) -> Any:
        client = {"id": "cris", "secrets": [INTAKE_SECRET], "sources": ["*"]}
        settings = orcid_settings(
            sandbox, tmp_path, intake_clients={"cris": {**client, "orcid_versions": mode}}
        )
        deps = build(settings, cipher, redis_client)
        helpers.CONTEXT.append(Context(settings, orcid=deps))
        return deps

    yield configure
    del helpers.CONTEXT[depth:]


def version(session, n: int, orcid: str, **fields: Any):
    """Version ``n`` of a Zenodo-style dataset: its own DOI, IsVersionOf the concept DOI."""
    related = [{"identifier": CONCEPT, "identifier_type": "DOI", "relation_type": "IsVersionOf"}]
    return publish(
        session,
        f"ds-v{n}",
        orcid,
        doi=f"10.5072/zenodo.10{n}",
        title=f"Ocean temperatures, version {n}",
        publication_date=f"2024-0{n}-01",
        related_identifiers=related,
        **fields,
    )


def _ids(work: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(e["type"], e["relationship"], e["value"]) for e in work["external_ids"]}


@pytest.mark.parametrize("order", [(1, 2, 3), (3, 1, 2), (2, 3, 1)])
def test_a_family_stays_one_work_through_three_versions(
    session, sandbox, cipher, use_mode, client_id, order
):
    # Given a researcher who authorised us and a client with orcid_versions=latest
    deps = use_mode("latest")
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)

    # When three versions of one dataset arrive (in the given order), each placed at once
    put_codes = set()
    for n in order:
        version(session, n, orcid)
        place_pending(session, deps)
        works = record_works(sandbox, orcid)
        # Then the record never holds more than one work for the family
        assert len(works) == 1
        put_codes.add(works[0]["put_code"])

    # And it is the same ORCID work throughout (updated in place), now the newest version
    assert len(put_codes) == 1
    (work,) = record_works(sandbox, orcid)
    assert work["title"] == "Ocean temperatures, version 3"
    ids = _ids(work)
    assert ("doi", "self", "10.5072/zenodo.103") in ids
    assert ("doi", "self", CONCEPT) in ids
    assert {
        ("doi", "version-of", "10.5072/zenodo.101"),
        ("doi", "version-of", "10.5072/zenodo.102"),
    } <= ids
    assert not any(rel == "self" and value.endswith(":ds-v3") for _, rel, value in ids)


def test_concept_mode_places_one_work_carrying_the_concept_doi(
    session, sandbox, cipher, use_mode, client_id
):
    deps = use_mode("concept")
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    for n in (1, 2):
        version(session, n, orcid)
        place_pending(session, deps)

    (work,) = record_works(sandbox, orcid)
    dois = {value for kind, _, value in _ids(work) if kind == "doi"}
    assert dois == {CONCEPT}
    assert work["title"] == "Ocean temperatures, version 2"


def test_switching_each_latest_each_converges_without_duplicates(
    session, sandbox, cipher, use_mode, client_id
):
    # Given three versions placed one work each (orcid_versions=each, today's behaviour)
    deps = use_mode("each")
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    rows = [version(session, n, orcid) for n in (1, 2, 3)]
    place_pending(session, deps)
    assert len(record_works(sandbox, orcid)) == 3
    newest_code = placement(session, rows[2], orcid).put_code

    # When the client switches to latest and the records are converged
    deps = use_mode("latest")
    versions.converge(session, deps.settings, "cris")
    place_pending(session, deps)

    # Then one work remains: the newest version's, updated in place
    (work,) = record_works(sandbox, orcid)
    assert work["put_code"] == newest_code
    assert ("doi", "self", CONCEPT) in _ids(work)
    states = [placement(session, row, orcid).state for row in rows]
    assert states == [PlacementState.FOLDED, PlacementState.FOLDED, PlacementState.PLACED]

    # When it switches back to each
    deps = use_mode("each")
    versions.converge(session, deps.settings, "cris")
    place_pending(session, deps)

    # Then each version is its own work again, the newest keeping its put-code, none twice
    works = record_works(sandbox, orcid)
    assert len(works) == 3
    assert newest_code in {w["put_code"] for w in works}
    titles = sorted(w["title"] for w in works)
    assert titles == [f"Ocean temperatures, version {n}" for n in (1, 2, 3)]
    assert all(("doi", "self", CONCEPT) not in _ids(w) for w in works)


def test_a_chain_without_concept_is_one_family_whatever_the_order(
    session, sandbox, cipher, use_mode, client_id
):
    # Given versions linked only by IsNewVersionOf / IsPreviousVersionOf, no concept DOI,
    # and publication dates that would order them wrongly (the links win)
    deps = use_mode("latest")
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)

    def chained(n: int) -> None:
        related = []
        if n > 1:
            related.append(_rel(f"10.5072/chain.{n - 1}", "IsNewVersionOf"))
        if n < 3:
            related.append(_rel(f"10.5072/chain.{n + 1}", "IsPreviousVersionOf"))
        publish(
            session,
            f"chain-{n}",
            orcid,
            doi=f"10.5072/chain.{n}",
            title=f"Chain {n}",
            publication_date="2024-01-01" if n == 3 else "2024-06-01",
            related_identifiers=related,
        )

    # When the last arrives first, then the first, then the middle one (which joins them)
    for n in (3, 1, 2):
        chained(n)
        place_pending(session, deps)

    # Then one work, the third version's, with the two others as version-of
    (work,) = record_works(sandbox, orcid)
    assert work["title"] == "Chain 3"
    assert {v for _, rel, v in _ids(work) if rel == "version-of"} == {
        "10.5072/chain.1",
        "10.5072/chain.2",
    }


def _rel(doi: str, relation: str) -> dict[str, str]:
    return {"identifier": doi, "identifier_type": "DOI", "relation_type": relation}


def test_withdrawing_the_newest_version_moves_the_work_back_in_place(
    session, sandbox, cipher, use_mode, client_id
):
    deps = use_mode("latest")
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    for n in (1, 2):
        version(session, n, orcid)
        place_pending(session, deps)
    (before,) = record_works(sandbox, orcid)

    # When version 2 is withdrawn
    helpers.receive(session, "work.withdrawn", {"id": "ds-v2"})
    place_pending(session, deps)

    # Then the family's work stays (same put-code), showing version 1 again
    (after,) = record_works(sandbox, orcid)
    assert after["put_code"] == before["put_code"]
    assert after["title"] == "Ocean temperatures, version 1"
    assert ("doi", "self", "10.5072/zenodo.102") not in _ids(after)


def test_another_tenants_version_never_joins_the_family(
    session, sandbox, cipher, use_mode, client_id
):
    # Given the same concept DOI named by a work of another intake client
    deps = use_mode("latest")
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    mine = version(session, 1, orcid)
    from worker.models import Work
    from worker.works import family

    other = Work(
        source="https://other.example",
        external_id="x",
        type="dataset",
        title="Not yours",
        work_metadata={**mine.work_metadata, "id": "x", "doi": "10.5072/other.1"},
        metadata_hash="x",
        client_id="other",
    )
    session.add(other)
    session.flush()
    family.assign(session, other)

    # Then each stays in its own owner's family
    assert other.family is not None
    assert [w.id for w in family.members(session, mine)] == [mine.id]
    place_pending(session, deps)
    assert len(record_works(sandbox, orcid)) == 1


def test_the_preview_of_a_switch_is_what_converging_then_does(
    session, sandbox, cipher, use_mode, client_id
):
    from worker.orcid.preview import preview

    # Given three versions placed one work each
    deps = use_mode("each")
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    for n in (1, 2, 3):
        version(session, n, orcid)
    place_pending(session, deps)
    before = {w["put_code"]: w for w in record_works(sandbox, orcid)}

    # When the client switches to latest, the preview (before converging) says
    deps = use_mode("latest")
    plan = preview(session, deps, orcid, "cris").sections["works"]
    assert {(c.action, c.item["id"]) for c in plan.changes} == {
        ("update", "ds-v3"),
        ("remove", "ds-v1"),
        ("remove", "ds-v2"),
    }
    assert {w["put_code"] for w in record_works(sandbox, orcid)} == before.keys()

    # Then converging and placing does exactly that
    versions.converge(session, deps.settings, "cris")
    place_pending(session, deps)
    (after,) = record_works(sandbox, orcid)
    removed = before.keys() - {after["put_code"]}
    assert {c.put_code for c in plan.changes if c.action == "remove"} == removed
    assert [c.put_code for c in plan.changes if c.action == "update"] == [after["put_code"]]
    assert after["modified_ms"] != before[after["put_code"]]["modified_ms"]


def test_versions_published_before_consent_reach_the_record_as_one_work(
    session, sandbox, cipher, use_mode, client_id
):
    from worker.orcid import backfill

    # Given three versions naming a researcher who has not consented yet
    deps = use_mode("latest")
    orcid = researcher(sandbox)
    rows = [version(session, n, orcid) for n in (1, 2, 3)]
    states = [placement(session, row, orcid).state for row in rows]
    assert states == [PlacementState.FOLDED, PlacementState.FOLDED, PlacementState.AWAITING_CONSENT]

    # When the researcher's grant arrives and the bulk backfill runs
    grant, _ = authorize(session, sandbox, cipher, orcid, client_id)
    backfill.backfill(session, deps, grant.id)
    place_pending(session, deps)

    # Then the family is one work on the record, the newest version
    (work,) = record_works(sandbox, orcid)
    assert work["title"] == "Ocean temperatures, version 3"


def test_a_dry_run_of_a_new_version_predicts_the_move_and_moves_nothing(
    session, sandbox, cipher, use_mode, client_id
):
    from sqlalchemy import select

    from tests.helpers import SOURCE
    from worker.events.intake import DRYRUN_PREFIX
    from worker.models import DryRunReport, ReceivedEvent

    # Given version 1 placed as the family's work (latest)
    deps = use_mode("latest")
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    v1 = version(session, 1, orcid)
    place_pending(session, deps)
    (before,) = record_works(sandbox, orcid)
    data = dict(v1.work_metadata)
    data.update(id="ds-v2", doi="10.5072/zenodo.102", title="Ocean temperatures, version 2")
    data["publication_date"] = "2024-02-01"

    # When version 2 arrives as a dry run
    dry = ReceivedEvent(
        source=SOURCE,
        event_id=DRYRUN_PREFIX + "v2",
        type="work.published",
        client_id="cris",
        correlation_id="corr-dry-v2",
        data=data,
        options={"dryrun": True},
    )
    session.add(dry)
    session.flush()
    helpers.process_event(session, dry.id, helpers.CONTEXT[-1])

    # Then it predicts the family's work moving to version 2 (updated in place) ...
    report = session.execute(
        select(DryRunReport.report).where(DryRunReport.event_id == dry.id)
    ).scalar_one()
    by_work = {(e.get("work") or {}).get("id", "ds-v2"): e for e in report["orcid"]}
    assert by_work["ds-v2"]["action"] == "update"
    assert by_work["ds-v2"]["put_code"] == before["put_code"]
    assert by_work["ds-v1"]["state"] == "folded"
    # ... and moved nothing: version 1 still carries it, the record is as it was
    row = placement(session, v1, orcid)
    assert (row.state, row.put_code) == (PlacementState.PLACED, before["put_code"])
    assert record_works(sandbox, orcid) == [before]

    # When the real version 2 follows, it does what the dry run said
    helpers.receive(session, "work.published", data)
    results = place_pending(session, deps)
    assert [r.note for r in results] == [f"updated (put-code {before['put_code']})"]
    (after,) = record_works(sandbox, orcid)
    assert after["title"] == "Ocean temperatures, version 2"


def test_the_converge_command(session, sandbox, cipher, use_mode, client_id, runtime, monkeypatch):
    import json

    from click.testing import CliRunner

    from worker.cli import main, orcid_plan

    monkeypatch.setattr(orcid_plan, "boot", lambda: runtime)
    deps = use_mode("each")
    orcid = researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    for n in (1, 2):
        version(session, n, orcid)
    place_pending(session, deps)
    session.flush()

    done = CliRunner().invoke(main, ["orcid", "versions", "converge", "--tenant", "cris"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["families"] == 1
    bad = CliRunner().invoke(main, ["orcid", "versions", "converge", "--tenant", "nobody"])
    assert bad.exit_code == 2 and "--tenant" in bad.stderr
