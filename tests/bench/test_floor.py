"""The overhead scenario's floors do the work they stand for: a floor that skipped a step
would flatter pidsync's ratio. Run on the real PostgreSQL and Redis, against the sandbox."""

from __future__ import annotations

import pytest
import sqlalchemy

from worker.bench import floor, overhead
from worker.bench.stack import Stack

pytestmark = pytest.mark.timeout(240)


def _counts(database_url: str) -> dict[str, int]:
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {
                name: int(conn.exec_driver_sql(sql).scalar_one())
                for name, sql in {
                    "handled": "SELECT count(*) FROM bench_design_inbox WHERE status = 'done'",
                    "works": "SELECT count(*) FROM bench_design_work",
                    "done": floor.DESIGN_DONE,
                    "effects": "SELECT count(*) FROM bench_design_effect",
                    "tried_once": "SELECT count(*) FROM bench_design_effect WHERE attempts = 1",
                    "calls": "SELECT count(*) FROM bench_design_call WHERE status = 200",
                    "notes": "SELECT count(*) FROM bench_design_note",
                    "bare": floor.COUNT,
                }.items()
            }
    finally:
        engine.dispose()


def test_each_floor_does_every_step_it_stands_for():
    events = 3
    with Stack("floor") as stack:
        sandbox = stack.sandbox()
        http_url = sandbox.info["control_url"] + "/limits"
        # The design floor: 3 measured events and the warm-up's, 4 effects each
        design = overhead._floor(stack, events, http_url, design=True)
        counts = _counts(stack.database_url)
        # Then every event was handled once, its work stored, and every effect (a DOI and
        # three placements) tried once, its call recorded, its outcome and notice written
        assert counts["handled"] == counts["works"] == events + 1
        expected = (events + 1) * floor.EFFECTS_PER_EVENT
        assert counts["effects"] == counts["done"] == counts["tried_once"] == expected
        assert counts["calls"] == counts["notes"] == expected
        # The bare floor: one committed row per message (4 per event) and its call
        bare = overhead._floor(stack, events, http_url)
        assert _counts(stack.database_url)["bare"] == events * floor.EFFECTS_PER_EVENT + 1
    assert design > 0
    assert bare > 0
