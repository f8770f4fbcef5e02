"""POST /events as a CRIS developer sees it: signatures, duplicates, every kind of bad input."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from tests.conftest import INTAKE_SECRET
from tests.helpers import event, signed_post, work
from worker.events.signature import sign
from worker.models import ReceivedEvent


def _count(session) -> int:
    return session.execute(select(func.count()).select_from(ReceivedEvent)).scalar_one()


def test_signed_event_is_accepted_once_and_repeat_is_a_duplicate(client, session):
    # Given a signed work.published event
    body = event()
    # When it is posted twice
    first = signed_post(client, body, secret=INTAKE_SECRET)
    second = signed_post(client, body, secret=INTAKE_SECRET)
    # Then the first is accepted with a receipt, the second acknowledged as a duplicate
    assert first.status_code == 202, first.text
    assert first.json()["duplicate"] is False
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    assert second.json()["receipt"] == first.json()["receipt"]
    assert _count(session) == 1
    assert first.json()["status_url"] == "/works/https%3A%2F%2Fcris.example.edu/w-1"


def test_bad_signature_is_401_and_stores_nothing(client, session):
    response = signed_post(client, event(), secret="wrong-secret")
    assert response.status_code == 401
    assert "does not match" in response.json()["error"]
    assert _count(session) == 0


def test_unknown_client_and_missing_signature_are_401(client):
    assert signed_post(client, event(), secret=INTAKE_SECRET, client_id="nobody").status_code == 401
    response = client.post(
        "/events",
        json=event(),
        headers={"Pidsync-Client": "cris", "Content-Type": "application/cloudevents+json"},
    )
    assert response.status_code == 401
    assert "missing Pidsync-Signature" in response.json()["error"]


def test_expired_signature_is_rejected(client):
    old = sign(INTAKE_SECRET, b"{}", timestamp=int(time.time()) - 3600)
    response = signed_post(client, event(), secret=INTAKE_SECRET, signature=old)
    assert response.status_code == 401


def test_rotation_allows_several_v1_values(client):
    import json

    raw = json.dumps(event()).encode()
    good = sign(INTAKE_SECRET, raw)
    t = good.split(",")[0]
    header = f"{t},v1={'0' * 64},{good.split(',')[1]}"
    response = signed_post(
        client,
        None,
        secret=INTAKE_SECRET,
        raw=raw,
        signature=header,
        content_type="application/cloudevents+json",
    )
    assert response.status_code == 202


def test_invalid_work_is_422_naming_each_field(client, session):
    bad = work(contributors=[{"given": "Ada", "family": "L", "orcid": "0000-0002-1825-0098"}])
    del bad["title"]
    response = signed_post(client, event(data=bad), secret=INTAKE_SECRET)
    assert response.status_code == 422
    paths = {p["path"] for p in response.json()["problems"]}
    assert "$.data.title" in paths
    assert "$.data.contributors[0].orcid" in paths
    assert _count(session) == 0


def test_unknown_registrar_is_422_naming_the_field(client, session):
    data = work(registration={"registrar": "medra"})
    response = signed_post(client, event(data=data), secret=INTAKE_SECRET)
    assert response.status_code == 422
    (problem,) = response.json()["problems"]
    assert problem["path"] == "$.data.registration.registrar"
    assert "'datacite', 'crossref' or 'none'" in problem["message"]
    assert _count(session) == 0


def test_batch_with_one_bad_event_stores_nothing(client, session):
    batch = [
        event(event_id="a"),
        event(event_id="b", data=work(doi="not-a-doi")),
        event(event_id="c"),
    ]
    response = signed_post(client, batch, secret=INTAKE_SECRET)
    assert response.status_code == 422
    assert [p["path"] for p in response.json()["problems"]] == ["$[1].data.doi"]
    assert _count(session) == 0


def test_batch_is_accepted_whole(client, session):
    batch = [event(event_id=str(i), data=work(f"w-{i}")) for i in range(3)]
    response = signed_post(client, batch, secret=INTAKE_SECRET)
    assert response.status_code == 202
    assert response.json()["accepted"] == 3
    assert _count(session) == 3


def test_malformed_json_is_400(client):
    response = signed_post(
        client,
        None,
        secret=INTAKE_SECRET,
        raw=b"{not json",
        content_type="application/cloudevents+json",
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


def test_wrong_content_type_is_415(client):
    response = signed_post(client, event(), secret=INTAKE_SECRET, content_type="text/plain")
    assert response.status_code == 415


def test_unknown_type_and_envelope_errors_are_422(client):
    body = event("work.exploded")
    del body["specversion"]
    response = signed_post(client, body, secret=INTAKE_SECRET)
    assert response.status_code == 422
    problems = {p["path"]: p["message"] for p in response.json()["problems"]}
    assert "$.specversion" in problems


def test_unknown_type_is_named(client):
    response = signed_post(client, event("work.exploded"), secret=INTAKE_SECRET)
    assert response.status_code == 422
    assert "unknown event type 'work.exploded'" in response.text


def test_oversized_body_is_413(client, runtime):
    huge = event(data=work(abstract="x" * (runtime.settings.max_body_bytes + 10)))
    response = signed_post(client, huge, secret=INTAKE_SECRET)
    assert response.status_code == 413


def test_researcher_authorized_keeps_no_plaintext_token(client, session):
    data = {
        "orcid": "0000-0002-1825-0097",
        "access_token": "f5af9f51-07e6-4332-8f1a-c0c11c1e3728",
        "refresh_token": "f725f747-3a65-49f6-a231-3e8944ce464d",
        "scope": "/activities/update /read-limited",
        "expires_in": 631138518,
        "name": "Sofia Garcia",
        "token_type": "bearer",
    }
    response = signed_post(client, event("researcher.authorized", data), secret=INTAKE_SECRET)
    assert response.status_code == 202, response.text
    stored = session.execute(select(ReceivedEvent)).scalar_one()
    text = str(stored.data)
    assert "f5af9f51" not in text and "f725f747" not in text
    assert stored.data["access_token_enc"]


def test_schema_is_published(client):
    response = client.get("/schemas/work.json")
    assert response.status_code == 200
    schema = response.json()
    assert set(schema["required"]) >= {"id", "type", "title"}


def _signed_get(client, target: str):
    from worker.events.signature import sign_read

    headers = {
        "Pidsync-Client": "cris",
        "Pidsync-Signature": sign_read(INTAKE_SECRET, "GET", target),
    }
    return client.get(target, headers=headers)


def test_status_api_after_processing(client, session):
    from tests.helpers import process_event

    receipt = signed_post(client, event(), secret=INTAKE_SECRET).json()
    row = session.execute(select(ReceivedEvent)).scalar_one()
    assert str(row.receipt) == receipt["receipt"]
    process_event(session, row.id)
    session.commit()
    response = _signed_get(client, receipt["status_url"])
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Ocean temperatures 2020"
    assert body["events"][0]["status"] == "done"
    assert _signed_get(client, "/works/https%3A%2F%2Fcris.example.edu/missing").status_code == 404


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    metrics = client.get("/metrics").text
    assert "pidsync_events" in metrics
