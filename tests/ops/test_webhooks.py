"""Every outcome reaches the emitting system: failures after the 202 arrive as signed webhooks
(work.failed, doi.failed, orcid.failed, grant.revoked), each recorded in the commit of the
failure and delivered to the client's URL signed with its secret."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from tests.conftest import INTAKE_SECRET
from tests.helpers import SOURCE
from tests.ops.flows import fail_placement, fail_with_401
from tests.orcid.helpers import authorize
from tests.orcid.helpers import researcher as new_researcher
from tests.registrars.flow import datacite_work, event
from worker.db import pending_messages
from worker.events.signature import verify
from worker.models import EventStatus, NotificationStatus, OutboundNotification
from worker.notify.openapi import webhook_event_schema
from worker.notify.service import deliver
from worker.orcid import revocation


@pytest.fixture
def hook() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(
                (dict(self.headers), self.rfile.read(int(self.headers["Content-Length"])))
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/pidsync", received
    server.shutdown()


def _delivered(session, runtime, url: str, received: list, event_type: str) -> dict[str, Any]:
    """Deliver the one recorded webhook of ``event_type`` and return its verified body."""
    rows = list(
        session.execute(
            select(OutboundNotification).where(OutboundNotification.event_type == event_type)
        ).scalars()
    )
    assert len(rows) == 1, [r.event_type for r in rows]
    assert ("notify.deliver", (rows[0].id,)) in pending_messages(session)
    settings = runtime.settings.model_copy(update={"notify_urls": {"cris": url}})
    assert deliver(session, runtime.webhooks, settings, rows[0].id) is None
    assert rows[0].status == NotificationStatus.DELIVERED
    headers, body = received[-1]
    verify(headers["Pidsync-Signature"], [INTAKE_SECRET], body)  # raises unless signed
    envelope = json.loads(body)
    assert envelope["type"] == event_type
    # And what arrived is what the OpenAPI document's webhooks section promises
    jsonschema.validate(envelope, webhook_event_schema(event_type))
    return envelope["data"]


def _work_failed_for_a_missing_field(session, **_: Any) -> Callable[[dict[str, Any]], None]:
    # A DataCite registration asked for a work without the publisher DataCite requires
    data = datacite_work()
    del data["publisher"]
    outcome = event(session, "work.published", data, event_id="e-missing")
    assert outcome.status == EventStatus.FAILED

    def check(payload: dict[str, Any]) -> None:
        assert payload["source"] == SOURCE and payload["id"] == "w-1"
        assert payload["event"] == {"source": SOURCE, "id": "e-missing", "type": "work.published"}
        assert "publisher" in payload["reason"]
        assert payload["fields"] == ["publisher"]
        assert payload["correlation_id"] == "c-test"

    return check


def _doi_failed(session, registrars, **_: Any) -> Callable[[dict[str, Any]], None]:
    reg = fail_with_401(session, registrars)

    def check(payload: dict[str, Any]) -> None:
        assert payload["doi"] == reg.doi and payload["state"] == "failed"
        assert "401" in payload["message"]

    return check


def _orcid_failed(session, sandbox, orcid_deps, cipher, client_id, **_: Any):
    row = fail_placement(session, sandbox, orcid_deps, cipher, client_id)

    def check(payload: dict[str, Any]) -> None:
        assert payload["orcid"] == row.orcid and payload["id"] == "p-1"
        assert "gave up after" in payload["error"]

    return check


def _grant_revoked(session, sandbox, cipher, client_id, runtime, **_: Any):
    orcid = new_researcher(sandbox)
    authorize(session, sandbox, cipher, orcid, client_id)
    revocation.revoke_grants(session, runtime.settings, orcid, None, "asked by the researcher")

    def check(payload: dict[str, Any]) -> None:
        assert payload["orcid"] == orcid and payload["client_id"] == client_id
        assert payload["reason"] == "asked by the researcher"

    return check


@pytest.mark.parametrize(
    ("event_type", "make"),
    [
        ("work.failed", _work_failed_for_a_missing_field),
        ("doi.failed", _doi_failed),
        ("orcid.failed", _orcid_failed),
        ("grant.revoked", _grant_revoked),
    ],
)
def test_a_failure_reaches_the_cris_as_a_signed_webhook(
    event_type, make, session, runtime, registrars, sandbox, orcid_deps, cipher, client_id, hook
):
    url, received = hook
    # The CRIS has its webhook URL configured when the failure happens (a client without one
    # gets its row as no_endpoint and no delivery).
    runtime.settings.notify_urls["cris"] = url
    check = make(
        session=session,
        runtime=runtime,
        registrars=registrars,
        sandbox=sandbox,
        orcid_deps=orcid_deps,
        cipher=cipher,
        client_id=client_id,
    )
    check(_delivered(session, runtime, url, received, event_type))


def test_an_event_that_gave_up_tells_the_cris(session, runtime):
    # Given an event whose processing kept killing its worker (the dead-letter path)
    from worker.events.service import mark_failed
    from worker.models import ReceivedEvent
    from worker.notify.service import envelope

    row = ReceivedEvent(
        source=SOURCE, event_id="e-9", type="researcher.revoked", client_id="cris",
        correlation_id="c-9", data={"orcid": "0000-0002-1825-0097"},
    )  # fmt: skip
    session.add(row)
    session.flush()
    mark_failed(session, row.id, "the worker died 3 times processing it")
    sent = session.execute(select(OutboundNotification)).scalar_one()
    # Then an event.failed (not about a work: no id) names the event and the reason
    assert sent.event_type == "event.failed"
    assert sent.payload["event"]["id"] == "e-9"
    assert sent.payload["reason"] == "the worker died 3 times processing it"
    assert "id" not in sent.payload
    jsonschema.validate(envelope(sent), webhook_event_schema("event.failed"))
