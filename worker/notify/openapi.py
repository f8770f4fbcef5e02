"""The webhooks pidsync sends, as OpenAPI 3.1 ``webhooks``: one entry per type in
``worker.notify.types.ALL`` (a test fails if a type has no entry), each a signed CloudEvent
whose ``data`` is described here. ``data`` objects may gain fields: a receiver must ignore the
ones it does not know (the ``additionalProperties`` left open says so)."""

from __future__ import annotations

from typing import Any

from worker.notify import types as hook

_STR = {"type": "string"}
_INT = {"type": "integer"}
_WORK = {
    "source": {**_STR, "description": "The CloudEvent source the work was sent from."},
    "id": {**_STR, "description": "The work's id in the emitting system (data.id)."},
}
_DOI = {
    **_WORK,
    "doi": _STR,
    "registrar": {"enum": ["datacite", "crossref"]},
    "account": {**_STR, "description": "The registrar account used (`default` unless named)."},
    "state": {**_STR, "description": "The registration's state after the change."},
    "message": {**_STR, "description": "What the agency said (failures, holds)."},
    "errors": {"description": "The agency's own error list, as it sent it."},
    "warning": _STR,
    "change": {"enum": ["registered", "updated", "restored"]},
    "deposit": {**_STR, "description": "The Crossref deposit (batch id) that carried it."},
    "possible_duplicate_of": {**_STR, "description": "The DOI this work probably already has."},
    "matches": {"type": "array", "description": "The duplicate guard's candidates."},
}
_PLACEMENT = {
    **_WORK,
    "orcid": {**_STR, "pattern": r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$"},
    "client_id": {**_STR, "description": "The ORCID member client that holds the grant."},
    "put_code": {"type": ["integer", "null"], "description": "ORCID's id of the work item."},
}
_EVENT = {
    "type": "object",
    "required": ["source", "id", "type"],
    "properties": {"source": _STR, "id": _STR, "type": _STR},
    "description": "The event that failed, as the emitting system sent it.",
}
_FAILED = {
    "event": _EVENT,
    "reason": _STR,
    "fields": {"type": "array", "items": _STR, "description": "JSON paths at fault."},
    "attempts": _INT,
    "correlation_id": {"type": ["string", "null"]},
}


def _about_doi(description: str) -> tuple[str, list[str], dict[str, Any]]:
    """A webhook about one DOI registration: every one names the work, the DOI and its state."""
    return description, ["source", "id", "doi", "registrar", "state"], _DOI


#: type -> (what it means, required keys, properties of ``data``)
WEBHOOKS: dict[str, tuple[str, list[str], dict[str, Any]]] = {
    hook.WORK_FAILED: (
        (
            "An event about a work could not be applied: a refused registration, a field the "
            "registrar needs, retries spent."
        ),
        ["source", "id", "event", "reason"],
        {**_WORK, **_FAILED},
    ),
    hook.EVENT_FAILED: (
        "An event that is not about a work (`researcher.*`) could not be applied.",
        ["event", "reason"],
        _FAILED,
    ),
    hook.DOI_RESERVED: _about_doi(
        "A DOI was chosen and reserved for the work (before any call to the agency).",
    ),
    hook.DOI_REGISTERED: _about_doi(
        "The agency confirmed the DOI (`change`: registered, updated or restored).",
    ),
    hook.DOI_WITHDRAWN: _about_doi(
        "The DOI was hidden (DataCite) or pointed at the tombstone (Crossref).",
    ),
    hook.DOI_FAILED: _about_doi(
        "The agency refused the DOI or its tries are spent; `message` and `errors` say why.",
    ),
    hook.DOI_STALE: _about_doi(
        "A Crossref deposit has stayed queued longer than PIDSYNC_CROSSREF_STALE_AFTER_SECONDS.",
    ),
    hook.DOI_ON_HOLD: _about_doi(
        (
            "The duplicate guard held the DOI: the work probably has one already "
            "(`possible_duplicate_of`); `pidsync doi release` lets it go on."
        ),
    ),
    hook.ORCID_PLACED: (
        "The work is on the researcher's ORCID record (`action`: added or updated).",
        ["source", "id", "orcid"],
        {**_PLACEMENT, "action": {"enum": ["added", "updated"]}},
    ),
    hook.ORCID_BACKFILLED: (
        (
            "A bulk backfill placed works on a researcher's record: one webhook per ORCID bulk "
            "request (up to 100 works) and intake client, instead of an `orcid.placed` per work."
        ),
        ["orcid", "client_id", "works"],
        {
            "orcid": _PLACEMENT["orcid"],
            "client_id": _PLACEMENT["client_id"],
            "works": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["source", "id", "put_code", "action"],
                    "properties": {
                        **_WORK,
                        "put_code": _PLACEMENT["put_code"],
                        "action": {"enum": ["added", "updated"]},
                        "notes": {"type": "array"},
                    },
                },
            },
        },
    ),
    hook.ORCID_FAILED: (
        "ORCID refused the placement or its tries are spent; `error` says why.",
        ["source", "id", "orcid", "error"],
        {**_PLACEMENT, "error": _STR},
    ),
    hook.ORCID_REMOVED_BY_RESEARCHER: (
        (
            "The researcher deleted the work from their record; pidsync will not add it again "
            "unless asked (`pidsync orcid re-add`)."
        ),
        ["source", "id", "orcid"],
        _PLACEMENT,
    ),
    hook.ORCID_SUGGESTIONS: (
        "Likely ORCID iDs for contributors sent without one (PIDSYNC_ORCID_SUGGEST_IDS).",
        ["source", "id", "contributors"],
        {**_WORK, "contributors": {"type": "array"}},
    ),
    hook.ORCID_RECORD_CHANGED: (
        "A granted researcher's record changed (ORCID webhooks): what pidsync found there.",
        ["orcid"],
        {
            "orcid": _PLACEMENT["orcid"],
            "removed_by_researcher": {"type": "array"},
            "hidden": {"type": "array"},
            "added_by_others": {"type": "array"},
            "first_look": {"type": "boolean"},
        },
    ),
    hook.GRANT_REVOKED: (
        (
            "The researcher's grant is gone (revoked at ORCID, by the emitting system or an "
            "operator); `awaiting_consent` counts the placements parked until they authorise again."
        ),
        ["orcid", "reason"],
        {
            "orcid": _PLACEMENT["orcid"],
            "client_id": _STR,
            "reason": _STR,
            "awaiting_consent": _INT,
        },
    ),
}


def webhook_event_schema(event_type: str) -> dict[str, Any]:
    """The CloudEvent pidsync POSTs for ``event_type``."""
    description, required, properties = WEBHOOKS[event_type]
    return {
        "type": "object",
        "title": event_type,
        "description": description,
        "required": ["specversion", "id", "source", "type", "time", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {**_STR, "description": "Unique per delivery row: deduplicate on it."},
            "source": {"const": "pidsync"},
            "type": {"const": event_type},
            "time": {**_STR, "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "data": {
                "type": "object",
                "required": required,
                "properties": properties,
                "additionalProperties": True,
            },
        },
    }
