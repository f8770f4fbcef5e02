"""What people see: the status API and the `pidsync doi` commands."""

from __future__ import annotations

import json
from urllib.parse import quote

from click.testing import CliRunner

from tests.conftest import INTAKE_SECRET
from tests.helpers import SOURCE, signed_get
from tests.registrars.flow import (
    crossref_work,
    datacite_work,
    deposit,
    event,
    finish,
    registration,
    sync,
)


def test_status_api_shows_the_doi_its_messages_and_deposits(client, session, deps, sandbox):
    event(session, "work.published", datacite_work("w-1", doi="10.5072/bad<doi>"))
    sync(session, deps, registration(session, "w-1"))
    event(session, "work.published", crossref_work("a-1"))
    event(session, "work.published", crossref_work("a-2"))
    sandbox.crossref_force_outcome(
        registration(session, "a-2").doi, "Warning", "Added with conflict"
    )
    (deposit_id,) = deposit(session, deps)
    finish(session, deps, deposit_id)
    session.commit()

    failed = signed_get(
        client, f"/works/{quote(SOURCE, safe='')}/w-1", secret=INTAKE_SECRET
    ).json()["doi"]
    assert failed["state"] == "failed"
    assert failed["last_error"] == "DataCite refused the metadata (422): doi: Is invalid"
    assert failed["errors"] == [{"source": "doi", "title": "Is invalid"}]
    assert failed["attempts"] == 1 and failed["pending"] is False

    warned = signed_get(
        client, f"/works/{quote(SOURCE, safe='')}/a-2", secret=INTAKE_SECRET
    ).json()["doi"]
    assert warned["state"] == "registered"
    assert warned["warning"] == "Crossref: Added with conflict"
    assert warned["timestamp"] > 20200101000000000
    (shown,) = warned["deposits"]
    assert shown["outcome"] == "Warning" and shown["message"] == "Added with conflict"
    assert shown["status"] == "completed" and shown["file_name"].startswith("pidsync-default-")
    assert shown["stale"] is False and shown["polls"] >= 1


def test_doi_show_and_release_commands(session, deps, runtime, monkeypatch):
    from worker.cli import doi as cli

    event(session, "work.published", datacite_work())
    sync(session, deps, registration(session, "w-1"))
    session.commit()
    monkeypatch.setattr(cli, "boot", lambda: runtime)
    runner = CliRunner()

    shown = runner.invoke(cli.doi, ["show", SOURCE, "w-1"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["state"] == "findable"

    missing = runner.invoke(cli.doi, ["show", SOURCE, "nope"])
    assert missing.exit_code == 2 and "no work 'nope'" in missing.stderr

    refused = runner.invoke(cli.doi, ["release", SOURCE, "w-1"])
    assert refused.exit_code == 2 and "not on hold; use --force" in refused.stderr

    forced = runner.invoke(cli.doi, ["release", SOURCE, "w-1", "--force"])
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["pending"] is True
