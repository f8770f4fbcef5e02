"""The ORCID state machine with a DOI of ours behind each work: DataCite registers it (the
sync messages delivered, redelivered, lost, crashed after DataCite answered, run twice at
once; DataCite answering 2xx, 401, 404, 409, 422, 5xx or losing its answer), and ORCID gets the
DOI only once DataCite confirmed it (the DOI gate), the researcher's grant arriving before,
while or after the DOI settles.

Invariants, after every step: one DOI per work at DataCite; every DOI on the researcher's
ORCID record is held (findable or registered) at DataCite; and the ORCID machine's. Once
settled: each registration says what DataCite holds (state, our title, the hash of what it
confirmed), and a placed work carries the DOI exactly when it is confirmed.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from tests.model.conftest import EXAMPLES, World
from tests.model.test_orcid_model import EXAMPLES as ORCID_EXAMPLES
from tests.model.test_orcid_model import OrcidMachine
from tests.registrars.flow import datacite_work
from worker.models import DoiRegistration, DoiState, OrcidPlacement, PlacementState, Work
from worker.registrars import sweep as registrars_sweep
from worker.registrars.datacite import service as datacite

#: The rest of the examples (see the ORCID machine's share).
EXAMPLES = max(1, EXAMPLES - ORCID_EXAMPLES)
STEPS = 8
#: DataCite's answer to the next PUT of a DOI, scripted (without effect) or lost.
ANSWERS = {
    "500": {"answer": 500},
    "503": {"answer": 503},
    "lost": {"answer": "lost"},
    "401": {"answer": 401, "body": {"errors": [{"status": "401", "title": "Bad credentials"}]}},
    "404": {"answer": 404, "body": {"errors": [{"status": "404", "title": "Not found"}]}},
    "409": {"answer": 409, "body": {"errors": [{"status": "409", "title": "Conflict"}]}},
    "422": {
        "answer": 422,
        "body": {"errors": [{"status": "422", "source": "titles", "title": "is invalid"}]},
    },
}
HELD = ("findable", "registered")
LANDING = "https://repo.example.edu/"


class DoiMachine(OrcidMachine):
    def work_data(
        self, key: str, version: int, title: str, contributor: dict[str, str]
    ) -> dict[str, Any]:
        return datacite_work(key, version=version, title=title, contributors=[contributor])

    @rule(answer=st.sampled_from(sorted(ANSWERS)))
    def at_datacite(self, answer: str) -> None:
        """DataCite's answer to the next PUT is this one (instead of one scripted before)."""
        entry = {**ANSWERS[answer], "method": "PUT", "path": "/dois/"}
        self.world.sandbox.set_faults("datacite", script=[entry])
        self.world.count(f"DataCite: {answer}")

    def _datacite(self) -> dict[str, dict[str, Any]]:
        return {d["doi"]: d for d in self.world.sandbox.state()["datacite"]["dois"]}

    @invariant()
    def one_doi_per_work_and_only_held_dois_on_orcid(self) -> None:
        dois = self._datacite()
        urls = [d["url"] for d in dois.values() if str(d["url"]).startswith(LANDING)]
        assert len(urls) == len(set(urls)), urls
        for work in self._record():
            for ext in work["external_ids"]:
                if ext["type"] == "doi":
                    held = dois.get(ext["value"].upper()) or dois.get(ext["value"])
                    assert held is not None and held["state"] in HELD, (ext, held)

    def step_invariants(self) -> None:
        super().step_invariants()
        self.one_doi_per_work_and_only_held_dois_on_orcid()

    def sweep_more(self) -> int:
        world = self.world
        moved = registrars_sweep.resend_stalled(world.database, settings=world.settings)
        return moved + registrars_sweep.schedule_reconciliation(
            world.database, settings=world.settings
        )

    def _local(self) -> list[tuple[Any, ...]]:
        with self.world.database.session() as session:
            regs = session.execute(select(DoiRegistration).order_by(DoiRegistration.id)).scalars()
            mine = [(r.id, r.state, r.pending_hash, r.confirmed_hash) for r in regs]
        return [*super()._local(), *mine]

    def teardown(self) -> None:
        try:
            self.world.sandbox.set_faults("datacite", script=[])
            super().teardown()
            self._doi_converged()
        finally:
            self.world.sandbox.set_faults("datacite", script=[])

    def _doi_converged(self) -> None:
        dois = self._datacite()
        record = {w["put_code"]: w for w in self._record()}
        with self.world.database.session() as session:
            for reg in session.execute(select(DoiRegistration)).scalars():
                work = session.get_one(Work, reg.work_id)
                held = dois.get(reg.doi)
                where = (reg.doi, reg.state, reg.last_error, held and held["state"])
                if reg.state in (DoiState.FINDABLE, DoiState.REGISTERED):
                    assert held is not None, where
                    assert held["state"] == reg.state.value, where
                    assert held["metadata"]["titles"][0]["title"] == work.work_metadata["title"], (
                        where
                    )
                    want = datacite.desired(work, reg.doi, reg.target_state)
                    assert reg.confirmed_hash == want.hash and reg.pending_hash is None, where
                elif reg.state == DoiState.WITHDRAWN:
                    assert held is None or held["state"] != "findable", where
                else:  # refused for good: a person acts; nothing half-sent is left pending
                    assert reg.state == DoiState.FAILED, where
                    assert reg.next_attempt_at is None, where
            for row in session.execute(select(OrcidPlacement)).scalars():
                if row.state != PlacementState.PLACED:
                    continue
                reg = session.execute(
                    select(DoiRegistration).where(DoiRegistration.work_id == row.work_id)
                ).scalar_one()
                carried = {
                    e["value"] for e in record[row.put_code]["external_ids"] if e["type"] == "doi"
                }
                confirmed = reg.registered_at is not None and reg.state != DoiState.WITHDRAWN
                assert carried == ({reg.doi} if confirmed else set()), (reg.state, carried)


def test_doi_gate_model(world: World) -> None:
    DoiMachine.world = world
    run_state_machine_as_test(
        DoiMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
    print("\nDOI model steps:", dict(sorted(world.counts.items())))
