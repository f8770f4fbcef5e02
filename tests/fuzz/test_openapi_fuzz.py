"""schemathesis over every operation of the app's OpenAPI document, each request signed as
DESIGN §7 pins: intake bodies over ``"<t>.<raw body>"``, reads over
``"<t>.<METHOD> <path and query>"``. No operation answers 5xx, whatever it is sent."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, reject
from hypothesis import settings as hypothesis_settings

from tests.conftest import INTAKE_SECRET
from worker.config import Settings
from worker.events.signature import sign
from worker.web.app import create_app

#: Examples per operation (the document has about ten): with the intake fuzz, over 2,000 a run.
EXAMPLES_PER_OPERATION = 40


# The document does not depend on the runtime: it is read from an app built without one, and
# every generated request is sent to the test's real app (real PostgreSQL and Redis).
_DOCUMENT_ONLY = SimpleNamespace(settings=Settings(_env_file=None, env="test"))
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(cast("Any", _DOCUMENT_ONLY)))


def signed_request(case: Any) -> dict[str, Any]:
    """The hook that signs what schemathesis generated: the request as the test client sends
    it, with ``Pidsync-Client`` and a ``Pidsync-Signature`` over exactly the bytes and the
    path and query the app receives."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    if "json" in kwargs:
        raw = json.dumps(kwargs.pop("json")).encode()
    else:
        data = kwargs.pop("data", None)
        raw = data.encode() if isinstance(data, str) else (data or b"")
    url = httpx.URL(kwargs["url"], params=kwargs.get("params") or {})
    headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if isinstance(v, str)}
    headers["Pidsync-Client"] = "cris"
    if case.method.upper() == "POST" and case.path == "/events":
        signed = raw
    else:  # a read: no body; the method and the path with its query, as sent
        signed = f"{case.method.upper()} {url.raw_path.decode('ascii')}".encode()
    headers["Pidsync-Signature"] = sign(INTAKE_SECRET, signed)
    return {"method": case.method.upper(), "url": str(url), "content": raw, "headers": headers}


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    # generated cases only: the document's examples combine into thousands of explicit ones
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_5xx(case, client):
    request = signed_request(case)
    try:
        response = client.request(**request)
    except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
        reject()  # the test client cannot send it: no request reached the app
    assert response.status_code < 500, f"{case.method} {request['url']}: {response.text[:300]}"
    assert client.get("/healthz").status_code == 200
