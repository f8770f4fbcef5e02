"""The documentation's code examples are run, as an integrator would run them: each one signs
and sends an event to a real pidsync web process (with a worker applying it), reads the event
and the work back through signed reads, and verifies a webhook pidsync really delivered. A
webhook whose body was altered must be refused by each of them.

Java and PHP run where their toolchains are installed (JDK 17 `javac`/`java`; Debian's
`php-cli`); elsewhere those cases are skipped, naming what is missing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dramatiq
import pytest

from tests.conftest import INTAKE_SECRET
from worker.events.signature import sign
from worker.notify.service import deliver, notify

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def runtime(committed_runtime):
    # Real HTTP and a real worker: every unit of work commits for real.
    return committed_runtime


@pytest.fixture
def worker(runtime, broker) -> Iterator[None]:
    import worker.actors  # noqa: F401 - the worker declares every actor

    consumer = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    consumer.start()
    yield
    consumer.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """The CRIS's webhook endpoint: records what pidsync POSTs."""
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append((dict(self.headers), self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hooks", received
    server.shutdown()


@pytest.fixture
def webhook(runtime, receiver, tmp_path) -> tuple[Path, str]:
    """A doi.registered webhook pidsync delivered to the receiver: its raw body in a file and
    its Pidsync-Signature header."""
    url, received = receiver
    payload = {"source": "https://cris.example.edu", "id": "w-1", "doi": "10.5555/abc",
               "registrar": "datacite", "account": "default", "state": "findable",
               "change": "registered"}  # fmt: skip
    settings = runtime.settings.model_copy(update={"notify_urls": {"cris": url}})
    with runtime.database.session() as session:
        row_id = notify(session, client_id="cris", event_type="doi.registered", payload=payload)
        assert deliver(session, runtime.webhooks, settings, row_id) is None
    headers, body = received[-1]
    path = tmp_path / "webhook.json"
    path.write_bytes(body)
    return path, headers["Pidsync-Signature"]


def _java(tmp_path: Path) -> list[str]:
    build = tmp_path / "java"
    subprocess.run(
        ["javac", "-d", str(build), str(EXAMPLES / "java" / "Integrate.java")],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return ["java", "-cp", str(build), "Integrate"]


#: language -> (tools it needs, how to run it)
LANGUAGES: dict[str, tuple[tuple[str, ...], Any]] = {
    "python": ((), lambda _: [sys.executable, str(EXAMPLES / "python" / "integrate.py")]),
    "curl-openssl": (
        ("bash", "curl", "openssl"),
        lambda _: ["bash", str(EXAMPLES / "shell" / "integrate.sh")],
    ),
    "java": (("javac", "java"), _java),
    "php": (("php",), lambda _: ["php", str(EXAMPLES / "php" / "integrate.php")]),
}


def _command(language: str, tmp_path: Path) -> list[str]:
    tools, command = LANGUAGES[language]
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the {language} example needs {', '.join(missing)}, not installed here")
    return command(tmp_path)


def _run(command: list[str], url: str, body: Path, signature: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PIDSYNC_URL": url,
        "PIDSYNC_CLIENT": "cris",
        "PIDSYNC_SECRET": INTAKE_SECRET,
        "WEBHOOK_BODY_FILE": str(body),
        "WEBHOOK_SIGNATURE": signature,
    }
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_the_example_sends_reads_back_and_verifies_a_webhook(
    language, live_server, worker, webhook, tmp_path
):
    command = _command(language, tmp_path)
    body, signature = webhook
    done = _run(command, live_server, body, signature)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    # The event was accepted with a receipt, which reads back signed
    assert re.fullmatch(r"accepted [0-9a-f-]{36}", lines[0]), lines
    assert lines[1].startswith("event ") and lines[1] != "event None", lines
    # The worker applied it: the work reads back by its source URL
    assert lines[2].startswith("work 200"), lines
    # And the webhook pidsync delivered was verified
    assert lines[3].startswith("webhook verified doi.registered"), lines


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_the_example_refuses_a_webhook_whose_body_was_altered(
    language, live_server, worker, webhook, tmp_path
):
    command = _command(language, tmp_path)
    body, signature = webhook
    forged = tmp_path / "forged.json"
    forged.write_bytes(body.read_bytes().replace(b"10.5555/abc", b"10.5555/evil"))
    done = _run(command, live_server, forged, signature)
    assert done.returncode != 0
    assert "webhook refused" in done.stdout
    assert "webhook verified" not in done.stdout


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_the_example_refuses_a_signed_intake_request_replayed_as_a_webhook(
    language, live_server, worker, tmp_path
):
    # Given a request the CRIS itself signed for pidsync (same secret, same format), captured
    command = _command(language, tmp_path)
    raw = json.dumps(
        {"specversion": "1.0", "id": "e-1", "source": "https://cris.example.edu",
         "type": "doi.registered", "data": {"doi": "10.5555/abc"}}
    ).encode()  # fmt: skip
    body = tmp_path / "reflected.json"
    body.write_bytes(raw)
    # When it is replayed at the CRIS's webhook receiver
    done = _run(command, live_server, body, sign(INTAKE_SECRET, raw))
    # Then the receiver refuses it: only pidsync's own webhooks carry the source "pidsync"
    assert done.returncode != 0
    assert "webhook refused" in done.stdout
    assert "webhook verified" not in done.stdout


def test_a_webhook_with_another_secret_is_refused_by_the_python_example(
    live_server, worker, webhook, tmp_path
):
    body, _ = webhook
    forged = "t={},v1={}".format(*json.dumps([0, "0" * 64])[1:-1].split(", "))
    done = _run(_command("python", tmp_path), live_server, body, forged)
    assert done.returncode != 0
    assert "webhook refused" in done.stdout


# --- the consent redirect ----------------------------------------------------------------------

ORCID_SECRET = "orcid-client-secret"
#: A person id whose form-encoding differs between Python, Java and PHP unless aligned.
PERSON = "p 17~*ü/&="

CONSENT: dict[str, tuple[tuple[str, ...], Any]] = {
    "python": ((), lambda _: [sys.executable, str(EXAMPLES / "python" / "consent.py")]),
    "java": (("javac", "java"), lambda tmp: _compiled(tmp, "Consent")),
    "php": (("php",), lambda _: ["php", str(EXAMPLES / "php" / "consent.php")]),
}


def _compiled(tmp_path: Path, name: str) -> list[str]:
    build = tmp_path / "java"
    subprocess.run(
        ["javac", "-d", str(build), str(EXAMPLES / "java" / f"{name}.java")],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return ["java", "-cp", str(build), name]


def _consent_command(language: str, tmp_path: Path) -> list[str]:
    tools, command = CONSENT[language]
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the {language} example needs {', '.join(missing)}, not installed here")
    return command(tmp_path)


def _redirect(**changes: str) -> str:
    import time

    from worker.orcid.return_to import signed_url

    params = {"orcid": "0000-0002-1825-0097", "orcid_status": "granted",
              "orcid_ts": str(int(time.time())), "person": PERSON}  # fmt: skip
    url = signed_url("https://cris.example.edu/orcid/done?tab=1", ORCID_SECRET, params)
    for name, value in changes.items():  # what someone typing a URL could change
        url = re.sub(rf"([?&]{name}=)[^&]*", lambda m, v=value: m.group(1) + v, url)
    return url


def _check(command: list[str], url: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",  # the person id is printed back: non-ASCII must survive
        "ORCID_CLIENT_SECRET": ORCID_SECRET,
    }
    return subprocess.run(
        [*command, url], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("language", list(CONSENT))
def test_the_consent_check_trusts_what_pidsync_signed(language, tmp_path):
    done = _check(_consent_command(language, tmp_path), _redirect())
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"trusted 0000-0002-1825-0097 granted {PERSON}"


@pytest.mark.parametrize("language", list(CONSENT))
@pytest.mark.parametrize(
    "changes",
    [{"orcid_status": "granted", "orcid": "0000-0001-5109-3700"}, {"person": "p-18"},
     {"orcid_ts": "1000000000"}, {"orcid_sig": "0" * 64}],
    ids=["other-orcid", "other-person", "old", "forged-signature"],
)  # fmt: skip
def test_the_consent_check_refuses_a_changed_redirect(language, changes, tmp_path):
    done = _check(_consent_command(language, tmp_path), _redirect(**changes))
    assert done.returncode != 0
    assert done.stdout.strip() == "refused"
