"""The other sections' actor. Thin: an id in, one unit of work, one service call."""

from __future__ import annotations

from worker.bootstrap import runtime
from worker.broker import actor, later
from worker.orcid.sections import placement

#: Milliseconds one message may run: a group-id registration, then a wait for the record lock.
TIME_LIMIT = 300_000


@actor("orcid.place_item", time_limit=TIME_LIMIT)
def place_item(item_id: int) -> None:
    rt = runtime()
    with rt.session() as session:
        result = placement.place(session, rt.orcid, item_id)
    later(result.delay, result.note)
