"""Crossref's notification callback as the sandbox plays it: the registered endpoint (or the one
a deposit names) is called once the submission completes, everything in headers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.helpers import until
from tests.sandbox.deposits import article, deposit
from tests.sandbox.test_crossref_deposit import poll, upload


class Receiver:
    """A local HTTP server that records each request's method, path and headers, answering
    ``status`` (a list: one answer per call, the last repeats)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                receiver.requests.append(
                    {"path": self.path, "headers": {k.upper(): v for k, v in self.headers.items()}}
                )
                index = min(len(receiver.requests), len(receiver.statuses)) - 1
                self.send_response(receiver.statuses[index])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"{len(self.requests)} of {count} calls came"
            time.sleep(0.02)
        return self.requests


def _recorded(sandbox: Any, count: int) -> list[dict[str, Any]]:
    """The sandbox's record of its calls once ``count`` are in: it records a call when the
    answer has come back, a moment after the receiver has seen the request (CI read the state
    in that moment: one of two calls recorded)."""
    until(
        f"{count} notification calls recorded",
        lambda: len(sandbox.state()["crossref"]["notifications"]) >= count,
    )
    return list(sandbox.state()["crossref"]["notifications"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver([204])
    thread = threading.Thread(target=made.server.serve_forever, daemon=True)
    thread.start()
    yield made
    made.server.shutdown()
    thread.join(5)


def test_a_completed_submission_is_announced_to_the_registered_endpoint(
    sandbox, info, http, receiver
):
    sandbox.crossref_notify_endpoint("sandbox-role", "cris.example.1", receiver.url + "/cb/s3cr3t")
    content = deposit(article("10.32013/notify-1"), batch_id="batch-notify-1")
    assert upload(http, info, content, "notify-1.xml").status_code == 200
    (call,) = receiver.wait(1)
    headers = call["headers"]
    assert call["path"] == "/cb/s3cr3t"
    assert headers["CROSSREF-NOTIFY-ENDPOINT"] == "cris.example.1"
    assert headers["CROSSREF-EXTERNAL-ID"] == "batch-notify-1"
    submission = sandbox.state()["crossref"]["submissions"][0]
    assert headers["CROSSREF-INTERNAL-ID"] == str(submission["submission_id"])
    assert submission["status"] == "completed"  # the log is ready when the call comes
    retrieve = headers["CROSSREF-RETRIEVE-URL"]
    assert "doi_batch_id=batch-notify-1" in retrieve and "pwd" not in retrieve
    served = parsedate_to_datetime(headers["CROSSREF-SERVICE-DATE"])
    expires = parsedate_to_datetime(headers["CROSSREF-RETRIEVE-URL-EXPIRATION-DATE"])
    assert expires > served
    # The retrieve URL serves the same log as polling (with credentials)
    answer = poll(http, info, "notify-1.xml")
    assert b'status="completed"' in answer.content
    (made,) = _recorded(sandbox, 1)
    assert (made["status"], made["attempt"]) == (204, 1)


def test_a_deposit_may_name_its_own_callback_and_other_roles_are_not_told(
    sandbox, info, http, receiver
):
    sandbox.crossref_notify_endpoint("other-role", "other.1", receiver.url + "/other")
    content = deposit(article("10.32013/notify-2"), batch_id="batch-notify-2")
    answer = http.post(
        info["crossref_deposit_url"] + "/servlet/deposit",
        data={
            "login_id": info["crossref_login_id"],
            "login_passwd": info["crossref_password"],
            "notify_endpoint": "own.1",
            "notify_url": receiver.url + "/own",
        },
        files={"fname": ("notify-2.xml", content, "application/xml")},
        timeout=10,
    )
    assert answer.status_code == 200
    (call,) = receiver.wait(1)
    assert (call["path"], call["headers"]["CROSSREF-NOTIFY-ENDPOINT"]) == ("/own", "own.1")
    time.sleep(0.3)
    assert len(receiver.requests) == 1  # other-role's endpoint heard nothing


def test_a_refused_callback_is_tried_again(sandbox, info, http, receiver):
    receiver.statuses = [503, 204]
    sandbox.crossref_notify_endpoint("sandbox-role", "cris.example.1", receiver.url + "/cb")
    upload(http, info, deposit(article("10.32013/notify-3")), "notify-3.xml")
    receiver.wait(2)
    made = _recorded(sandbox, 2)
    assert [(n["attempt"], n["status"]) for n in made] == [(1, 503), (2, 204)]


def test_registering_an_unusable_endpoint_is_refused(sandbox, http, info):
    control = info["control_url"] + "/crossref/notify-endpoints"
    bad = [
        {"login_id": "nobody", "endpoint": "x", "url": "https://example.org/cb"},
        {"login_id": "sandbox-role", "endpoint": "x", "url": "ftp://example.org/cb"},
        {"login_id": "sandbox-role", "endpoint": " ", "url": "https://example.org/cb"},
        {"login_id": "sandbox-role", "url": "https://example.org/cb"},
    ]
    for body in bad:
        answer = http.post(control, json=body, timeout=10)
        assert answer.status_code == 400, body
    assert sandbox.state()["crossref"]["notify_endpoints"] == []
