"""Two versions of one family processed at the same moment by two workers stay one family and
one ORCID work: the family assignment is serialised per client, the placements per researcher.
Versions chained only by IsNewVersionOf (no concept DOI), so the family exists only once both
are seen together."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select, text

from tests.conftest import INTAKE_SECRET, make_runtime
from tests.helpers import process_event, work
from tests.orcid.conftest import orcid_settings
from tests.orcid.helpers import record_works
from tests.orcid.test_grant_race import _inbox, _together
from worker.config import Settings
from worker.models import OrcidPlacement, PlacementState, Work
from worker.orcid import placements
from worker.orcid.deps import build
from worker.orcid.grants import seal_token_response

RUNS = 10


@pytest.fixture
def settings(sandbox: Any, tmp_path: Any) -> Settings:
    client = {"id": "cris", "secrets": [INTAKE_SECRET], "sources": ["*"]}
    return orcid_settings(
        sandbox, tmp_path, intake_clients={"cris": {**client, "orcid_versions": "latest"}}
    )


@pytest.fixture
def live(settings, committed_database, broker, database_url, redis_url, cipher):
    return make_runtime(settings, committed_database, broker, cipher, database_url, redis_url)


def _version(run: int, n: int, orcid: str) -> dict[str, Any]:
    related = []
    if n > 1:
        related.append(
            {
                "identifier": f"10.5072/race-{run}.{n - 1}",
                "identifier_type": "DOI",
                "relation_type": "IsNewVersionOf",
            }
        )
    return work(
        f"race-{run}-v{n}",
        doi=f"10.5072/race-{run}.{n}",
        title=f"Race {run} version {n}",
        publication_date=f"2024-0{n}-01",
        related_identifiers=related,
        contributors=[{"given": "Ada", "family": "Lovelace", "orcid": orcid}],
    )


def test_two_versions_at_once_stay_one_family_and_one_work(
    live, committed_database, sandbox, cipher, client_id, redis_client
):
    database = committed_database
    deps = build(live.settings, cipher, redis_client)
    for run in range(RUNS):
        # Given a consenting researcher and version 1 stored
        orcid = sandbox.add_researcher(given_names="Ada", family_name=f"Lovelace {run}")
        token = sandbox.issue_token(orcid, client_id, "")
        sealed = seal_token_response(cipher, token, client_id)
        for event_type, data, key in (
            ("researcher.authorized", sealed, f"grant-{run}"),
            ("work.published", _version(run, 1, orcid), f"race-{run}-v1"),
        ):
            with database.session() as session:
                process_event(session, _inbox(database, event_type, data, key))

        # When versions 2 and 3 reach two workers at the same moment
        events = [
            _inbox(database, "work.published", _version(run, n, orcid), f"race-{run}-v{n}")
            for n in (2, 3)
        ]
        outcomes = _together(database, events)
        assert all(o.startswith("done") for o in outcomes), outcomes

        # Then the three versions are one family, with one placement carrying it
        with database.session() as session:
            works = session.execute(
                select(Work).where(Work.external_id.like(f"race-{run}-v%"))
            ).scalars()
            assert len({w.family for w in works}) == 1
            rows = list(
                session.execute(
                    select(OrcidPlacement).where(OrcidPlacement.orcid == orcid)
                ).scalars()
            )
            carriers = [r for r in rows if r.state != PlacementState.FOLDED]
            assert len(carriers) == 1, [(r.work_id, r.state) for r in rows]
            pending = [r.id for r in rows if r.state == PlacementState.PENDING]
        for placement_id in pending:
            with database.session() as session:
                placements.place(session, deps, placement_id)

        # And the record holds one work: the newest version
        (on_record,) = record_works(sandbox, orcid)
        assert on_record["title"] == f"Race {run} version 3"


def test_a_version_waits_while_another_of_its_family_is_being_assigned(committed_database, sandbox):
    """The deterministic interleaving: version 2 assigned and not committed; version 3
    (linking only version 2) must wait for it, then join the same family. Without the wait it
    would see no version 2 and start a family of its own."""
    from tests.helpers import SOURCE
    from worker.works.service import apply_work

    database = committed_database
    orcid = sandbox.add_researcher(given_names="Ada", family_name="Lovelace")
    with database.session() as session:
        apply_work(session, SOURCE, _version(99, 1, orcid), client_id="cris")
    found: dict[str, Any] = {}
    with database.session() as first:
        apply_work(first, SOURCE, _version(99, 2, orcid), client_id="cris")
        pid = first.execute(text("SELECT pg_backend_pid()")).scalar_one()

        def second() -> None:
            with database.session() as session:
                applied = apply_work(session, SOURCE, _version(99, 3, orcid), client_id="cris")
                found["family"] = applied.work.family if applied.work else None

        thread = threading.Thread(target=second)
        thread.start()
        # The second worker is seen waiting on the first's lock (polled, not timed: the loop
        # ends as soon as Postgres reports it, and fails the test after 10 s if it never does)
        waiting = False
        for _ in range(200):
            with database.engine.connect() as probe:
                waiting = bool(
                    probe.execute(
                        text(
                            "SELECT count(*) FROM pg_locks l JOIN pg_locks h"
                            " ON h.objid = l.objid AND h.locktype = 'advisory' AND h.granted"
                            " WHERE l.locktype = 'advisory' AND NOT l.granted AND h.pid = :pid"
                        ),
                        {"pid": pid},
                    ).scalar_one()
                )
            if waiting:
                break
            threading.Event().wait(0.05)
        assert waiting, "version 3 did not wait for version 2's family assignment"
        assert thread.is_alive()
    thread.join(timeout=10)
    with database.session() as session:
        families = set(
            session.execute(
                select(Work.family).where(Work.external_id.like("race-99-v%"))
            ).scalars()
        )
    assert families == {found["family"]} == {"doi:10.5072/race-99.1"}
