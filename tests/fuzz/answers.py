"""What the agencies' answers are fuzzed from: real-shaped seed documents (the golden files and
the sandbox's own renderings), a strategy that mutates them at random paths with hostile values,
hostile XML payloads (XXE, entity expansion), and a transport that hands a client a canned
answer, so the real client code (worker.http's plumbing included) parses it without a socket.

"A clear error" means one of the typed errors a caller handles: worker.errors' PidsyncError
(TransientError, PermanentError), worker.http's HttpError, the metadata layer's MetadataError.
Anything else (KeyError, AttributeError, RecursionError, ...) is a crash: the actor would die
with a traceback and the message would spend dramatiq's retries."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import requests
import urllib3
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from requests.adapters import BaseAdapter

from tests.fuzz.strategies import deep, hostile_text, json_values
from worker.config import SearchSettings
from worker.errors import PidsyncError
from worker.http import HttpError
from worker.metadata.errors import MetadataError
from worker.pids.readonly import read_retry

GOLDEN = Path(__file__).parents[1] / "metadata" / "golden"
TYPED = (PidsyncError, HttpError, MetadataError)


def fuzz(examples: int) -> Any:
    """Hypothesis settings for answer fuzzing: no example store in the work tree (a failure
    prints its input), no deadline (the machine is shared; sizes are bounded instead)."""
    return hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


def golden(suffix: str) -> list[str]:
    """The golden files ending in ``suffix`` (real renderings, valid against the schemas)."""
    return [p.read_text(encoding="utf-8") for p in sorted(GOLDEN.glob(f"*{suffix}"))]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return doc


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Any]) -> Any:
    """A seed document with one to four of its values (any depth, the root included) replaced
    by hostile JSON: wrong types, NaN, huge integers, lone surrogates, deep nesting."""
    doc = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        # Deeper paths are likelier: a wrong type deep inside is what a careless parser misses.
        path = draw(st.sampled_from(sorted(paths, key=len)[len(paths) // 3 :] or paths))
        value = draw(st.one_of(json_values, deep(), hostile_text, st.just(None)))
        doc = _replace(doc, path, value)
    return doc


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


#: Bodies no JSON answer should ever be, each a different way to break a parser.
HOSTILE_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"1e99999",
    b"NaN",
    b"{" * 5,
    b"[" * 100_000 + b"]" * 100_000,  # past the recursion limit of json
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"\xff\xfe\x00<",
    b"<html><body>Bad gateway</body></html>",
    b'{"data": ' + b"1" * 5_000 + b"}",
]
hostile_bodies = st.one_of(
    st.sampled_from(HOSTILE_BODIES),
    st.binary(max_size=64),
    st.lists(st.sampled_from([b"{", b"}", b"[", b"]", b'"', b":", b",", b"null", b"1", b'"put-code"',
                              b'"group"', b'"bulk"', b'"data"', b'"message"', b"\\ud800"]),
             max_size=16).map(b"".join),
)  # fmt: skip


class Canned(BaseAdapter):
    """A transport answering every request with one canned response (status, headers, body):
    the client's real code runs, no socket is opened."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.status = status
        self.body = body
        self.headers = headers or {"Content-Type": "application/json"}
        self.calls = 0
        # worker.pids.readonly keeps a session whose adapters carry its retry policy.
        self.max_retries = read_retry(SearchSettings())

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        del args, kwargs
        self.calls += 1
        response = requests.Response()
        response.status_code = self.status
        response._content = self.body  # the one way to hand requests a body
        # ...and the same bytes as the socket's stream, which worker.http reads (read1, under
        # its deadline and size cap) where answers are streamed.
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(self.body), headers=self.headers, status=self.status,
            preload_content=False, decode_content=False,
        )  # fmt: skip
        response.headers.update(self.headers)
        response.url = request.url or ""
        response.request = request
        response.encoding = None
        return response

    def close(self) -> None:
        return None


def canned_session(status: int, body: bytes, headers: dict[str, str] | None = None) -> Any:
    session = requests.Session()
    adapter = Canned(status, body, headers)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
