"""What pidsync parses as XML from outside, under generated and hostile input: Crossref's
submission result (``<doi_batch_diagnostic>``), DataCite XML (doi.org's ``datacite-xml``
answer and ``pidsync render --from datacite-xml``), and the JATS abstracts inside Crossref REST
messages; and the metadata adapters' JSON inputs (CSL-JSON, Crossref REST, DataCite JSON), as
doi.org serves them and as ``pidsync render --from`` reads them.

Each parse gives a result or a typed error (tests.fuzz.answers.TYPED). XXE and entity
expansion stay inert: no file is read (its marker never shows in a result or an error), no URL
is fetched (a local server counts requests: none), and entities are not expanded (the memory
high-water mark of the process hardly moves; the results stay small)."""

from __future__ import annotations

import http.server
import json
import resource
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from lxml import etree

from tests.fuzz.answers import TYPED, fuzz, golden, mutated
from tests.fuzz.strategies import hostile_text
from worker.metadata import adapters
from worker.registrars.crossref.client import parse_result

EXAMPLES = 150
DIAGNOSTIC = """<?xml version="1.0" encoding="UTF-8"?>
<doi_batch_diagnostic status="completed" sp="sandbox">
  <submission_id>1</submission_id><batch_id>b-1</batch_id>
  <record_diagnostic status="Success"><doi>10.32013/A</doi><msg>Successfully added</msg>
  </record_diagnostic>
  <record_diagnostic status="Failure"><doi>10.32013/c</doi><msg>Record not processed</msg>
  </record_diagnostic>
  <batch_data><record_count>2</record_count></batch_data>
</doi_batch_diagnostic>"""
DATACITE_XML = golden(".datacite.xml")
CSL = [json.loads(text) for text in golden(".csl.json")]
DATACITE_JSON = [json.loads(text) for text in golden(".datacite.json")]
CROSSREF_MESSAGES = [
    {"DOI": "10.5555/x", "type": "journal-article", "title": ["T"], "container-title": ["J"],
     "author": [{"given": "A", "family": "B", "ORCID": "https://orcid.org/0000-0002-1825-0097",
                 "affiliation": [{"name": "U", "id": [{"id": "https://ror.org/02mhbdp94",
                                                       "id-type": "ROR"}]}]}],
     "issued": {"date-parts": [[2020, 1, 2]]}, "abstract": "<jats:p>An abstract</jats:p>",
     "funder": [{"name": "F", "DOI": "10.13039/501100000780", "award": ["A1"]}],
     "license": [{"URL": "https://creativecommons.org/licenses/by/4.0/",
                  "content-version": "vor"}],
     "relation": {"is-preprint-of": [{"id-type": "doi", "id": "10.5555/y"}]},
     "event": {"name": "E", "start": {"date-parts": [[2020]]}}, "ISSN": ["1234-5678"],
     "issn-type": [{"type": "print", "value": "1234-5678"}], "subtype": "preprint"},
]  # fmt: skip

_TOKENS = ["<", ">", "&", "&amp;", "&#0;", "&#xD800;", "&#x110000;", "]]>", "<!--", "<![CDATA[",
           "</resource>", "<x>", "</x>", '"', "'", "=", "xmlns:a='b'", "&lt;", "<?pi x?>",
           "<!DOCTYPE r>", "\x00", "\ufffe", "\u2028", "é", "a" * 300]  # fmt: skip


