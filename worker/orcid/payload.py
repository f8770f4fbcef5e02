"""The ORCID work pidsync writes for a stored Work (an adapter over ``worker.metadata``).

The stored row holds the Work's JSON; the DOI may have been chosen by pidsync itself (the
registration row, reserved in the same commit that created it), so it is added here before
rendering. The ``self`` external ids (the DOI when there is one, and always
``source-work-id`` = ``<source>:<id>``) never change for a Work, which is what lets a retry
find its own earlier write on the record.
"""

from __future__ import annotations

from typing import Any

from worker.metadata.hashing import payload_hash
from worker.metadata.render.orcid_json import orcid_truncations, render_orcid_work
from worker.metadata.work import Work as MetadataWork
from worker.metadata.work import validate_work
from worker.models import Work
from worker.orcid.client import self_ids


def work_doi(row: Work) -> str | None:
    if row.registration is not None:
        return row.registration.doi
    return row.doi or row.work_metadata.get("doi")


def metadata_work(row: Work) -> MetadataWork:
    data = dict(row.work_metadata)
    doi = work_doi(row)
    if doi and not data.get("doi"):
        data["doi"] = doi
    return validate_work(data)


def orcid_work(row: Work) -> dict[str, Any]:
    """The ORCID v3.0 work JSON (without put-code)."""
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
