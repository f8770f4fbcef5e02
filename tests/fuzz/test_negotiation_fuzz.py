"""doi.org's content-negotiation answers, generated, through the real Negotiator: CSL-JSON,
BibTeX, RIS, DataCite XML and Crossref XML bodies with any Content-Type and charset, and the
Work made from them (``to_work``: DataCite XML for DataCite DOIs, the Crossref REST message for
Crossref DOIs, CSL-JSON for the others). Each resolve gives the answer's text or a typed error
(tests.fuzz.answers.TYPED); each ``to_work`` a Work or a typed error."""

from __future__ import annotations

import json
from typing import Any

import requests
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.answers import TYPED, Canned, fuzz, golden, hostile_bodies
from tests.fuzz.test_xml_answers_fuzz import CROSSREF_MESSAGES, reshaped, spliced
from worker.pids.client import CrossrefRestClient
from worker.pids.negotiation import Negotiator

BASE = "https://doi.example"
BODIES = {
    "csl": golden(".csl.json"),
    "bibtex": golden(".bib"),
    "ris": golden(".ris"),
    "datacite-xml": golden(".datacite.xml"),
    "crossref-xml": golden(".crossref.xml"),
}
content_types = st.sampled_from(
    ["application/vnd.citationstyles.csl+json", "application/x-bibtex; charset=utf-8",
     "application/x-research-info-systems; charset=latin-1", "text/plain; charset=no-such",
     "application/xml; charset=utf-16", "text/html", "", "application/json;;charset="]
)  # fmt: skip


class Routed(Canned):
    """doiRA answers with ``agency``; every other request with the canned body."""

    def __init__(self, agency: str, status: int, body: bytes, content_type: str) -> None:
        super().__init__(status, body, {"Content-Type": content_type} if content_type else {})
        self.doira = json.dumps([{"DOI": "10.5555/x", "RA": agency}]).encode()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        response = super().send(request, *args, **kwargs)
        if "/doiRA/" in (request.url or ""):
            response._content = self.doira  # the one way to hand requests a body
            response.status_code = 200
        return response


def _negotiator(agency: str, status: int, body: bytes, content_type: str) -> Negotiator:
    session = requests.Session()
    adapter = Routed(agency, status, body, content_type)
    session.mount("https://", adapter)
    session.mount("http://", adapter)  # both, or the read session mounts a real adapter
    crossref = CrossrefRestClient(BASE, session=session)
    return Negotiator(BASE, crossref=crossref, session=session)


def _bodies(fmt: str) -> st.SearchStrategy[bytes]:
    seeds = BODIES[fmt]
    texts = st.one_of(st.sampled_from(seeds).map(str.encode), spliced(seeds), hostile_bodies)
    if fmt.endswith("xml"):
        return st.one_of(texts, reshaped(seeds))
    return texts


@st.composite
def answers(draw: st.DrawFn) -> tuple[str, bytes, str, int]:
    fmt = draw(st.sampled_from(sorted(BODIES)))
    status = draw(st.sampled_from([200, 200, 200, 204, 300, 404, 406, 410, 429, 503]))
    return fmt, draw(_bodies(fmt)), draw(content_types), status


@fuzz(200)
@given(answer=answers())
@example(answer=("csl", b"[" * 100_000 + b"]" * 100_000, "application/json", 200))
@example(answer=("bibtex", b"\xff\xfe@article{", "text/plain; charset=no-such", 200))
@example(answer=("datacite-xml", b"<!DOCTYPE r [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><r>&e;</r>",
                 "application/xml", 200))  # fmt: skip
def test_resolve_gives_the_text_or_a_typed_error(answer):
    fmt, body, content_type, status = answer
    negotiator = _negotiator("DataCite", status, body, content_type)
    try:
        resolved = negotiator.resolve("10.5555/x", fmt)
    except TYPED:
        return
    assert isinstance(resolved.text, str)
    assert "root:x:0:0" not in resolved.text or b"root:x:0:0" in body


@fuzz(200)
@given(
    agency=st.sampled_from(["DataCite", "Crossref", "mEDRA"]),
    body=st.one_of(
        _bodies("datacite-xml"),
        _bodies("csl"),
        st.sampled_from(
            [json.dumps({"status": "ok", "message": m}).encode() for m in CROSSREF_MESSAGES]
        ),
    ),
)
@example(agency="Crossref", body=b'{"message": {"author": 1, "title": ["t"], "type": "x"}}')
@example(agency="mEDRA", body=b'{"type": "article", "title": "t", "author": [1]}')
@example(agency="mEDRA", body=b"[" * 100_000 + b"]" * 100_000)
@example(agency="DataCite", body=b"<resource xmlns='http://datacite.org/schema/kernel-4'/>")
def test_to_work_gives_a_work_or_a_typed_error(agency, body):
    negotiator = _negotiator(agency, 200, body, "application/json")
    try:
        work, notes = negotiator.to_work("10.5555/x")
    except TYPED:
        return
    assert work.id and all(isinstance(note, str) for note in notes)
