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
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from worker.metadata.hashing import payload_hash
from worker.metadata.render.orcid_json import orcid_truncations, render_orcid_work
from worker.metadata.work import Work as MetadataWork
from worker.metadata.work import validate_work
from worker.models import DoiState, Work
from worker.orcid.client import self_ids
from worker.works.render_notes import notes_for


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
    """The ORCID v3.0 work JSON (without put-code), carrying the DOI only when it resolves: the
    caller's own copy, to change as it likes."""
    return render_orcid_work(metadata_work(row), source=row.source)


@dataclass(frozen=True)
class Rendered:
    """A stored Work as ORCID receives it, rendered once: ``body`` is shared by every caller
    and must not be changed (:func:`orcid_work` gives a copy of one's own)."""

    model: MetadataWork
    body: dict[str, Any]
    digest: str

    @cached_property
    def truncations(self) -> list[str]:
        return orcid_truncations(self.model)

    @cached_property
    def notes(self) -> list[str]:
        """What the ORCID work leaves out of the Work (the placement's render notes)."""
        return notes_for(self.model, "orcid-json", lambda _model: self.truncations)


#: Works rendered lately, by what the rendering depends on: the row, its metadata's hash (every
#: write of the metadata writes the hash with it: worker.works.service), the DOI it may carry
#: and its source. A settled DOI's placements (one per ORCID contributor) and their
#: ``orcid.placed`` notifications then validate and render the work once, not once each
#: (issue 13: validating, rendering and hashing it was 4 % of the worker's CPU per event).
_RENDERED: OrderedDict[tuple[int, str, str | None, str], Rendered] = OrderedDict()
_RENDERED_MAX = 256
_rendered_guard = threading.Lock()


def rendered(row: Work) -> Rendered:
    """The work's ORCID rendering, cached (see :data:`_RENDERED`); raises as
    :func:`metadata_work` does for a Work that does not validate."""
    key = (row.id, row.metadata_hash, work_doi(row), row.source)
    with _rendered_guard:
        found = _RENDERED.get(key)
        if found is not None:
            _RENDERED.move_to_end(key)
            return found
    model = metadata_work(row)
    body = render_orcid_work(model, source=row.source)
    made = Rendered(model, body, payload_hash(body))
    with _rendered_guard:
        _RENDERED[key] = made
        while len(_RENDERED) > _RENDERED_MAX:
            _RENDERED.popitem(last=False)
    return made


def truncations(row: Work) -> list[str]:
    """What ORCID's limits cut or leave out of this work, one line each."""
    try:
        return list(rendered(row).truncations)
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
