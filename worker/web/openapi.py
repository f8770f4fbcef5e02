"""The complete OpenAPI 3.1 document: what FastAPI derives from the routes, completed with what
an integrator needs and the routes cannot say themselves — the signed-request security scheme,
every error answer with its problem shape, the consent link's parameters, the status path as
integrators write it (``/works/{source}/{id}``), the answers' shapes, and the webhooks pidsync
sends (OpenAPI ``webhooks``). ``tests/test_openapi_document.py`` checks it against the routes:
every route documented, every documented path served."""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from worker.notify.openapi import WEBHOOKS, webhook_event_schema

#: Operations signed with Pidsync-Client / Pidsync-Signature (the intake, the ops API, reads).
SIGNED = {("post", "/events"), ("post", "/ops/retry"), ("get", "/events/{receipt}")}
#: Paths FastAPI names by their route pattern, and how integrators write them.
ALIASES = {"/works/{rest}": "/works/{source}/{id}"}
SIGNED.add(("get", "/works/{source}/{id}"))

PROBLEM = {"$ref": "#/components/schemas/Problem"}
_HTML = {"text/html": {"schema": {"type": "string"}}}

SIGNATURE_TEXT = (
    "Every intake request and every read of the status API is signed with the intake client's "
    "secret (PIDSYNC_INTAKE_CLIENTS). `Pidsync-Signature: t=<unix seconds>,v1=<hex>` where "
    'the hex is HMAC-SHA256(secret, "<t>.<payload>"); the payload of a POST is the raw body '
    'exactly as sent, that of a read is `"GET <path and query>"` exactly as sent, '
    "percent-encoding included (no body). The timestamp must be within "
    "PIDSYNC_SIGNATURE_TOLERANCE_SECONDS (300) of the server's clock. Several `v1=` values may "
    "be sent while a secret is rotated. Unsigned or badly signed: 401; another client's work or "
    "receipt: 404."
)

#: (method, path) -> status -> description of an error answer with a Problem body.
ERRORS: dict[tuple[str, str], dict[str, str]] = {
    ("get", "/works/{source}/{id}"): {
        "400": "`source` or `id` is empty, longer than 1000 characters or holds a control "
        "character.",
        "401": "Unsigned, unknown client or a bad signature.",
        "404": "No such work for this client (another client's work answers 404 too).",
    },
    ("get", "/events/{receipt}"): {
        "401": "Unsigned, unknown client or a bad signature.",
        "404": "No such receipt for this client (another client's receipt answers 404 too).",
    },
    ("post", "/ops/retry"): {
        "400": "The body is not JSON.",
        "401": "Unsigned, unknown client or a bad signature.",
        "413": "Body larger than PIDSYNC_MAX_BODY_BYTES.",
        "422": "Invalid selectors, each problem by path.",
    },
    ("post", "/webhooks/crossref/{secret}"): {
        "400": "No usable CROSSREF-EXTERNAL-ID header.",
        "403": "CROSSREF-NOTIFY-ENDPOINT is not the configured endpoint.",
        "404": "Callbacks are off, the secret is wrong, or no deposit has that batch id.",
    },
    ("get", "/metrics"): {
        "401": "In production: the ops credential is missing or wrong.",
        "404": "In production without PIDSYNC_OPS_CREDENTIAL: off.",
    },
}

#: Pages a browser sees (the consent flow): (method, path) -> status -> description.
PAGES: dict[tuple[str, str], dict[str, str]] = {
    ("get", "/orcid/connect"): {
        "302": "To ORCID's authorize page (a consent request is stored, and a cookie set).",
        "400": "A parameter is too long, holds control characters, names an unknown ORCID "
        "client, or `return_to` is not allowed (the page says which).",
        "429": "Too many consent requests from this address (Retry-After).",
        "503": "No ORCID client is configured.",
    },
    ("get", "/orcid/callback"): {
        "200": "The outcome as a page, when the consent had no `return_to`.",
        "302": "Back to `return_to` with the signed outcome (see the consent guide).",
        "400": "Unknown, expired or already used consent request, or not this browser's.",
    },
}

CONNECT_PARAMETERS = {
    "person": "Your own id for the researcher (e.g. the CRIS person id), echoed back signed in "
    "the redirect to `return_to`, so the CRIS knows whose consent came back. At most 500 "
    "printable characters.",
    "return_to": "Where to send the browser back when the consent is done: must start with one "
    "of PIDSYNC_ORCID_RETURN_TO_ALLOWLIST. Without it pidsync shows its own page.",
    "client": "Which ORCID member client to ask consent for (its client id); required only "
    "when several are configured (PIDSYNC_ORCID_CLIENTS).",
}

_RECEIPT_FIELDS: dict[str, Any] = {
    "source": {"type": "string"},
    "id": {"type": "string"},
    "type": {"type": "string"},
    "receipt": {"type": "string", "format": "uuid"},
    "duplicate": {"type": "boolean"},
    "correlation_id": {"type": "string"},
    "status_url": {"type": ["string", "null"], "description": "The signed status read."},
}
RECEIPT = {"type": "object", "properties": _RECEIPT_FIELDS}
INTAKE_ANSWER = {
    "type": "object",
    "required": ["accepted", "duplicates", "events"],
    "description": "For a single event, the receipt's fields are repeated at the top level.",
    "properties": {
        "accepted": {"type": "integer"},
        "duplicates": {"type": "integer"},
        "events": {"type": "array", "items": RECEIPT},
        **_RECEIPT_FIELDS,
    },
}


