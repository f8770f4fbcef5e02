"""Reconciliation of a record's affiliations, fundings and peer reviews, as part of the
record's reconciliation (:mod:`worker.orcid.reconcile`), with the same grant's token.

For each section this client has items in, the section is read once: a placed item that is
gone → ``removed_by_researcher`` (respected; reported); a write whose answer was lost → our
item found by its ``source-work-id`` and adopted, then queued to be written as it should be.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from worker.models import OrcidItem, PlacementState
from worker.notify import types as webhook
from worker.orcid.sections import client as api
from worker.orcid.sections import repository
from worker.orcid.sections.kinds import source_key
from worker.orcid.sections.placement import tell
from worker.orcid.sections.service import queue_item

if TYPE_CHECKING:
    from worker.orcid.client import MemberClient


def _ref(row: OrcidItem) -> dict[str, Any]:
    return {
        "kind": row.assertion.kind.value,
        "source": row.assertion.source,
        "id": row.assertion.external_id,
        "section": row.section,
        "put_code": row.put_code,
    }


def reconcile_items(
    session: Session,
    member: MemberClient,
    token: str,
    orcid: str,
    client_id: str,
    report: dict[str, Any],
) -> None:
    """Check this client's items on ``orcid`` against what ORCID holds (raises what the reads
    raise: the caller treats them as for works)."""
    rows = repository.items_to_reconcile(session, orcid, client_id)
    by_section: dict[str, list[OrcidItem]] = {}
    for row in rows:
        by_section.setdefault(row.section, []).append(row)
    for section, section_rows in by_section.items():
        summaries = [
            s
            for s in api.summaries(member, orcid, token, section)
            if s.source_client_id == client_id
        ]
        held = {s.put_code for s in summaries}
        for row in section_rows:
            if row.state == PlacementState.PLACED and row.put_code is not None:
                if row.put_code in held:
                    continue
                report["removed_by_researcher"].append(_ref(row))
                row.state = PlacementState.REMOVED_BY_RESEARCHER
                row.last_error = "the researcher removed this item from their record"
                tell(session, row, webhook.ORCID_REMOVED_BY_RESEARCHER, {})
                continue
            if row.put_code is None and row.in_doubt:
                wanted = source_key(row.assertion.source, row.assertion.external_id)
                found = next((s for s in summaries if s.self_ids & wanted), None)
                row.in_doubt = found is None
                if found is not None:
                    row.put_code = found.put_code
                    report["adopted"].append(_ref(row))
                queue_item(session, row)
