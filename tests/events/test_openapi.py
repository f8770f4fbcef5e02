"""The OpenAPI document describes the intake body: a CRIS developer can validate events against
it, and what it accepts and refuses is what the intake accepts and refuses."""

from __future__ import annotations

import jsonschema
import pytest

from tests.conftest import INTAKE_SECRET
from tests.helpers import event, signed_post, work


@pytest.fixture
def intake_operation(client) -> dict:
    return client.get("/openapi.json").json()["paths"]["/events"]["post"]


def _validator(schema: dict) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_the_document_names_the_media_types_and_signature_headers(intake_operation):
    content = intake_operation["requestBody"]["content"]
    assert set(content) >= {"application/cloudevents+json", "application/cloudevents-batch+json"}
    headers = {p["name"] for p in intake_operation["parameters"] if p["in"] == "header"}
    assert headers >= {"Pidsync-Client", "Pidsync-Signature"}
    assert "422" in intake_operation["responses"]


@pytest.mark.parametrize(
    "body",
    [
        event(),
        event("work.withdrawn", {"id": "w-1", "version": 3}),
        event("researcher.revoked", {"orcid": "0000-0002-1825-0097"}),
        event(
            "researcher.authorized",
            {"orcid": "0000-0002-1825-0097", "access_token": "t", "scope": "/read-limited"},
        ),
    ],
)
def test_events_the_intake_accepts_are_valid_by_the_document(client, intake_operation, body):
    schema = intake_operation["requestBody"]["content"]["application/cloudevents+json"]["schema"]
    _validator(schema).validate(body)
    assert signed_post(client, body, secret=INTAKE_SECRET).status_code == 202


@pytest.mark.parametrize(
    "body",
    [
        event(event_id="x" * 1001),
        event(data=work(version=2**31)),
        event(data=work(title="")),
        event("work.withdrawn", {"id": "w-1", "version": 0}),
        event("researcher.revoked", {"orcid": "0000-0002-1825-0097", "extra": 1}),
        event(time="yesterday"),
    ],
)
def test_events_the_intake_refuses_are_invalid_by_the_document(client, intake_operation, body):
    schema = intake_operation["requestBody"]["content"]["application/cloudevents+json"]["schema"]
    assert not _validator(schema).is_valid(body)
    assert signed_post(client, body, secret=INTAKE_SECRET).status_code == 422
