"""The OpenAPI description of ``POST /events``: the CloudEvent envelope, each event type's
``data``, the signature headers and the answers. Built from the same bounds the intake checks
(``worker.events.cloudevents``, ``worker.events.types``) and from the Work's own JSON Schema,
so the document cannot drift from what the intake accepts."""

from __future__ import annotations

from typing import Any

from worker.events.cloudevents import (
    BATCH,
    MAX_LENGTHS,
    RFC3339_PATTERN,
    SINGLE,
    TIME_MAX,
    TIME_MIN,
)
from worker.events.types import (
    CHECKS,
    ITEM_EVENTS,
    MAX_CLIENT_ID,
    MAX_EXPIRES_IN,
    MAX_SHORT_TEXT,
    MAX_TOKEN,
    RESEARCHER_AUTHORIZED,
    RESEARCHER_REVOKED,
    WORK_PUBLISHED,
    WORK_UPDATED,
    WORK_WITHDRAWN,
)
from worker.metadata.fields import MAX_URL, MAX_VERSION, MAX_WORK_ID, ORCID_PATTERN
from worker.metadata.orcid_items import Affiliation, Funding, Review
from worker.metadata.work import Work


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` with every ``#/$defs/`` reference replaced by its definition (the Work has
    no recursive type), so it reads the same inside the OpenAPI document."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            return {**_inline(defs[ref.removeprefix("#/$defs/")], defs), **_inline(rest, defs)}
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(item, defs) for item in schema]
    return schema


def work_schema(model: type[Any] = Work) -> dict[str, Any]:
    """The model's JSON Schema with its definitions inlined (a Work by default)."""
    schema = model.model_json_schema(mode="validation")
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    return inlined


def _string(most: int, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": most, **extra}


_ORCID = {"type": "string", "pattern": ORCID_PATTERN, "examples": ["0000-0002-1825-0097"]}

WITHDRAWN_DATA = {
    "type": "object",
    "required": ["id"],
    "additionalProperties": False,
    "properties": {
        "id": _string(MAX_WORK_ID, description="The work's id in the emitting system."),
        "version": {"type": "integer", "minimum": 1, "maximum": MAX_VERSION},
        "tombstone_url": _string(MAX_URL, format="uri", pattern="^https?://"),
    },
}
AUTHORIZED_DATA = {
    "type": "object",
    "required": ["orcid", "access_token", "scope"],
    "properties": {
        "orcid": _ORCID,
        "access_token": _string(MAX_TOKEN, pattern=r"\S"),
        "refresh_token": {"type": "string", "maxLength": MAX_TOKEN},
        "scope": _string(MAX_SHORT_TEXT, pattern=r"\S", examples=["/activities/update"]),
        "expires_in": {"type": "integer", "minimum": 0, "maximum": MAX_EXPIRES_IN},
        "name": {"type": "string", "maxLength": MAX_SHORT_TEXT},
        "token_type": {"type": "string", "maxLength": MAX_SHORT_TEXT},
        "client_id": {
            "type": "string",
            "maxLength": MAX_CLIENT_ID,
            "description": "A configured ORCID client; required when several are configured.",
        },
    },
}
ITEM_WITHDRAWN_DATA = {
    "type": "object",
    "required": ["id"],
    "additionalProperties": False,
    "properties": {
        "id": _string(MAX_WORK_ID, description="The item's id in the emitting system."),
        "version": {"type": "integer", "minimum": 1, "maximum": MAX_VERSION},
    },
}
REVOKED_DATA = {
    "type": "object",
    "required": ["orcid"],
    "additionalProperties": False,
    "properties": {"orcid": _ORCID, "client_id": {"type": "string", "maxLength": MAX_CLIENT_ID}},
}


#: The ``data`` schema of each event type that is not a Work. The types themselves come from
#: the one registry, ``worker.events.types.CHECKS``: a type registered there appears in the
#: document by itself; one without a schema here is documented as "an object" until it gets one
#: (a test names every such type).
DATA_SCHEMAS: dict[str, dict[str, Any]] = {
    WORK_WITHDRAWN: WITHDRAWN_DATA,
    RESEARCHER_AUTHORIZED: AUTHORIZED_DATA,
    RESEARCHER_REVOKED: REVOKED_DATA,
}
#: The model of each ORCID item kind: ``affiliation.published`` and the like carry one.
ITEM_MODELS = {"affiliation": Affiliation, "funding": Funding, "review": Review}
DATA_SCHEMAS.update(
    {
        event_type: ITEM_WITHDRAWN_DATA if withdrawn else work_schema(ITEM_MODELS[kind])
        for event_type, (kind, withdrawn) in ITEM_EVENTS.items()
    }
)
#: The event types whose ``data`` is a Work (``GET /schemas/work.json``).
WORK_TYPES = (WORK_PUBLISHED, WORK_UPDATED)


def data_schema(kind: str, work: dict[str, Any] | None = None) -> dict[str, Any]:
    """The schema of ``data`` for event type ``kind``."""
    if kind in WORK_TYPES:
        return work if work is not None else work_schema()
    return DATA_SCHEMAS.get(kind, {"type": "object"})


def _envelope() -> dict[str, Any]:
    return {
        "specversion": {"const": "1.0"},
        "id": _string(MAX_LENGTHS["id"], description="Unique per source; a repeat is a no-op."),
        "source": _string(MAX_LENGTHS["source"], examples=["https://cris.example.edu"]),
        "subject": {"type": "string", "maxLength": MAX_LENGTHS["subject"]},
        "time": {
            "type": "string",
            "format": "date-time",
            "pattern": RFC3339_PATTERN,
            "description": "RFC 3339 with an offset (Z or ±hh:mm), between "
            f"{TIME_MIN:%Y-%m-%d} and {TIME_MAX:%Y-%m-%d} in UTC.",
        },
        "datacontenttype": {"type": "string", "pattern": "json"},
        "dataschema": {"type": "string"},
        "correlationid": _string(MAX_LENGTHS["correlationid"]),
        "enrich": {"type": "boolean", "description": "Fill missing fields from the registries."},
        "dryrun": {
            "enum": ["true", "false", True, False],
            "description": "Process to the end and report every outcome, writing nothing at any "
            "agency or at ORCID (issue 15).",
        },
    }


def cloudevent_schema() -> dict[str, Any]:
    """One CloudEvent: the envelope, and ``data`` by ``type``."""
    work = work_schema()
    by_type = {kind: data_schema(kind, work) for kind in CHECKS}
    return {
        "title": "CloudEvent",
        "description": "A CloudEvents 1.0 event in structured JSON mode. Strings hold no NUL "
        "characters or lone surrogates; numbers are finite and fit 64 bits; objects and "
        "arrays nest at most 32 deep.",
        "oneOf": [
            {
                "type": "object",
                "title": kind,
                "required": ["specversion", "id", "source", "type", "data"],
                "properties": {**_envelope(), "type": {"const": kind}, "data": data},
            }
            for kind, data in by_type.items()
        ],
    }


def _problem() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "problems": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    }


def intake_openapi() -> dict[str, Any]:
    """``openapi_extra`` of the ``POST /events`` operation."""
    event = cloudevent_schema()
    batch = {"type": "array", "minItems": 1, "items": event}
    problem = {"application/json": {"schema": _problem()}}
    headers = [
        ("Pidsync-Client", "The intake client's name (PIDSYNC_INTAKE_CLIENTS)."),
        (
            "Pidsync-Signature",
            't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>',
        ),
    ]
    return {
        "parameters": [
            {
                "name": name,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": text,
            }
            for name, text in headers
        ],
        "requestBody": {
            "required": True,
            "content": {
                SINGLE: {"schema": event},
                BATCH: {"schema": batch},
                "application/json": {"schema": event},
            },
        },
        "responses": {
            "200": {"description": "Every event was a duplicate (already received)."},
            "202": {"description": "Accepted: stored, processing queued; one receipt each."},
            "400": {"description": "Not JSON, or nested beyond the parser.", "content": problem},
            "401": {"description": "Unknown client or a bad signature.", "content": problem},
            "403": {
                "description": "An event this client may not send: a source it does not own, "
                "a type it may not send, an account or ORCID client it may not use (named in "
                "`problems`). Nothing of the request was stored.",
                "content": problem,
            },
            "409": {
                "description": "An event id reused with another body (`ids` lists them). "
                "Nothing of the request was stored.",
                "content": problem,
            },
            "413": {
                "description": "Body larger than PIDSYNC_MAX_BODY_BYTES or more events than "
                "PIDSYNC_MAX_BATCH_EVENTS.",
                "content": problem,
            },
            "415": {"description": "Not a CloudEvents media type.", "content": problem},
            "422": {
                "description": "Invalid events; each problem names its JSON path. Nothing "
                "of the request was stored.",
                "content": problem,
            },
        },
    }
