"""``pidsync render`` through click's CliRunner: output on stdout, notes on stderr, exit 2
naming each problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from tests.metadata.examples import EXAMPLES
from worker.metadata.cli import render
from worker.reference import schema_path

FULL = Path(__file__).parent / "data" / "datacite-full-v4.xml"


def run(args, stdin=None, env=None):
    result = CliRunner().invoke(render, args, input=stdin, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_renders_a_work_from_stdin_to_datacite_xml():
    code, out, err = run(["--to", "datacite-xml", "-"], json.dumps(EXAMPLES["dataset"]))
    assert code == 0, err
    root = etree.fromstring(out.encode())
    assert root.findtext("{http://datacite.org/schema/kernel-4}identifier") == "10.5061/DRYAD.12345"
    assert err == ""


@pytest.mark.parametrize(
    "target",
    ["datacite-xml", "datacite-json", "crossref-xml", "orcid-json", "orcid-xml", "csl", "work"],
)
def test_validate_names_the_schema_used(target, tmp_path):
    if schema_path("datacite") is None:
        pytest.skip("official schemas not at hand")
    path = tmp_path / "work.json"
    path.write_text(json.dumps(EXAMPLES["journal-article"]))
    code, out, err = run(["--to", target, "--validate", str(path)])
    assert code == 0, err
    assert "note: valid against" in err
    assert out.strip()


def test_validate_says_when_there_is_no_schema(tmp_path):
    code, _, err = run(["--to", "bibtex", "--validate", "-"], json.dumps(EXAMPLES["book"]))
    assert code == 0
    assert "not validated: BibTeX has no official schema" in err


def test_missing_fields_exit_2_naming_each():
    work = {"id": "1", "type": "journal-article", "title": "T"}
    code, out, err = run(["--to", "crossref-xml", "-"], json.dumps(work))
    assert code == 2
    assert out == ""
    for field in ("doi", "url", "publication_date", "container.title"):
        assert f"  {field}: missing" in err
    code, _, err = run(["--to", "datacite-xml", "-"], json.dumps(work))
    assert code == 2 and "publisher: missing" in err


def test_invalid_work_exit_2_with_json_paths():
    work = {
        **EXAMPLES["dataset"],
        "contributors": [{"family": "X", "orcid": "0000-0002-1825-0098"}],
        "tpye": "x",
    }
    code, out, err = run(["--to", "ris", "-"], json.dumps(work))
    assert code == 2 and out == ""
    assert "contributors[0].orcid: invalid check digit" in err
    assert "tpye: unknown field" in err


def test_unreadable_input_exit_2():
    code, _, err = run(["--to", "ris", "-"], "not json")
    assert code == 2 and "not JSON" in err
    code, _, err = run(["--from", "datacite-xml", "--to", "work", "-"], "<oops")
    assert code == 2 and "well-formed" in err


def test_adapter_notes_go_to_stderr_and_output_stays_clean():
    code, out, err = run(["--from", "datacite-xml", "--to", "work", str(FULL)])
    assert code == 0
    work = json.loads(out)
    assert work["doi"] == "10.82433/b09z-4k37"
    assert "note: geoLocations: not represented in a Work" in err


def test_crossref_depositor_from_environment_and_options():
    env = {"PIDSYNC_CROSSREF_DEPOSITOR_NAME": "Repo Team", "PIDSYNC_CROSSREF_DEPOSITOR_EMAIL": "team@repo.example.org",
           "PIDSYNC_CROSSREF_REGISTRANT": "Example University"}  # fmt: skip
    code, out, err = run(["--to", "crossref-xml", "--timestamp", "20240101000000000", "--doi-batch-id", "b-42", "-"],
                         json.dumps(EXAMPLES["report"]), env=env)  # fmt: skip
    assert code == 0, err
    assert "<depositor_name>Repo Team</depositor_name>" in out
    assert "<email_address>team@repo.example.org</email_address>" in out
    assert "<registrant>Example University</registrant>" in out
    assert "<doi_batch_id>b-42</doi_batch_id><timestamp>20240101000000000</timestamp>" in out
    code, out, _ = run(
        ["--to", "crossref-xml", "--depositor-name", "Someone", "-"],
        json.dumps(EXAMPLES["report"]),
        env=env,
    )
    assert "<depositor_name>Someone</depositor_name>" in out


def test_orcid_source_and_bulk_from_a_list():
    works = [EXAMPLES["book"], EXAMPLES["software"]]
    code, out, _ = run(
        ["--to", "orcid-json", "--source", "pure.example.org", "-"], json.dumps(works)
    )
    assert code == 0
    bulk = json.loads(out)["bulk"]
    values = [e["external-id-value"] for e in bulk[1]["work"]["external-ids"]["external-id"]]
    assert "pure.example.org:gh:pidsync" in values
    code, _, err = run(["--to", "datacite-xml", "-"], json.dumps(works))
    assert code == 2 and "takes one" in err


@pytest.mark.parametrize(("source", "payload"), [
    ("csl", json.dumps({"id": "a", "type": "book", "title": "B", "author": [{"family": "F", "given": "G"}]})),
    ("crossref-json", json.dumps({"status": "ok", "message-type": "work", "message": {"DOI": "10.5555/x", "type": "book", "title": ["B"]}})),
    ("datacite-json", json.dumps({"data": {"id": "10.5555/y", "type": "dois", "attributes": {"titles": [{"title": "B"}], "types": {"resourceTypeGeneral": "Book"}}}})),
])  # fmt: skip
def test_every_input_format_reads(source, payload):
    code, out, err = run(["--from", source, "--to", "work", "-"], payload)
    assert code == 0, err
    assert json.loads(out)["title"] == "B"
    assert json.loads(out)["type"] == "book"
