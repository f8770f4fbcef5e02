"""A dry run and the real event of the same new peer review, processed at the same moment by
two workers (one connection each, committed): the real one stores the review once, its
placement registers the journal's group id once and places the review once; the dry run
leaves nothing behind and never registers anything, whichever ran first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from tests.helpers import SOURCE, at_once, process_event
from tests.orcid.sections_helpers import review
from tests.orcid.sections_helpers import settings as settings  # noqa: PLC0414 - the fixture
from worker.events.intake import DRYRUN_PREFIX
from worker.models import (
    DryRunReport,
    OrcidAssertion,
    OrcidGroupId,
    OrcidItem,
    PlacementState,
    ReceivedEvent,
)
from worker.orcid.grants import seal_token_response
from worker.orcid.sections import placement

RUNS = 5


def _inbox(database, event_type: str, data: dict[str, Any], event_id: str, *, dry: bool) -> int:
    with database.session() as session:
        row = ReceivedEvent(
            source=SOURCE,
            event_id=DRYRUN_PREFIX + event_id if dry else event_id,
            type=event_type,
            client_id="cris",
            correlation_id=f"corr-{event_id}",
            data=data,
            options={"dryrun": True} if dry else {},
        )
        session.add(row)
        session.flush()
        return row.id


def test_a_dry_run_racing_the_real_review_leaves_one_review_and_one_registration(
    committed_database, committed_deps, sandbox, cipher, client_id
):
    database = committed_database
    for run in range(RUNS):
        # Given a consenting reviewer, and a journal nobody has registered
        orcid = sandbox.add_researcher(given_names="Ada", family_name=f"Reviewer {run}")
        token = sandbox.issue_token(orcid, client_id, "")
        sealed = seal_token_response(cipher, token, client_id)
        grant = _inbox(database, "researcher.authorized", sealed, f"grant-{run}", dry=False)
        with database.session() as session:
            outcome = process_event(session, grant, _context(committed_deps))
        assert outcome.status.value == "done", outcome.message
        data = review(orcid, f"rev-{run}", issn=_issn(run))
        registry = len(sandbox.state()["orcid"]["group_ids"])

        # When the dry run and the real event (same id) reach two workers at the same moment
        events = [
            _inbox(database, "review.published", data, f"race-{run}", dry=True),
            _inbox(database, "review.published", data, f"race-{run}", dry=False),
        ]
        outcomes = _together(database, events, _context(committed_deps))

        # Then both are done, the dry run reports the add, and only the real one stored it
        assert outcomes[0].startswith("done: dry run, nothing written"), outcomes
        assert outcomes[1].startswith("done: review stored"), outcomes
        with database.session() as session:
            report = session.execute(
                select(DryRunReport.report).where(DryRunReport.event_id == events[0])
            ).scalar_one()
            assert [r["action"] for r in report["orcid"]] == ["add"], report
            count = session.execute(
                select(func.count())
                .select_from(OrcidAssertion)
                .where(OrcidAssertion.external_id == f"rev-{run}")
            ).scalar_one()
            assert count == 1
            pending = list(
                session.execute(
                    select(OrcidItem.id).where(
                        OrcidItem.orcid == orcid, OrcidItem.state == PlacementState.PENDING
                    )
                ).scalars()
            )
        assert len(pending) == 1
        assert len(sandbox.state()["orcid"]["group_ids"]) == registry  # nothing registered yet

        # And the real placement registers the journal once and places the review once
        with database.session() as session:
            placement.place(session, committed_deps, pending[0])
        found = sandbox.state()
        assert len(found["orcid"]["group_ids"]) == registry + 1
        reviews = [
            a
            for a in found["orcid"]["records"][orcid]["activities"]
            if a["section"] == "peer-review"
        ]
        assert len(reviews) == 1
        with database.session() as session:
            assert session.execute(select(func.count()).select_from(OrcidGroupId)).scalar_one() == (
                run + 1
            )


def _together(database, event_ids: list[int], ctx) -> list[str]:
    """Process the events at the same moment, one thread (and connection) each, with these
    settings (the tenant's organisation renders the review); their outcomes, in order."""

    def process(session, event_id: int) -> str:
        outcome = process_event(session, event_id, ctx)
        return f"{outcome.status.value}: {outcome.message}"

    return at_once(database, [lambda s, e=e: process(s, e) for e in event_ids])


def _issn(run: int) -> str:
    """A valid ISSN per run (the check digit computed), so each run's journal is new."""
    digits = [1, 2, 3, 4, 5, 6, run % 10]
    total = sum(d * w for d, w in zip(digits, range(8, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    tail = "X" if check == 10 else str(check)
    return f"{''.join(map(str, digits[:4]))}-{''.join(map(str, digits[4:]))}{tail}"


def _context(deps):
    from worker.events.service import Context

    return Context(deps.settings, orcid=deps)
