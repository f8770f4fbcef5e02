"""Builders for the affiliation, funding and peer review tests: events in, items placed through
the service (what the ``orcid.place_item`` actor calls), the sandbox asked what the record
holds."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import INTAKE_SECRET
from tests.helpers import SOURCE
from tests.orcid.conftest import orcid_settings
from worker.config import Settings
from worker.models import OrcidAssertion, OrcidItem, OrcidItemKind, PlacementState
from worker.orcid.result import Result
from worker.orcid.sections import placement

HOME = {
    "name": "Example University",
    "city": "Auckland",
    "country": "NZ",
    "ror": "https://ror.org/03b94tp07",
}
OTHER_ORG = {"name": "Elsewhere", "city": "Paris", "country": "FR", "ror": "02feahw73"}


def sections_settings(sandbox: Any, tmp_path: Any, **overrides: Any) -> Settings:
    """The ORCID tests' settings with two tenants: ``cris`` (its organisation configured) and
    ``other`` (a second institution with its own)."""
    clients = [
        {"id": "cris", "secrets": [INTAKE_SECRET], "sources": [SOURCE], "organization": HOME},
        {
            "id": "other",
            "secrets": ["other-secret"],
            "sources": ["https://other.example/*"],
            "organization": {**OTHER_ORG},
        },
    ]
    return orcid_settings(sandbox, tmp_path, intake_clients=clients, **overrides)


@pytest.fixture
def settings(sandbox: Any, tmp_path: Any) -> Settings:
    """The ``settings`` fixture of the sections' test modules (imported there):
    :func:`sections_settings`."""
    return sections_settings(sandbox, tmp_path)


def affiliation(orcid: str, item_id: str = "aff-1", **extra: Any) -> dict[str, Any]:
    return {
        "id": item_id,
        "orcid": orcid,
        "kind": "employment",
        "department": "Physics",
        "role": "Lecturer",
        "start_date": "2019-02",
        **extra,
    }


def funding(*orcids: str, item_id: str = "fund-1", **extra: Any) -> dict[str, Any]:
    contributors = [
        {"orcid": orcid, "given": "Ada", "family": f"Lovelace {i}", "role": "lead" if not i else
         "co-lead"}
        for i, orcid in enumerate(orcids)
    ]  # fmt: skip
    return {
        "id": item_id,
        "title": "Identifiers everywhere",
        "type": "grant",
        "funder": {"name": "Marsden Fund", "country": "NZ", "funder_id": "10.13039/501100009193"},
        "grant_number": f"MFP-{item_id}",
        "amount": {"value": "450000.00", "currency": "NZD"},
        "start_date": "2021",
        "contributors": [*contributors, {"name": "C. Babbage", "role": "other-contribution"}],
        **extra,
    }


def review(orcid: str, item_id: str = "rev-1", issn: str = "0317-8471", **extra: Any) -> dict:
    return {
        "id": item_id,
        "orcid": orcid,
        "completion_date": "2024-03-05",
        "journal": {"title": "Journal of Identifiers", "issn": issn},
        "subject_doi": "10.5555/paper.3",
        **extra,
    }


def assertion(session, kind: str, item_id: str) -> OrcidAssertion:
    session.expire_all()
    return session.execute(
        select(OrcidAssertion).where(
            OrcidAssertion.kind == OrcidItemKind(kind), OrcidAssertion.external_id == item_id
        )
    ).scalar_one()


def items(session, kind: str, item_id: str) -> list[OrcidItem]:
    row = assertion(session, kind, item_id)
    return sorted(row.items, key=lambda i: i.id)


def place_pending_items(session, deps) -> list[Result]:
    """Run every pending item once, as the orcid.place_item actor would."""
    ids = session.execute(
        select(OrcidItem.id).where(OrcidItem.state == PlacementState.PENDING).order_by(OrcidItem.id)
    ).scalars()
    return [placement.place(session, deps, item_id) for item_id in list(ids)]


def record_items(sandbox, orcid: str, section: str | None = None) -> list[dict[str, Any]]:
    found = sandbox.state()["orcid"]["records"][orcid]["activities"]
    return [a for a in found if section is None or a["section"] == section]
