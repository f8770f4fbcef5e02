"""A work its own transaction inserted is known to have no registration or placements until
that transaction writes one: the lookups skip their query then, and only then (issue 13).
On the real PostgreSQL, with transactions that really commit."""

from __future__ import annotations

from sqlalchemy import select

from tests.registrars.flow import datacite_work
from worker.db import none_names_new_work
from worker.models import DoiRegistration, DoiState, OrcidPlacement, Registrar, Work
from worker.orcid.repository import placements_of_work
from worker.registrars.repository import registration_of
from worker.works.service import apply_work


def _registration(work: Work) -> DoiRegistration:
    return DoiRegistration(
        work_id=work.id,
        registrar=Registrar.DATACITE,
        account="default",
        doi=f"10.5072/new-{work.id}",
        minted=True,
        state=DoiState.RESERVED,
        attempts=0,
        retry_count=0,
    )


def test_a_new_works_rows_are_found_once_its_transaction_adds_them(committed_database):
    with committed_database.session() as session:
        # Given a work this transaction inserted
        work = apply_work(session, "repo", datacite_work("w-new")).work
        assert work is not None
        assert none_names_new_work(session, DoiRegistration, work.id)
        assert registration_of(session, work) is None
        # When it adds a registration, not yet flushed
        reg = _registration(work)
        session.add(reg)
        # Then the registration is found (written first, as a query's autoflush would)
        assert not none_names_new_work(session, DoiRegistration, work.id)
        assert registration_of(session, work) is reg
        # while the placements, of which none was written, are still known to be none
        assert none_names_new_work(session, OrcidPlacement, work.id)
        assert placements_of_work(session, work.id) == []

    with committed_database.session() as session:
        # And once committed, every lookup asks the database: other transactions see the work
        stored = session.execute(select(Work).where(Work.external_id == "w-new")).scalar_one()
        assert not none_names_new_work(session, DoiRegistration, stored.id)
        assert registration_of(session, stored).doi == f"10.5072/new-{stored.id}"


def test_a_work_that_already_existed_is_never_taken_for_new(committed_database):
    with committed_database.session() as session:
        first = apply_work(session, "repo", datacite_work("w-old")).work
        assert first is not None
        session.add(_registration(first))
    with committed_database.session() as session:
        # When another event of the same work arrives (the INSERT meets the existing row)
        again = apply_work(session, "repo", datacite_work("w-old", title="Changed")).work
        assert again is not None
        # Then its registration is read from the database, not assumed absent
        assert not none_names_new_work(session, DoiRegistration, again.id)
        assert registration_of(session, again) is not None


def test_a_rolled_back_transaction_forgets_its_new_works(committed_database):
    with committed_database.session() as session:
        work = apply_work(session, "repo", datacite_work("w-gone")).work
        assert work is not None
        work_id = work.id
        session.rollback()
        # Then nothing is assumed about that id any more
        assert not none_names_new_work(session, DoiRegistration, work_id)
        assert not none_names_new_work(session, OrcidPlacement, work_id)
