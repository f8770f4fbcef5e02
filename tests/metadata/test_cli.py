"""``pidsync render`` through click's CliRunner: output on stdout, notes on stderr, exit 2
naming each problem."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from tests.metadata.examples import EXAMPLES
from worker.cli.render import render
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
    record = FULL.read_text().replace("<version>", "<mediaTypes>x</mediaTypes><version>")
    code, out, err = run(["--from", "datacite-xml", "--to", "work", "-"], record)
    assert code == 0
    work = json.loads(out)
    assert work["doi"] == "10.82433/b09z-4k37"
    assert "note: unknownElements: not represented in a Work" in err


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


# --- DataCite: the container, drafts, --url ------------------------------------------------

CR = "{http://www.crossref.org/schema/5.3.1}"


def test_journal_round_trips_from_datacite_xml_to_crossref(tmp_path):
    # Given a journal article written as DataCite XML (which carries no landing page)
    code, datacite_xml, err = run(
        ["--to", "datacite-xml", "-"], json.dumps(EXAMPLES["journal-article"])
    )
    assert code == 0, err
    path = tmp_path / "article.xml"
    path.write_text(datacite_xml)
    # When it is rendered for Crossref without a URL, Then the message says how to give one
    code, out, err = run(["--from", "datacite-xml", "--to", "crossref-xml", str(path)])
    assert code == 2 and out == ""
    assert (
        "  url: missing" in err
        and "hint: DataCite XML carries no landing page: give it with --url" in err
    )
    # And with --url the deposit carries the journal: title, ISSN, volume, issue and pages
    code, out, err = run(["--from", "datacite-xml", "--to", "crossref-xml", "--url", "https://repository.example.org/articles/4711",
                          "--timestamp", "1", str(path)])  # fmt: skip
    assert code == 0, err
    root = etree.fromstring(out.encode())
    journal = root.find(f"{CR}body/{CR}journal")
    assert journal is not None
    assert (
        journal.findtext(f"{CR}journal_metadata/{CR}full_title") == "Journal of Metadata Practice"
    )
    assert journal.findtext(f"{CR}journal_metadata/{CR}issn") == "0317-8471"
    assert journal.findtext(f"{CR}journal_issue/{CR}journal_volume/{CR}volume") == "12"
    assert journal.findtext(f"{CR}journal_issue/{CR}issue") == "3"
    pages = journal.find(f"{CR}journal_article/{CR}pages")
    assert pages is not None and [p.text for p in pages] == ["101", "118"]
    assert journal.findtext(f"{CR}journal_article/{CR}doi_data/{CR}resource") == (
        "https://repository.example.org/articles/4711"
    )


def test_url_option_is_checked_and_takes_one_work():
    code, _, err = run(
        ["--to", "work", "--url", "ftp://x.org/y", "-"], json.dumps(EXAMPLES["book"])
    )
    assert code == 2 and "url: not an absolute http(s) URL" in err
    code, _, err = run(["--to", "work", "--url", "https://x.org/", "-"],
                       json.dumps([EXAMPLES["book"], EXAMPLES["report"]]))  # fmt: skip
    assert code == 2 and "error: --url takes one work" in err and "2 works read" in err


def test_datacite_json_without_url_hints_at_draft_and_draft_renders():
    work = {k: v for k, v in EXAMPLES["dataset"].items() if k != "url"}
    code, out, err = run(["--to", "datacite-json", "-"], json.dumps(work))
    assert code == 2 and out == ""
    assert "  url: missing" in err and "add --draft" in err
    code, out, err = run(["--to", "datacite-json", "--draft", "-"], json.dumps({"id": "1", "type": "dataset",
                                                                                "title": "T", "doi": "10.5555/D"}))  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["data"] == {"id": "10.5555/d", "type": "dois", "attributes": {
        "doi": "10.5555/d", "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Dataset"},
        "titles": [{"title": "T"}]}}  # fmt: skip
    code, _, err = run(["--to", "datacite-xml", "--draft", "-"], json.dumps(work))
    assert code == 2 and "--draft applies to --to datacite-json only" in err


def test_draft_validation_reports_without_failing():
    if schema_path("datacite") is None:
        pytest.skip("official schemas not at hand")
    bare = {"id": "1", "type": "dataset", "title": "T", "doi": "10.5555/d"}
    code, out, err = run(["--to", "datacite-json", "--draft", "--validate", "-"], json.dumps(bare))
    assert code == 0 and out
    assert "note: a draft need not be valid until it is registered" in err


# --- Crossref head from configuration -----------------------------------------------------

_UNSET = dict.fromkeys((
    "PIDSYNC_CROSSREF_DEPOSITOR_NAME", "PIDSYNC_CROSSREF_DEPOSITOR_EMAIL", "PIDSYNC_CROSSREF_REGISTRANT",
    "PIDSYNC_CROSSREF_LOGIN_ID", "PIDSYNC_CROSSREF_PASSWORD", "PIDSYNC_CROSSREF_PREFIX",
    "PIDSYNC_CROSSREF_ACCOUNTS"))  # fmt: skip
_ACCOUNT = json.dumps([{"login_id": "repo", "password": "s3cret", "prefixes": ["10.32013"],
                        "depositor_name": "Account Team", "depositor_email": "acct@repo.example.org",
                        "registrant": "Account Registrant"}])  # fmt: skip


def _head(out: str) -> tuple[str | None, ...]:
    head = etree.fromstring(out.encode()).find(f"{CR}head")
    assert head is not None
    return (head.findtext(f"{CR}depositor/{CR}depositor_name"),
            head.findtext(f"{CR}depositor/{CR}email_address"), head.findtext(f"{CR}registrant"))  # fmt: skip


@pytest.mark.parametrize(("env", "args", "expected"), [
    # nothing configured: the settings' defaults
    ({}, [], ("pidsync", "pidsync@example.org", "pidsync")),
    # a Crossref account configured: its depositor and registrant
    ({"PIDSYNC_CROSSREF_ACCOUNTS": _ACCOUNT}, [], ("Account Team", "acct@repo.example.org", "Account Registrant")),
    # environment variables and explicit options win
    ({"PIDSYNC_CROSSREF_ACCOUNTS": _ACCOUNT, "PIDSYNC_CROSSREF_DEPOSITOR_NAME": "Env Name"},
     ["--registrant", "Option Registrant"], ("Env Name", "acct@repo.example.org", "Option Registrant")),
    # an unreadable configuration: the built-in defaults, with a note
    ({"PIDSYNC_CROSSREF_ACCOUNTS": "not json"}, [], ("pidsync", "pidsync@example.org", "pidsync")),
])  # fmt: skip
def test_crossref_head_defaults_come_from_configuration(env, args, expected):
    code, out, err = run(["--to", "crossref-xml", "--timestamp", "1", *args, "-"],
                         json.dumps(EXAMPLES["report"]), env={**_UNSET, **env})  # fmt: skip
    assert code == 0, err
    assert _head(out) == expected
    assert ("built-in Crossref defaults used" in err) == (
        env.get("PIDSYNC_CROSSREF_ACCOUNTS") == "not json"
    )


def test_render_pulls_in_no_database_or_broker_code():
    # Given a fresh interpreter, When render runs (reading the configuration for Crossref),
    # Then no database, broker or Redis client module has been imported
    script = (
        "import sys, json\n"
        "from worker.cli.render import render\n"
        "render.main(['--to', 'crossref-xml', '--timestamp', '1', sys.argv[1]], standalone_mode=False)\n"
        "heavy = ('sqlalchemy', 'dramatiq', 'redis', 'psycopg', 'psycopg2', 'alembic', 'pika')\n"
        "found = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "print('LOADED=' + json.dumps(found + ['worker.config' in sys.modules and 'config']))\n"
    )  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(EXAMPLES["report"], handle)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIDSYNC_CROSSREF")}
    result = subprocess.run([sys.executable, "-c", script, handle.name], capture_output=True,
                            text=True, env=env, check=False, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    Path(handle.name).unlink()
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.rsplit("LOADED=", 1)[1])
    assert loaded == ["config"]  # worker.config was read, and nothing heavy came with it


# --- notes and plain errors -----------------------------------------------------------------


def test_orcid_truncation_is_a_note_on_stderr():
    long = {"id": "1", "type": "other", "title": "word " * 300, "publication_date": "1850"}
    code, out, err = run(["--to", "orcid-json", "-"], json.dumps(long))
    assert code == 0
    assert "note: orcid: title: 1499 characters cut to 1000 (ORCID's limit)" in err
    assert "note: orcid: publication_date: 1850 left out" in err
    assert len(json.loads(out)["title"]["title"]["value"]) <= 1000


def test_crossref_error_envelope_and_datacite_list_are_named_plainly():
    failure = {"status": "failed", "message-type": "validation-failure",
               "message": [{"type": "x", "message": "Invalid DOI"}]}  # fmt: skip
    code, _, err = run(["--from", "crossref-json", "--to", "work", "-"], json.dumps(failure))
    assert code == 2 and "a Crossref error response" in err and "Invalid DOI" in err
    assert "title: required" not in err
    code, _, err = run(
        ["--from", "datacite-json", "--to", "work", "-"], json.dumps({"data": [{}, {}]})
    )
    assert code == 2 and "a DataCite list of 2 records" in err


# --- --validate of the JSON targets checked through their XML twins -----------------------


def _attributes():
    from worker.metadata.render.datacite_json import render_datacite_attributes
    from worker.metadata.work import validate_work

    return render_datacite_attributes(validate_work(EXAMPLES["journal-article"]))


def _orcid():
    from worker.metadata.render.orcid_json import render_orcid_work
    from worker.metadata.work import validate_work

    return render_orcid_work(validate_work(EXAMPLES["journal-article"]), source="s")


@pytest.mark.parametrize(("target", "make", "expected"), [
    # unknown keys would be lost silently in the XML: they are errors
    ("datacite-json", lambda: {"data": {"attributes": {**_attributes(), "landingPage": [{}]}}},
     ["landingPage: unknown key (not carried by the conversion)"]),
    ("datacite-json", lambda: {**_attributes(), "creators": [{"name": "X", "orcid": "0000"}]},
     ["creators[0].orcid: unknown key (not carried by the conversion)"]),
    # odd shapes are errors, not crashes
    ("datacite-json", lambda: {**_attributes(), "creators": "Carberry"}, ["creators: expected a list"]),
    ("datacite-json", lambda: {**_attributes(), "creators": [{"nameType": "Personal"}]}, ["creators[0].name: required"]),
    ("datacite-json", lambda: {"data": [_attributes()]}, ["data: expected an object with attributes"]),
    ("datacite-json", lambda: [1, 2], ["(root): expected an object"]),
    ("datacite-json", lambda: {**_attributes(), "doi": None}, ["doi: required"]),
    ("orcid-json", lambda: {**_orcid(), "country": {"value": "PT"}}, ["country: unknown key (not carried by the conversion)"]),
    ("orcid-json", lambda: {**_orcid(), "title": "A title"}, ["title: expected an object"]),
    ("orcid-json", lambda: {"bulk": [{"work": {**_orcid(), "type": 3}}]}, ["bulk[0].work.type: expected a string"]),
    ("orcid-json", lambda: {"bulk": [{"error": {}}]}, ["bulk[0].error: unknown key (not carried by the conversion)",
                                                        "bulk[0].work: required"]),
])  # fmt: skip
def test_json_validation_refuses_what_the_conversion_cannot_carry(target, make, expected):
    from worker.metadata.schemas import check_output

    check = check_output(target, make())
    assert check.errors == expected
    assert check.schema  # names the schema (or the shape) it checked against
    assert "every key checked" in check.note


def test_json_validation_passes_pidsync_output_and_says_what_it_checked():
    from worker.metadata.schemas import check_output

    if schema_path("datacite") is None:
        pytest.skip("official schemas not at hand")
    check = check_output("datacite-json", {"data": {"attributes": _attributes()}})
    assert check.valid, check.errors
    assert check.note.startswith("DataCite JSON: every key checked")
    assert check_output("orcid-json", _orcid()).valid


def test_orcid_xml_bulk_is_told_by_its_root_element():
    from worker.metadata.render.orcid_xml import render_orcid_bulk_xml, render_orcid_xml
    from worker.metadata.schemas import check_output
    from worker.metadata.work import validate_work

    if schema_path("orcid-work") is None:
        pytest.skip("official schemas not at hand")
    # a work whose title starts with "bulk" is still a work
    work = validate_work({"id": "1", "type": "other", "title": "bulk carriers of the 1920s"})
    check = check_output("orcid-xml", render_orcid_xml(work, source="s"))
    assert check.valid and check.schema and check.schema.endswith("work-3.0.xsd")
    check = check_output("orcid-xml", render_orcid_bulk_xml([work], source="s"))
    assert check.valid and check.schema and check.schema.endswith("bulk-3.0.xsd")
    check = check_output("orcid-xml", "<not xml")
    assert not check.valid and "not well-formed" in check.errors[0]


def test_a_conversion_that_fails_is_a_validation_error(monkeypatch):
    from worker.metadata import schemas

    def broken(_attributes):
        raise KeyError("name")

    monkeypatch.setattr(schemas, "attributes_to_xml", broken)
    check = schemas.check_output("datacite-json", _attributes())
    assert check.errors == ["cannot be converted to DataCite XML: KeyError('name')"]


# --- --validate where the reference files are absent (a user's install) --------------------

REFERENCE = Path(schema_path("datacite")).parents[1] if schema_path("datacite") else None
needs_reference = pytest.mark.skipif(REFERENCE is None, reason="reference schemas not at hand")


def test_validate_that_cannot_run_exits_3_saying_why(tmp_path):
    # Given an empty schema directory and no way to fetch (the mirror refuses connections)
    env = {"PIDSYNC_SCHEMA_MIRROR": "http://127.0.0.1:9/"}
    code, out, err = run(["--to", "datacite-xml", "--validate", "--schemas", str(tmp_path / "s"),
                          "-"], json.dumps(EXAMPLES["dataset"]), env=env)  # fmt: skip
    # Then it exits non-zero, says validation could not run and why, and writes no output
    assert code == 3
    assert "could not validate" in err and "127.0.0.1:9" in err
    assert out == ""
    # and no half-fetched bundle is left behind
    assert not (tmp_path / "s" / "datacite-kernel-4.7").exists()


@needs_reference
def test_validate_against_a_directory_the_user_names(tmp_path):
    schemas = tmp_path / "schemas"
    shutil.copytree(REFERENCE, schemas)
    env = {"PIDSYNC_SCHEMA_MIRROR": "http://127.0.0.1:9/"}  # nothing is fetched
    code, _, err = run(["--to", "crossref-xml", "--validate", "--schemas", str(schemas), "-"],
                       json.dumps(EXAMPLES["journal-article"]), env=env)  # fmt: skip
    assert code == 0, err
    assert f"valid against {schemas}" in err


@needs_reference
def test_validate_fetches_the_schemas_on_first_use(tmp_path):
    # Given a server publishing the schemas (standing in for their official URLs)
    handler = functools.partial(QuietHandler, directory=str(REFERENCE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {"PIDSYNC_SCHEMA_MIRROR": f"http://127.0.0.1:{server.server_port}/"}
        schemas = tmp_path / "fresh"
        # When render --validate runs with an empty schema directory
        code, _, err = run(["--to", "orcid-xml", "--validate", "--schemas", str(schemas), "-"],
                           json.dumps(EXAMPLES["journal-article"]), env=env)  # fmt: skip
    finally:
        server.shutdown()
    # Then the schemas were fetched into it, and the output validated against them
    assert code == 0, err
    assert "fetched datacite-kernel-4.7, crossref-5.3.1, orcid-3.0, csl" in err
    assert f"valid against {schemas}" in err
    assert (schemas / "orcid-3.0" / "record_3.0" / "work-3.0.xsd").is_file()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