def _problem_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "title": "Problem",
        "description": "Every error answer: a one-line `error`, and where several things are "
        "wrong, `problems`, each with its JSON path (`$.data.contributors[0].orcid`) and "
        "message. Some answers add a field naming what they are about (`limit`, `ids`).",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "problems": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["path", "message"],
                    "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    }


def _rename_paths(doc: dict[str, Any]) -> None:
    for old, new in ALIASES.items():
        if old not in doc["paths"]:
            continue
        item = doc["paths"].pop(old)
        for operation in item.values():
            operation["parameters"] = [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 1000},
                    "description": text,
                }
                for name, text in (
                    ("source", ("The CloudEvent source, percent-encoded as ONE segment "
                     "(`https%3A%2F%2Fcris.example.edu`).")),
                    ("id", "The work's id in the emitting system (data.id), percent-encoded."),
                )
            ]  # fmt: skip
        doc["paths"][new] = item


def _responses(doc: dict[str, Any]) -> None:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            # FastAPI's own validation answer is pidsync's problem shape (create_app's handler).
            if "422" in responses and "HTTPValidationError" in str(responses["422"]):
                responses["422"] = {
                    "description": "A parameter is invalid (each problem by path).",
                    "content": {"application/json": {"schema": PROBLEM}},
                }
            if operation.get("parameters") or path != "/healthz":
                # The guard refuses NUL bytes and lone surrogates in any path or query.
                responses.setdefault(
                    "400",
                    {
                        "description": "A NUL byte or an invalid character in the path or query.",
                        "content": {"application/json": {"schema": PROBLEM}},
                    },
                )
            for status, text in ERRORS.get((method, path), {}).items():
                responses[status] = {
                    "description": text,
                    "content": {"application/json": {"schema": PROBLEM}},
                }
            for status, text in PAGES.get((method, path), {}).items():
                responses[status] = {"description": text, "content": _HTML}
            for answer in responses.values():
                for media in answer.get("content", {}).values():
                    # The intake's own inline problem shape is the shared one.
                    if media.get("schema", {}).get("properties", {}).keys() == {
                        "error",
                        "problems",
                    }:
                        media["schema"] = PROBLEM
            if (method, path) in SIGNED:
                operation["security"] = [{"PidsyncClient": [], "PidsyncSignature": []}]


def _intake_answers(doc: dict[str, Any]) -> None:
    intake = doc["paths"].get("/events", {}).get("post")
    if intake is None:
        return
    for status in ("200", "202"):
        intake["responses"][status]["content"] = {"application/json": {"schema": INTAKE_ANSWER}}


def _connect_parameters(doc: dict[str, Any]) -> None:
    connect = doc["paths"].get("/orcid/connect", {}).get("get")
    if connect is None:
        return
    connect["description"] = (
        "The link a CRIS gives a researcher to authorise the institution on ORCID: pidsync "
        "redirects to ORCID, ORCID back to `/orcid/callback`, which stores the grant and sends "
        "the browser to `return_to` with the signed outcome."
    )
    for parameter in connect.get("parameters", []):
        if parameter["name"] in CONNECT_PARAMETERS:
            parameter["description"] = CONNECT_PARAMETERS[parameter["name"]]


def _webhooks() -> dict[str, Any]:
    hooks: dict[str, Any] = {}
    for event_type, (description, _, _) in sorted(WEBHOOKS.items()):
        hooks[event_type] = {
            "post": {
                "summary": event_type,
                "description": description + " POSTed to the client's `notify_url` as "
                "`application/cloudevents+json`, signed with the client's intake secret "
                '(`Pidsync-Signature` over `"<t>.<raw body>"`); `Pidsync-Delivery` is unique '
                "per attempt. A 2xx answer ends it; a 4xx answer is final; anything else is "
                "retried (PIDSYNC_NOTIFY_RETRY_BACKOFF, PIDSYNC_NOTIFY_MAX_ATTEMPTS).",
                "parameters": [
                    {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
                    for name in ("Pidsync-Signature", "Pidsync-Delivery")
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/cloudevents+json": {"schema": webhook_event_schema(event_type)}
                    },
                },
                "responses": {
                    "2XX": {"description": "Received; not sent again."},
                    "4XX": {"description": "Refused; recorded as failed, not sent again."},
                    "5XX": {"description": "Retried with the notify backoff."},
                },
            }
        }
    return hooks


def complete(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (FastAPI's) completed as the module docstring says; returns a new document."""
    doc = copy.deepcopy(doc)
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = _problem_schema()
    components["securitySchemes"] = {
        name: {"type": "apiKey", "in": "header", "name": name, "description": SIGNATURE_TEXT}
        for name in ("PidsyncClient", "PidsyncSignature")
    }
    components["securitySchemes"]["PidsyncClient"]["name"] = "Pidsync-Client"
    components["securitySchemes"]["PidsyncSignature"]["name"] = "Pidsync-Signature"
    _rename_paths(doc)
    _responses(doc)
    _intake_answers(doc)
    _connect_parameters(doc)
    doc["webhooks"] = _webhooks()
    return doc


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The app's document, built once."""
    if app.openapi_schema is None:
        app.openapi_schema = complete(
            get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
        )
    return app.openapi_schema
