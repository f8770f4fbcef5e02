"""Each agency, played by a tiny HTTP server started here on loopback, answers with hostile
bodies (XXE, entity expansion, JSON nested past the stack, megabytes, cut short, HTML, the wrong
shape) and pidsync's real clients, over real HTTP, turn each into a typed error. For DataCite
the whole service runs too, over the real PostgreSQL: the registration records a clear failure
naming DataCite and stays unconfirmed (nothing half-done), and the process goes on."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz.answers import TYPED
from tests.helpers import settings_with_accounts
from tests.registrars.flow import datacite_work, event, registration, sync
from worker.config import CrossrefAccount, DataCiteAccount, Settings
from worker.models import DoiState
from worker.orcid.client import MemberClient
from worker.pids.negotiation import Negotiator
from worker.registrars.crossref.client import CrossrefClient
from worker.registrars.datacite.client import DataCiteClient

MARKER = "pidsync-agency-xxe-5e0a"
NESTED = b"[" * 100_000 + b"]" * 100_000
#: 4.5 MB of valid JSON:API without a state: read whole, and a DOI in no state is no success.
HUGE = b'{"data": {"attributes": {"titles": [' + b'{"title": "x"},' * 300_000 + b"{}]}}}"


def _xxe(root: str, secret: Path) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE {root} [<!ENTITY e SYSTEM "file://{secret}">'
        f'<!ENTITY l0 "lol">'
        + "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
        + f']><{root} status="completed"><record_diagnostic status="Failure"><doi>&e;</doi>'
        f"<msg>&e;&l9;</msg></record_diagnostic></{root}>"
    ).encode()


class _Agency(http.server.BaseHTTPRequestHandler):
    """Answers every request with the class's current (status, headers, body); ``cut`` sends
    a Content-Length larger than the body and closes the connection (an answer cut short)."""

    answer: tuple[int, dict[str, str], bytes] = (200, {}, b"")
    cut = False
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers, body = self.answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) + (1000 if self.cut else 0)))
        if self.cut:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        if self.cut:
            self.close_connection = True

    do_GET = do_POST = do_PUT = _answer  # noqa: N815 - http.server's names

    def log_message(self, *args: Any) -> None:
        del args


@pytest.fixture(scope="module")
def agency() -> Iterator[tuple[str, type[_Agency]]]:
    handler = type("Agency", (_Agency,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("agency") / "secret.txt"
    path.write_text(MARKER)
    return path


def _answers(secret: Path) -> dict[str, tuple[int, dict[str, str], bytes, bool]]:
    json_type = {"Content-Type": "application/json"}
    return {
        "nested json": (200, json_type, NESTED, False),
        "nested json in a 422": (422, json_type, NESTED, False),
        "huge": (200, json_type, HUGE, False),
        "cut short": (200, json_type, b'{"data": {"attri', True),
        "html": (200, {"Content-Type": "text/html"}, b"<html>Bad gateway</html>", False),
        "wrong shape": (200, json_type, b'{"data": [], "group": 1, "bulk": {}}', False),
        "xxe": (200, {"Content-Type": "application/xml"}, _xxe("doi_batch_diagnostic", secret), False),
    }  # fmt: skip


ANSWERS = ["nested json", "nested json in a 422", "huge", "cut short", "html", "wrong shape", "xxe"]
#: Answers no call can read anything usable from.
UNUSABLE = {"nested json", "nested json in a 422", "cut short", "html", "xxe"}


def _serve(agency: tuple[str, type[_Agency]], secret: Path, name: str) -> str:
    url, handler = agency
    status, headers, body, cut = _answers(secret)[name]
    handler.answer, handler.cut = (status, headers, body), cut
    return url


def _typed(call: Any) -> Any:
    try:
        result = call()
    except TYPED as exc:
        result = exc
    said = str(result) if isinstance(result, Exception) else repr(result)
    assert MARKER not in said and "lollol" not in said  # nothing read from disk, nothing expanded
    return result


@pytest.mark.parametrize("name", ANSWERS)
def test_each_agency_client_turns_a_hostile_answer_into_a_typed_error(agency, secret, name):
    url = _serve(agency, secret, name)
    datacite = DataCiteClient(
        DataCiteAccount(url=url, repository_id="EX.REPO", password="pw", prefixes=["10.5555"])
    )
    crossref = CrossrefClient(
        CrossrefAccount(deposit_url=url, login_id="ex", password="pw", prefixes=["10.5555"])
    )
    orcid = MemberClient(url)
    negotiator = Negotiator(url, redirect_hosts=["127.0.0.1"])
    outcomes = [
        _typed(lambda: datacite.put_doi("10.5555/x", {"titles": []}, None)),
        _typed(lambda: crossref.submission_result("f.xml")),
        _typed(lambda: orcid.works("0000-0002-1825-0097", "token")),
        _typed(lambda: orcid.add_works("0000-0002-1825-0097", "token", [{}])),
        _typed(lambda: orcid.read_work("0000-0002-1825-0097", "token", 1)),
        _typed(lambda: negotiator.to_work("10.5555/x")),
    ]
    # An unreadable answer is an error for each call (but the Crossref diagnostic read without
    # its entities); others may read as a result (fewer bulk items than sent: in doubt)
    if name in UNUSABLE:
        assert all(isinstance(o, Exception) for i, o in enumerate(outcomes) if i != 1), outcomes


@pytest.fixture
def settings(tmp_path: Path, agency: tuple[str, type[_Agency]]) -> Settings:
    """DataCite's account at the hostile agency."""
    url, _handler = agency
    base = settings_with_accounts(tmp_path)
    account = base.datacite_accounts[0].model_copy(update={"url": url})
    return base.model_copy(update={"datacite_accounts": [account]})


@pytest.mark.parametrize("name", ["nested json", "huge", "cut short", "html", "wrong shape"])
def test_a_hostile_datacite_answer_is_a_recorded_failure_and_nothing_half_done(
    runtime, session, agency, secret, name
):
    # Given a work whose DOI pidsync registers at DataCite
    event(session, "work.published", datacite_work("w-1"))
    reg = registration(session, "w-1")
    _serve(agency, secret, name)
    # When DataCite answers the PUT with a hostile body
    delay = sync(session, runtime.registrars, reg)
    session.refresh(reg)
    # Then the try is recorded with a reason naming DataCite (to be tried again, or failed for
    # a person to act on), and nothing is confirmed
    assert reg.last_error and "DataCite" in reg.last_error
    assert (delay is not None and delay > 0) or reg.state == DoiState.FAILED
    assert reg.confirmed_hash is None
    assert reg.state not in (DoiState.FINDABLE, DoiState.REGISTERED)