@st.composite
def spliced(draw: st.DrawFn, seeds: list[str]) -> bytes:
    """A seed document with hostile tokens spliced in at random places (the parser's side)."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.one_of(st.sampled_from(_TOKENS), hostile_text)) + text[at:]
    return text.encode("utf-8", "surrogatepass")


_XML_CHAR = st.characters(
    blacklist_categories=["Cs", "Cc"], blacklist_characters="\ufffe\uffff"
) | st.sampled_from(["\t", "\n"])


@st.composite
def reshaped(draw: st.DrawFn, seeds: list[str]) -> bytes:
    """A seed document, well formed, with elements emptied, repeated, moved or refilled with
    arbitrary text and attributes (the reader's side: a shape the agency never documented)."""
    root = etree.fromstring(draw(st.sampled_from(seeds)).encode())
    elements = list(root.iter())
    for _ in range(draw(st.integers(1, 6))):
        element = draw(st.sampled_from(elements))
        action = draw(st.integers(0, 4))
        text = draw(st.text(_XML_CHAR, max_size=40))
        if action == 0:
            element.text = text
        elif action == 1 and element is not root and element.getparent() is not None:
            element.getparent().remove(element)
            elements = list(root.iter())
        elif action == 2:
            element.set(draw(st.sampled_from(["status", "nameType", "lang",
                                              "resourceTypeGeneral", "identifierType"])), text)  # fmt: skip
        elif action == 3 and element is not root:
            parent = element.getparent()
            if parent is not None:
                parent.append(etree.fromstring(etree.tostring(element)))
        else:
            for child in list(element):
                element.remove(child)
            element.text = text
            elements = list(root.iter())
    return etree.tostring(root)


def _datacite_xml(body: bytes) -> Any:
    return adapters.datacite_xml_to_work(body)


def _typed_or_result(call: Any) -> Any:
    try:
        return call()
    except TYPED as exc:
        return exc


@fuzz(EXAMPLES)
@given(body=st.one_of(spliced([DIAGNOSTIC]), reshaped([DIAGNOSTIC]), st.binary(max_size=64)))
@example(body=b"")
@example(body=b"<!-- only a comment -->")
@example(body=b"<?xml version='1.0' encoding='UTF-16'?><doi_batch_diagnostic/>")
@example(body="<doi_batch_diagnostic status='\u00e9'/>".encode("latin-1"))
def test_crossref_results_are_read_or_a_typed_error(body):
    outcome = _typed_or_result(lambda: parse_result(body))
    if isinstance(outcome, Exception):
        assert str(outcome)
        return
    for record in outcome.records:
        assert record.doi == record.doi.strip().lower()
        assert record.message or record.status.value in ("Success", "Warning")


@fuzz(EXAMPLES)
@given(body=st.one_of(spliced(DATACITE_XML), reshaped(DATACITE_XML)))
@example(body=b"<resource xmlns='http://datacite.org/schema/kernel-4'/>")
@example(body=b"<resource xmlns='http://datacite.org/schema/kernel-4'><creators>x</creators>"
         b"</resource>")  # fmt: skip
def test_datacite_xml_becomes_a_work_or_a_typed_error(body):
    outcome = _typed_or_result(lambda: _datacite_xml(body))
    if not isinstance(outcome, Exception):
        work, notes = outcome
        assert work.id and all(isinstance(note, str) for note in notes)


@fuzz(EXAMPLES)
@given(data=mutated(CSL))
@example(data={"type": "article-journal", "title": "t", "author": [1]})
@example(data={"type": "article-journal", "title": "t", "issued": {"date-parts": [[1e300]]}})
def test_csl_json_becomes_a_work_or_a_typed_error(data):
    _typed_or_result(lambda: adapters.csl_to_work(data))


@fuzz(EXAMPLES)
@given(data=mutated(CROSSREF_MESSAGES))
@example(data={**CROSSREF_MESSAGES[0], "author": [1]})
@example(data={**CROSSREF_MESSAGES[0], "funder": [{"name": "F", "award": 1}]})
@example(data={**CROSSREF_MESSAGES[0], "relation": {"is-preprint-of": [1]}})
@example(data={**CROSSREF_MESSAGES[0], "abstract": "<jats:p>&xxe;</jats:p>"})
def test_crossref_messages_become_a_work_or_a_typed_error(data):
    _typed_or_result(lambda: adapters.crossref_message_to_work(data))


@fuzz(EXAMPLES)
@given(data=mutated(DATACITE_JSON))
@example(data={"doi": "10.5555/x", "titles": [1], "types": 1})
@example(data={"data": {"attributes": 1}})
def test_datacite_json_becomes_a_work_or_a_typed_error(data):
    _typed_or_result(lambda: adapters.datacite_attributes_to_work(data))


# --- XXE and entity expansion ------------------------------------------------------------------

MARKER = "pidsync-xxe-marker-5f1c"


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []  # noqa: RUF012 - one list per server class, read by the test

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = f'<!ENTITY leak "{MARKER}">'.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        del args


@pytest.fixture(scope="module")
def listener() -> Iterator[tuple[str, list[str]]]:
    handler = type("Handler", (_Counting,), {"hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.hits
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xxe") / "secret.txt"
    path.write_text(MARKER)
    return path


def _payloads(url: str, secret: Path) -> dict[str, str]:
    """DOCTYPE internal subsets, each put before a document whose read fields use ``&e;``."""
    laughs = '<!ENTITY e0 "lol">' + "".join(
        f'<!ENTITY e{i} "{("&e" + str(i - 1) + ";") * 10}">' for i in range(1, 11)
    )
    return {
        "file entity": f'<!ENTITY e SYSTEM "file://{secret}">',
        "http entity": f'<!ENTITY e SYSTEM "{url}/entity">',
        "file parameter entity": f'<!ENTITY % p SYSTEM "file://{secret}"> %p; <!ENTITY e "x">',
        "http parameter entity": f'<!ENTITY % p SYSTEM "{url}/dtd"> %p; <!ENTITY e "&leak;">',
        "billion laughs": laughs.replace("e10", "e"),
        "quadratic blowup": f'<!ENTITY e "{"A" * 50_000}">',
    }


def _document(kind: str, subset: str, url: str, repeat: int) -> bytes:
    uses = "&e;" * repeat
    if kind == "crossref":
        body = (f'<doi_batch_diagnostic status="completed"><record_diagnostic status="Failure">'
                f"<doi>10.5555/{uses}</doi><msg>{uses}</msg></record_diagnostic>"
                "</doi_batch_diagnostic>")  # fmt: skip
        root = "doi_batch_diagnostic"
    else:
        body = (
            DATACITE_XML[0]
            .split("?>", 1)[1]
            .replace("<titles>", f"<titles><title>{uses}</title>", 1)
        )
        root = "resource"
    doctype = f"<!DOCTYPE {root} SYSTEM '{url}/external.dtd' [{subset}]>"
    return f'<?xml version="1.0" encoding="UTF-8"?>{doctype}{body}'.encode()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield str(key)
            yield from _strings(child)
    elif isinstance(value, list | tuple):
        for child in value:
            yield from _strings(child)
    elif hasattr(value, "model_dump"):
        yield from _strings(value.model_dump(mode="json"))
    elif hasattr(value, "__dataclass_fields__"):
        yield from _strings([getattr(value, name) for name in value.__dataclass_fields__])
    elif value is not None:
        yield str(value)


def _parsers() -> dict[str, Any]:
    return {
        "crossref": parse_result,
        "datacite": _datacite_xml,
        "crossref-abstract": lambda body: adapters.crossref_message_to_work(
            {**CROSSREF_MESSAGES[0], "abstract": body.decode()}
        ),
    }


@pytest.mark.parametrize("target", ["crossref", "datacite", "crossref-abstract"])
@pytest.mark.parametrize(
    "payload",
    ["file entity", "http entity", "file parameter entity", "http parameter entity",
     "billion laughs", "quadratic blowup"],
)  # fmt: skip
def test_xxe_and_entity_expansion_stay_inert(listener, secret_file, target, payload):
    url, hits = listener
    subset = _payloads(url, secret_file)[payload]
    document = _document("datacite" if target == "datacite" else "crossref", subset, url, 20_000)
    if target == "crossref-abstract":
        document = document.split(b"?>", 1)[1]  # a DOCTYPE inside the JSON's abstract text
    before_hits = len(hits)
    before_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    # When pidsync parses the hostile document
    outcome = _typed_or_result(lambda: _parsers()[target](document))
    # Then nothing was fetched, nothing read from the disk, nothing expanded
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_rss) / 1024
    assert hits[before_hits:] == [], f"the parser fetched {hits[before_hits:]}"
    seen = list(_strings(outcome)) if not isinstance(outcome, Exception) else [str(outcome)]
    assert not any(MARKER in text for text in seen)
    assert not any("lollollol" in text or "A" * 1000 in text for text in seen)
    assert sum(len(text) for text in seen) < 1_000_000
    assert grown_mib < 200, f"parsing grew the process by {grown_mib:.0f} MiB"
