"""The ORCID work pidsync writes for a stored Work (an adapter over ``worker.metadata``).

The stored row holds the Work's JSON; the DOI may have been chosen by pidsync itself (the
registration row, reserved in the same commit that created it). Such a DOI goes to ORCID only
once its agency confirmed it (DESIGN §7): until then the placement waits
(:func:`doi_readiness`), and a DOI that failed for good or was withdrawn is left out. An
external DOI (no registration) is used at once. The ``source-work-id`` = ``<source>:<id>``
``self`` external id never changes for a Work, which is what lets a retry find its own earlier
write on the record, with or without the DOI.
"""

from __future__ import annotations

import enum
from typing import Any

from worker.metadata.hashing import payload_hash
from worker.metadata.render.orcid_json import orcid_truncations, render_orcid_work
from worker.metadata.work import Work as MetadataWork
from worker.metadata.work import validate_work
from worker.models import DoiState, Work
from worker.orcid.client import self_ids


class DoiReadiness(enum.StrEnum):
    """Whether the work's DOI may go to ORCID (computed, never stored)."""

    READY = "ready"  # an external DOI (or none), or one its agency confirmed
    WAITING = "waiting"  # pidsync registers it and the agency has not confirmed it yet
    FAILED = "failed"  # refused for good, or withdrawn: it does not resolve


def doi_readiness(row: Work) -> DoiReadiness:
    reg = row.registration
    if reg is None:
        return DoiReadiness.READY
    if reg.state == DoiState.WITHDRAWN:
        return DoiReadiness.FAILED
    # Once confirmed, the DOI stays at the agency: a later change still waiting or refused
    # does not make it stop resolving.
    if reg.state in (DoiState.REGISTERED, DoiState.FINDABLE) or reg.registered_at is not None:
        return DoiReadiness.READY
    if reg.state == DoiState.FAILED:
        return DoiReadiness.FAILED
    return DoiReadiness.WAITING


def work_doi(row: Work) -> str | None:
    """The DOI to put on ORCID: None while pidsync's DOI is unconfirmed, failed or withdrawn."""
    if row.registration is not None:
        return row.registration.doi if doi_readiness(row) == DoiReadiness.READY else None
    return row.doi or row.work_metadata.get("doi")


def metadata_work(row: Work) -> MetadataWork:
    data = dict(row.work_metadata)
    doi = work_doi(row)
    if doi:
        data["doi"] = data.get("doi") or doi
    else:  # the Work may name the DOI it asked pidsync to register: not on ORCID yet
        data.pop("doi", None)
    return validate_work(data)


def orcid_work(row: Work) -> dict[str, Any]:
    """The ORCID v3.0 work JSON (without put-code), carrying the DOI only when it resolves."""
    return render_orcid_work(metadata_work(row), source=row.source)


def truncations(row: Work) -> list[str]:
    """What ORCID's limits cut or leave out of this work, one line each."""
    try:
        return orcid_truncations(metadata_work(row))
    except ValueError:
        return []


def digest(payload: dict[str, Any]) -> str:
    return payload_hash(payload)


def payload_self_ids(payload: dict[str, Any]) -> frozenset[tuple[str, str]]:
    return self_ids((payload.get("external-ids") or {}).get("external-id") or [])


def contributor_orcids(row: Work) -> list[str]:
    """ORCID iDs of the work's contributors, in credit order, each once (only persons carry
    one: the Work model refuses an organisation with an ORCID iD)."""
    seen: list[str] = []
    for contributor in row.work_metadata.get("contributors") or []:
        orcid = contributor.get("orcid") if isinstance(contributor, dict) else None
        if orcid and contributor.get("type", "person") == "person" and orcid not in seen:
            seen.append(orcid)
    return seen


def contributors_without_orcid(row: Work) -> list[tuple[int, dict[str, Any]]]:
    """(index, contributor) of persons without an ORCID iD."""
    found = []
    for index, contributor in enumerate(row.work_metadata.get("contributors") or []):
        if not isinstance(contributor, dict) or contributor.get("orcid"):
            continue
        if contributor.get("type", "person") == "person":
            found.append((index, contributor))
    return found
