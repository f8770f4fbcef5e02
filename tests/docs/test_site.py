"""The documentation cannot drift from the code: generated pages are current, every event type
has a complete example the intake accepts, the signing page's worked values are pidsync's own,
every snippet it includes exists, and no page points outside the repository."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import jsonschema
import pytest

from worker.events.intake import check_events
from worker.events.signature import sign, sign_read
from worker.events.types import CHECKS, IntakeContext

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location(
        "docs_reference", ROOT / "scripts" / "docs_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_reference"] = module
    spec.loader.exec_module(module)
    return module


def test_the_generated_reference_pages_are_current():
    stale = _generator().stale()
    assert not stale, f"run `python scripts/docs_reference.py`: stale {stale}"


def test_the_staleness_check_sees_a_changed_page(tmp_path):
    generator = _generator()
    generator.write(tmp_path)
    assert generator.stale(tmp_path) == []
    page = tmp_path / "configuration.md"
    page.write_text(page.read_text().replace("PIDSYNC_MAX_BODY_BYTES", "PIDSYNC_GONE"))
    assert generator.stale(tmp_path) == ["configuration.md"]


def test_every_setting_has_a_meaning_and_every_note_a_setting():
    generator = _generator()
    page = generator.configuration_md()
    rows = [line for line in page.splitlines() if line.startswith("| `PIDSYNC_")]
    variables = {row.split("`")[1] for row in rows}
    assert len(variables) > 80
    without = [row.split("`")[1] for row in rows if row.rstrip().endswith("|  |")]
    assert not without, f"give these settings a comment in worker/config.py: {without}"
    assert set(generator.NOTES) <= variables, set(generator.NOTES) - variables


def test_the_cli_reference_has_every_command():
    from worker.cli import main

    page = _generator().cli_md()
    for name in main.commands:
        assert f"## `pidsync {name}`" in page


EXAMPLES = DOCS / "examples" / "events"
CONTEXT = IntakeContext(
    ("APP-EXAMPLE000000001",), {"datacite": (("default", ("10.5072",)),), "crossref": ()}
)


@pytest.mark.parametrize("kind", sorted(CHECKS))
def test_every_event_type_has_a_complete_example_the_intake_accepts(kind):
    path = EXAMPLES / f"{kind}.json"
    assert path.exists(), f"add docs/examples/events/{kind}.json (one complete example per type)"
    example = json.loads(path.read_text())
    assert example["type"] == kind
    check_events([example], CONTEXT, batch=False)  # raises with every problem by JSON path
    from tests.test_openapi_document import DOCUMENT

    schema = DOCUMENT["paths"]["/events"]["post"]["requestBody"]["content"]
    jsonschema.validate(example, schema["application/cloudevents+json"]["schema"])


def test_the_worked_signatures_on_the_signing_page_are_pidsyncs():
    page = (DOCS / "signing.md").read_text()
    body = sign("s3cret", b'{"a":1}', timestamp=1765000000)
    read = sign_read(
        "s3cret", "GET", "/works/https%3A%2F%2Fpure.example.edu/w-1", timestamp=1765000000
    )
    assert f"`{body}`" in page
    assert f"`{read}`" in page


SNIPPET = re.compile(r'--8<-- "([^":]+)(?::([\w-]+))?"')


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def test_every_snippet_a_page_includes_exists():
    includes = [(page, m) for page in _pages() for m in SNIPPET.finditer(page.read_text())]
    assert len(includes) > 20
    for page, match in includes:
        source = DOCS / match[1]
        assert source.is_file(), f"{page.name}: {match[1]} does not exist"
        if match[2]:
            assert f"[start:{match[2]}]" in source.read_text(), f"{page.name}: {match[0]}"


LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize(
    "page",
    [ROOT / "README.md", ROOT / "AGENTS.md", ROOT / "SECURITY.md", *_pages(),
     *sorted((ROOT / "worker").rglob("README.md"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)  # fmt: skip
def test_no_page_points_outside_the_repository(page):
    text = page.read_text()
    assert "../shared" not in text
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # an absolute URL or an anchor on the page
        resolved = (page.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{target} is outside the repository"
        assert resolved.exists(), f"{target} does not exist"


def test_the_readme_quickstart_is_the_guides():
    command = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/pidsync demo"
    assert command in (ROOT / "README.md").read_text()
    assert command in (DOCS / "quickstart.md").read_text()
