"""The OpenAPI document is complete and true: every route is in it and every path in it is
served; every error answer has the problem shape the app really sends; signed operations say
so and refuse unsigned requests; every event type and every webhook type is described."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any, cast

import jsonschema
import pytest
from fastapi.routing import APIRoute

from tests.conftest import INTAKE_SECRET
from tests.helpers import event, signed_get, signed_post, work
from worker.config import Settings
from worker.events.openapi import DATA_SCHEMAS, WORK_TYPES
from worker.events.types import CHECKS
from worker.notify.types import ALL as WEBHOOK_TYPES
from worker.web.app import create_app
from worker.web.openapi import ALIASES

_APP = create_app(cast("Any", SimpleNamespace(settings=Settings(_env_file=None, env="test"))))
DOCUMENT = _APP.openapi()
METHODS = {"get", "post", "put", "patch", "delete"}


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute of the app, inside included routers too (FastAPI keeps an included
    router's routes under ``original_router``; pidsync includes them without a prefix)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += _api_routes(route.original_router.routes)
    return found


def _routes() -> set[tuple[str, str]]:
    served = set()
    for route in _api_routes(_APP.routes):
        if route.include_in_schema:
            path = re.sub(r"\{(\w+):path\}", r"{\1}", route.path)
            for method in route.methods:
                served.add((method.lower(), ALIASES.get(path, path)))
    return served


def _documented() -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in METHODS
    }


def test_every_route_is_documented_and_every_documented_path_is_served():
    assert len(_routes()) >= 10  # the walk found the routes (not two empty sets)
    assert _routes() == _documented()
    assert DOCUMENT["openapi"].startswith("3.1")


def _problem_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(DOCUMENT["components"]["schemas"]["Problem"])


def test_every_error_answer_documents_the_problem_shape_or_a_page():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if not status.startswith(("4", "5")) or path == "/readyz":
                    continue
                content = answer.get("content", {})
                where = f"{method.upper()} {path} {status}"
                assert content, f"{where}: no body described"
                if "text/html" in content:  # the consent flow's pages, for a browser
                    continue
                schema = content["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}, where


@pytest.mark.parametrize(
    ("send", "status"),
    [
        (lambda c: c.get("/works/s/w"), 401),
        (lambda c: signed_get(c, "/works/s/w", secret="wrong"), 401),
        (lambda c: signed_get(c, "/works/s/w", secret=INTAKE_SECRET), 404),
        (lambda c: signed_get(c, "/events/nope", secret=INTAKE_SECRET), 404),
        (lambda c: signed_post(c, event(data=work(title="")), secret=INTAKE_SECRET), 422),
        (lambda c: signed_post(c, event(), secret=INTAKE_SECRET, raw=b"{"), 400),
        (lambda c: signed_post(c, event(), secret=INTAKE_SECRET, content_type="text/plain"), 415),
        (lambda c: c.post("/ops/retry", content=b"{}", headers={"Pidsync-Client": "cris"}), 401),
    ],
    ids=["unsigned", "bad-signature", "no-work", "no-receipt", "invalid", "not-json",
         "media-type", "ops-unsigned"],
)  # fmt: skip
def test_real_error_answers_have_the_documented_shape(client, send, status):
    response = send(client)
    assert response.status_code == status
    _problem_validator().validate(response.json())


SIGNED = [("post", "/events"), ("get", "/works/{source}/{id}"), ("get", "/events/{receipt}"),
          ("post", "/ops/retry")]  # fmt: skip


def test_signed_operations_name_the_signature_scheme():
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["PidsyncSignature"]["name"] == "Pidsync-Signature"
    assert '"GET <path and query>"' in schemes["PidsyncSignature"]["description"]
    for method, path in SIGNED:
        operation = DOCUMENT["paths"][path][method]
        assert operation["security"] == [{"PidsyncClient": [], "PidsyncSignature": []}]
    # And nothing else claims to need it
    others = _documented() - set(SIGNED)
    assert not [o for o in others if "security" in DOCUMENT["paths"][o[1]][o[0]]]


def test_every_event_type_is_in_the_intake_body_with_its_data_schema():
    schema = DOCUMENT["paths"]["/events"]["post"]["requestBody"]["content"]
    single = schema["application/cloudevents+json"]["schema"]
    documented = {variant["properties"]["type"]["const"] for variant in single["oneOf"]}
    assert documented == set(CHECKS)
    batch = schema["application/cloudevents-batch+json"]["schema"]
    assert batch["type"] == "array"
    # A type registered without a data schema would be documented as a bare object
    undescribed = set(CHECKS) - set(DATA_SCHEMAS) - set(WORK_TYPES)
    assert not undescribed, f"give these event types a data schema: {sorted(undescribed)}"


def test_the_consent_links_parameters_are_described():
    parameters = DOCUMENT["paths"]["/orcid/connect"]["get"]["parameters"]
    described = {p["name"]: p.get("description", "") for p in parameters}
    assert set(described) == {"person", "return_to", "client"}
    assert all(described.values())
    assert "PIDSYNC_ORCID_RETURN_TO_ALLOWLIST" in described["return_to"]


def test_the_status_path_is_documented_as_integrators_write_it():
    parameters = DOCUMENT["paths"]["/works/{source}/{id}"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == ["source", "id"]


def test_every_webhook_type_is_documented_with_its_payload():
    assert set(DOCUMENT["webhooks"]) == set(WEBHOOK_TYPES)
    for event_type, item in DOCUMENT["webhooks"].items():
        body = item["post"]["requestBody"]["content"]["application/cloudevents+json"]["schema"]
        assert body["properties"]["type"] == {"const": event_type}
        assert body["properties"]["data"]["required"]


def test_the_document_is_served_with_the_app(client):
    assert client.get("/openapi.json").json() == DOCUMENT
