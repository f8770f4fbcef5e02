"""render --validate fetches the official schemas on first use. Whoever can answer for (or
redirect from) the official location must not be able to send the fetch elsewhere: a redirect
to another origin (another host, or https downgraded to http) is refused and nothing is kept;
a response larger than any schema is refused instead of filling the disk."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from worker import reference_fetch
from worker.reference_fetch import SchemaFetchError, fetch_schemas


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with what the server's ``answer`` says: (status, headers, body)."""

    def do_GET(self) -> None:
        status, headers, body = self.server.answer(self.path)  # type: ignore[attr-defined]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _server(answer) -> Iterator[tuple[str, list[str]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    seen: list[str] = []

    def recorded(path: str):
        seen.append(path)
        return answer(path)

    server.answer = recorded  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def _bundles(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_a_redirect_to_another_host_is_not_followed(tmp_path, monkeypatch):
    # Given an "elsewhere" host serving plausible files, and the schema location redirecting
    # every file there
    with (
        _server(lambda path: (200, {}, b"<xs:schema/>")) as (elsewhere, taken),
        _server(lambda path: (302, {"Location": elsewhere + path}, b"")) as (official, _),
    ):
        monkeypatch.setenv("PIDSYNC_SCHEMA_MIRROR", official)
        # When the schemas are fetched
        with pytest.raises(SchemaFetchError) as refused:
            fetch_schemas(tmp_path / "schemas")
    # Then the fetch is refused naming the redirect, nothing was asked of the other host, and
    # no bundle is kept
    assert "redirect" in str(refused.value)
    assert taken == []
    assert _bundles(tmp_path / "schemas") == []


def test_a_redirect_within_the_same_origin_is_followed(tmp_path, monkeypatch):
    # Given a schema location that moved its files to another path on the same server
    def answer(path: str):
        if path.startswith("/moved/"):
            return 200, {}, b"<xs:schema/>"
        return 301, {"Location": "/moved" + path}, b""

    with _server(answer) as (official, _):
        monkeypatch.setenv("PIDSYNC_SCHEMA_MIRROR", official)
        monkeypatch.setattr(reference_fetch, "BUNDLES", {"csl": reference_fetch.BUNDLES["csl"]})
        fetched = fetch_schemas(tmp_path / "schemas")
    # Then the file arrives from its new path
    assert fetched.bundles == ["csl"]
    assert (tmp_path / "schemas" / "csl" / "csl-data.json").read_bytes() == b"<xs:schema/>"


def test_an_endless_answer_is_refused_and_nothing_is_kept(tmp_path, monkeypatch):
    # Given a location answering with far more than any schema holds
    big = b"x" * (reference_fetch.MAX_FILE_BYTES + 1)
    with _server(lambda path: (200, {}, big)) as (official, _):
        monkeypatch.setenv("PIDSYNC_SCHEMA_MIRROR", official)
        with pytest.raises(SchemaFetchError) as refused:
            fetch_schemas(tmp_path / "schemas")
    assert "too large" in str(refused.value)
    assert _bundles(tmp_path / "schemas") == []


def test_a_downgrade_from_https_to_http_is_refused():
    # A redirect from the official https location to plain http would let anyone on the path
    # answer for the schema: refused by the same rule (another origin)
    assert not reference_fetch.same_origin(
        "https://schema.datacite.org/meta/kernel-4.7/metadata.xsd",
        "http://schema.datacite.org/meta/kernel-4.7/metadata.xsd",
    )
    assert not reference_fetch.same_origin(
        "https://schema.datacite.org/a.xsd", "https://schema.datacite.org.evil.example/a.xsd"
    )
    assert reference_fetch.same_origin(
        "https://schema.datacite.org/a.xsd", "https://schema.datacite.org/b/a.xsd"
    )


def test_a_bundle_another_process_completed_meanwhile_is_kept_not_replaced(tmp_path, monkeypatch):
    # Given another process that completes the same bundle while this one is still fetching
    # (two `render --validate` at once on a fresh install); it may be validating against it
    schemas = tmp_path / "schemas"
    theirs = schemas / "csl"
    inode: list[int] = []

    def answer(path: str):
        theirs.mkdir(parents=True)
        (theirs / "csl-data.json").write_bytes(b"theirs")
        inode.append(theirs.stat().st_ino)
        return 200, {}, b"ours"

    with _server(answer) as (official, _):
        monkeypatch.setenv("PIDSYNC_SCHEMA_MIRROR", official)
        monkeypatch.setattr(reference_fetch, "BUNDLES", {"csl": reference_fetch.BUNDLES["csl"]})
        fetch_schemas(schemas)
    # Then their complete bundle is left as it was (never deleted under a reader), and no
    # staging folder of ours remains
    assert theirs.stat().st_ino == inode[0]
    assert (theirs / "csl-data.json").read_bytes() == b"theirs"
    assert _bundles(schemas) == ["csl"]


def test_an_incomplete_bundle_left_by_an_older_fetch_is_replaced(tmp_path, monkeypatch):
    schemas = tmp_path / "schemas"
    (schemas / "csl").mkdir(parents=True)
    (schemas / "csl" / "stray.txt").write_bytes(b"half")
    with _server(lambda path: (200, {}, b"{}")) as (official, _):
        monkeypatch.setenv("PIDSYNC_SCHEMA_MIRROR", official)
        monkeypatch.setattr(reference_fetch, "BUNDLES", {"csl": reference_fetch.BUNDLES["csl"]})
        assert fetch_schemas(schemas).bundles == ["csl"]
    assert sorted(p.name for p in (schemas / "csl").iterdir()) == ["csl-data.json"]
