"""An outbound call ends at its deadline and reads no more than the largest body pidsync takes
(issue 17): the client's timeout bounds each read only, so an agency sending its answer a byte
at a time held a worker thread, and the rows its transaction had locked, without end.

The agency here is a real HTTP server on a loopback port, misbehaving on purpose."""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from worker.errors import TransientError
from worker.http import AnswerCutOff, ApiClient, CallRecord, current_limits, set_limits

MIB = 1024 * 1024
#: 50 MB of JSON whitespace, about 50 KB gzipped (built once, before any call's clock starts).
BOMB = gzip.compress(b" " * (50 * MIB), compresslevel=9)


class Agency(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # pidsync hung up
            getattr(self, "_" + self.path.strip("/"))()

    def _head(self, length: int | None, **headers: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()

    def _ok(self) -> None:
        body = b'{"ok": true}'
        self._head(len(body))
        self.wfile.write(body)

    def _trickle(self) -> None:
        # A byte every 50 ms: each read succeeds well within the client's timeout.
        self._head(10_000)
        for _ in range(10_000):
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(0.05)

    def _declared_50mb(self) -> None:
        self._head(50 * MIB)
        self.wfile.write(b"x" * 1024)

    def _undeclared_50mb(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"x" * (64 * 1024)
        for _ in range(50 * MIB // len(chunk)):
            self.wfile.write(chunk)
        self.close_connection = True

    def _gzip_bomb(self) -> None:
        self._head(len(BOMB), Content_Encoding="gzip")
        self.wfile.write(BOMB)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # pidsync hanging up mid-answer is the point of these tests


@pytest.fixture(scope="module")
def agency() -> Iterator[str]:
    server = Server(("127.0.0.1", 0), Agency)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def limits() -> Iterator[None]:
    before = current_limits()
    # A deadline no answer within the limits comes near on a loaded machine.
    set_limits(deadline=30, max_body=MIB)
    yield
    set_limits(before.deadline, before.max_body)


class Agent(ApiClient):
    service = "agency"


@pytest.fixture
def calls() -> list[CallRecord]:
    return []


@pytest.fixture
def client(agency: str, limits: None, calls: list[CallRecord]) -> Agent:
    return Agent(agency, timeout=5, recorder=calls.append)


def test_an_answer_within_the_limits_reads_as_before(client):
    assert client.request("GET", "/ok").json() == {"ok": True}


def test_an_answer_trickling_past_the_deadline_is_cut_off(client, calls):
    set_limits(deadline=0.5, max_body=MIB)  # the agency means to take 500 s
    with pytest.raises(AnswerCutOff) as raised:
        client.request("GET", "/trickle")
    # A transient error naming the service, the call and the deadline; the call is recorded
    assert isinstance(raised.value, TransientError)
    assert "agency GET" in str(raised.value)
    assert "/trickle" in str(raised.value)
    assert "after the 0.5 s deadline" in str(raised.value)
    assert calls[-1].error is not None and "deadline" in calls[-1].error


def test_an_answer_declaring_50_mb_is_refused_before_reading_it(client):
    with pytest.raises(AnswerCutOff, match=r"answer of 52428800 bytes is larger than the 1048576"):
        client.request("GET", "/declared_50mb")


def test_an_answer_streaming_50_mb_is_cut_off_at_the_size_limit(client):
    with pytest.raises(AnswerCutOff, match=r"answer larger than the 1048576 bytes pidsync reads"):
        client.request("GET", "/undeclared_50mb")


def test_a_small_compressed_answer_cannot_inflate_past_the_size_limit(client):
    with pytest.raises(AnswerCutOff, match=r"answer larger than the 1048576 bytes"):
        client.request("GET", "/gzip_bomb")
