"""`pidsync demo`: the real processes on embedded servers, fed sample events through the real,
signed intake, with a readable account of each event's journey.

Nothing is faked: PostgreSQL and Redis are real (embedded unless configured), the web app runs
under uvicorn on a loopback port, a dramatiq worker does every effect, and the outside world is
pidsync's own sandbox of DataCite, Crossref, ORCID and doi.org over HTTP. The demo checks what
it shows: it exits 1 if any journey did not end as it should.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import click
import requests

from worker.client import PidsyncClient
from worker.models import DoiState, EventStatus, PlacementState, RecordOutcome

CLIENT = "demo-cris"
SECRET = "demo-intake-secret-not-for-production"  # noqa: S105 - the demo's own throwaway
SOURCE = "https://cris.demo.example.edu"
#: Fast schedules so the demo's deposits finish in seconds (real Crossref: minutes to hours).
DEMO_ENV = {
    "PIDSYNC_CROSSREF_POLL_SCHEDULE": "1,1,2",
    "PIDSYNC_CROSSREF_BATCH_WINDOW_SECONDS": "0.5",
    "PIDSYNC_DOI_RETRY_BACKOFF": "1,2",
}
FAILING_DOI = "10.32013/demo.rejected"
#: The demo institution: its affiliations name it when the event names no organisation.
ORGANIZATION = {"name": "Demo University", "city": "Wellington", "country": "NZ",
                "ror": "https://ror.org/03b94tp07"}  # fmt: skip


@dataclass
class Step:
    label: str
    body: Any = None
    expect_http: int = 202
    expect: Callable[[dict[str, Any]], bool] | None = None  # on the work's final status
    work_id: str | None = None
    http: int = 0
    answer: dict[str, Any] = field(default_factory=dict)
    signature: str | None = None


def _event(event_id: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id, "source": SOURCE, "type": event_type,
            "datacontenttype": "application/json", "data": data}  # fmt: skip


def _person(given: str, family: str, orcid: str | None = None) -> dict[str, Any]:
    person: dict[str, Any] = {"given": given, "family": family, "role": "author"}
    if orcid:
        person["orcid"] = orcid
    return person


def _dataset(version: int, title: str, ada: str) -> dict[str, Any]:
    return {
        "id": "ds-42", "type": "dataset", "title": title, "version": version,
        "publisher": "Demo University", "publication_date": "2026-11-01",
        "url": "https://repository.demo.example.edu/ds-42",
        "registration": {"registrar": "datacite"},
        "contributors": [_person("Ada", "Lovelace", ada),
                         {"name": "Demo University Ocean Lab", "type": "organization"}],
    }  # fmt: skip


def _article(
    work_id: str, title: str, authors: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "id": work_id, "type": "journal-article", "title": title,
        "publisher": "Demo University Press", "publication_date": "2026-10",
        "url": f"https://journal.demo.example.edu/{work_id}",
        "registration": {"registrar": "crossref"},
        "container": {"title": "Journal of Demo Oceanography", "issn": "2049-3630",
                      "volume": "3", "issue": "2"},
        "contributors": authors, **extra,
    }  # fmt: skip


def _state(status: dict[str, Any] | None) -> str:
    return str(((status or {}).get("doi") or {}).get("state", ""))


def _placements(status: dict[str, Any] | None) -> list[str]:
    return [p["state"] for p in (status or {}).get("orcid", [])]


def _steps(ada: str, grace: str) -> list[Step]:
    invalid = _dataset(1, "", ada)
    invalid["contributors"][0]["orcid"] = "0000-0002-1825-0098"
    return [
        Step("publish dataset ds-42 v1 (DataCite, Ada on ORCID)",
             _event("e-1", "work.published", _dataset(1, "Ocean temperatures", ada)),
             expect=lambda s: _state(s) == DoiState.FINDABLE and _placements(s) == [PlacementState.PLACED]),
        Step("publish article art-7 (Crossref deposit, completes after a delay)",
             _event("e-2", "work.published", _article("art-7", "Deep currents", [_person("Ada", "Lovelace", ada)])),
             expect=lambda s: _state(s) == DoiState.REGISTERED and _placements(s) == [PlacementState.PLACED]),
        Step("publish article art-8 (Crossref refuses the record)",
             _event("e-3", "work.published", _article("art-8", "A rejected deposit", [_person("Alan", "Turing")], doi=FAILING_DOI)),
             expect=lambda s: _state(s) == DoiState.FAILED),
        Step("update ds-42 to v3 (metadata changed: DataCite and ORCID updated)",
             _event("e-4", "work.updated", _dataset(3, "Ocean temperatures, 1990-2026", ada)),
             expect=lambda s: _state(s) == DoiState.FINDABLE and s["version"] == 3),
        Step("late update ds-42 v2 (older than v3)",
             _event("e-5", "work.updated", _dataset(2, "Ocean temperatures (v2)", ada)),
             expect=lambda s: s["title"] == "Ocean temperatures, 1990-2026"),
        Step("the same event e-1 sent again", _event("e-1", "work.published", _dataset(1, "Ocean temperatures", ada)), 200),
        Step("publish two works by Grace, who has not consented yet",
             [_event("e-6", "work.published", _article("art-9", "Tides", [_person("Grace", "Hopper", grace)])),
              _event("e-7", "work.published", _article("art-10", "Currents", [_person("Grace", "Hopper", grace)]))],
             work_id="art-9", expect=lambda s: _placements(s) == [PlacementState.AWAITING_CONSENT]),
        Step("invalid work (no title, bad ORCID check digit)",
             _event("e-8", "work.published", invalid), 422),
        Step("badly signed request", _event("e-9", "work.published", _dataset(1, "x", ada)), 401,
             signature="t=1,v1=00"),
    ]  # fmt: skip


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "input" and named.get("name"):
            self.fields[str(named["name"])] = named.get("value") or ""


def _consent(url: str, orcid: str) -> str:
    """A researcher's browser: connect → ORCID's consent page (sandbox) → Authorize → back."""
    browser = requests.Session()
    start = browser.get(f"{url}/orcid/connect", params={"person": "ada"}, allow_redirects=False,
                        timeout=10)  # fmt: skip
    authorize = start.headers["location"]
    page = browser.get(authorize, timeout=10)
    form = _Form()
    form.feed(page.text)
    fields = dict(form.fields, orcid=orcid, user_oauth_approval="true")
    decided = browser.post(authorize, data=fields, allow_redirects=False, timeout=10)
    back = browser.get(decided.headers["location"], timeout=30)
    return "ORCID connected" if "ORCID connected" in back.text else back.text[:200]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _post(step: Step, url: str) -> None:
    raw = json.dumps(step.body).encode()
    if step.signature is None:
        answer = PidsyncClient(url, CLIENT, SECRET).send_raw(raw)
        step.http, step.answer = answer.status, answer.body
        return
    headers = {"Content-Type": "application/cloudevents+json", "Pidsync-Client": CLIENT,
               "Pidsync-Signature": step.signature}  # fmt: skip
    response = requests.post(f"{url}/events", data=raw, headers=headers, timeout=10)
    step.http, step.answer = response.status_code, response.json()


def _receipts(step: Step) -> set[uuid.UUID]:
    return {uuid.UUID(e["receipt"]) for e in step.answer.get("events", []) if "receipt" in e}


def _events(runtime: Any, receipts: set[uuid.UUID]) -> list[Any]:
    from sqlalchemy import select

    from worker.models import ReceivedEvent

    with runtime.database.session() as session:
        query = select(ReceivedEvent).where(ReceivedEvent.receipt.in_(receipts))
        return list(session.execute(query.order_by(ReceivedEvent.id)).scalars())


def _settled(status: dict[str, Any] | None) -> bool:
    if status is None:
        return False
    doi = status.get("doi") or {}
    if doi.get("pending") or doi.get("state") in (DoiState.RESERVED, DoiState.SUBMITTED):
        return False
    open_events = [e for e in status["events"] if e["status"] == EventStatus.RECEIVED]
    return not open_events and PlacementState.PENDING not in _placements(status)


def _status(runtime: Any, work_id: str) -> dict[str, Any] | None:
    from worker.ops.status import work_status

    with runtime.database.session() as session:
        return work_status(session, SOURCE, work_id)


def _wait(runtime: Any, step: Step, timeout: float = 60.0) -> dict[str, Any] | None:
    """The work's status once the step's events are handled, its effects have settled and
    (within the timeout) what the step expects has come true."""
    work_id = _work_id(step)
    deadline = time.monotonic() + timeout
    status = None
    receipts = _receipts(step)
    while work_id and time.monotonic() < deadline:
        handled = all(e.status != EventStatus.RECEIVED for e in _events(runtime, receipts))
        status = _status(runtime, work_id)
        if handled and _settled(status) and (step.expect is None or step.expect(status or {})):
            return status
        time.sleep(0.25)
    return status


def _work_id(step: Step) -> str | None:
    if step.work_id:
        return step.work_id
    if isinstance(step.body, dict) and isinstance(step.body.get("data"), dict):
        return str(step.body["data"].get("id"))
    return None


def _show(runtime: Any, number: int, step: Step, status: dict[str, Any] | None) -> bool:
    ok = step.http == step.expect_http and (
        step.expect is None or (status is not None and step.expect(status))
    )
    click.echo(f"{'ok ' if ok else '!! '}{number}. {step.label}")
    duplicate = " (duplicate: not processed again)" if step.answer.get("duplicate") else ""
    click.echo(f"      HTTP {step.http}{duplicate}")
    if step.http >= 400:
        click.echo(f"      rejected: {step.answer.get('error')}")
        for p in step.answer.get("problems", []):
            click.echo(f"        {p['path']}: {p['message']}")
        return ok
    for event in _events(runtime, _receipts(step)):
        click.echo(f"      event {event.event_id}: {event.status.value} — {event.outcome}")
    _show_effects(status)
    return ok


def _show_effects(status: dict[str, Any] | None) -> None:
    doi = (status or {}).get("doi")
    if doi:
        line = f"      DOI {doi['doi']} at {doi['registrar']}: {doi['state']}"
        for deposit in doi.get("deposits", [])[:1]:
            line += f" (deposit {deposit['file_name']}: {deposit['outcome'] or deposit['status']})"
        click.echo(line)
        for key in ("warning", "last_error"):
            if doi.get(key):
                click.echo(f"        {key.replace('_', ' ')}: {doi[key]}")
    for p in (status or {}).get("orcid", []):
        put = f", put-code {p['put_code']}" if p.get("put_code") else ""
        error = f" — {p['last_error']}" if p.get("last_error") else ""
        click.echo(f"      ORCID {p['orcid']}: {p['state']}{put}{error}")


def _run_steps(runtime: Any, url: str, steps: list[Step]) -> bool:
    ok = True
    click.echo("\nWhat happened to each event:\n")
    for number, step in enumerate(steps, 1):
        _post(step, url)
        status = _wait(runtime, step) if step.http in (200, 202) else None
        ok = _show(runtime, number, step, status) and ok
    return ok


def _grace_consents(runtime: Any, url: str, sandbox: Any, grace: str) -> bool:
    """Grace's CRIS ran OAuth itself and sends the grant: her waiting works are backfilled."""
    token = sandbox.issue_token(grace)
    step = Step("Grace's grant arrives as researcher.authorized: backfill through bulk POST",
                _event("e-10", "researcher.authorized", token), work_id="art-10",
                expect=lambda s: _placements(s) == [PlacementState.PLACED])  # fmt: skip
    _post(step, url)
    status = _wait(runtime, step)
    click.echo(f"{'ok ' if _placements(_status(runtime, 'art-9')) == ['placed'] else '!! '}"
               "(art-9 too, in the same bulk request)")  # fmt: skip
    return _show(runtime, 10, step, status)


def _ada_revokes(runtime: Any, url: str, sandbox: Any, ada: str) -> bool:
    """Ada revokes access at ORCID; the next push finds out and parks the placement."""
    sandbox.control("POST", f"/orcid/researchers/{ada}/revoke")
    step = Step("Ada revoked access at ORCID; a new work of hers is published",
                _event("e-11", "work.published", _article("art-11", "After revocation", [_person("Ada", "Lovelace", ada)])),
                expect=lambda s: _placements(s) == [PlacementState.AWAITING_CONSENT])  # fmt: skip
    _post(step, url)
    return _show(runtime, 11, step, _wait(runtime, step))


def _item_status(runtime: Any, kind: str, item_id: str) -> dict[str, Any] | None:
    from worker.models import OrcidItemKind
    from worker.orcid.sections.status import item_status

    with runtime.database.session() as session:
        return item_status(session, OrcidItemKind(kind), SOURCE, item_id, owner=None)


def _items_placed(runtime: Any, kind: str, item_id: str, timeout: float = 30.0) -> list[str]:
    """The item's states on each record, once none is pending (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    states: list[str] = []
    while time.monotonic() < deadline:
        status = _item_status(runtime, kind, item_id) or {}
        states = [i["state"] for i in status.get("orcid", [])]
        if states and PlacementState.PENDING not in states:
            break
        time.sleep(0.25)
    return states


def _grace_affiliation_and_funding(runtime: Any, url: str, grace: str) -> bool:
    """The CRIS asserts Grace's employment (naming no organisation: the institution's own)
    and her grant (funder by its Crossref Funder ID): both arrive on her record."""
    employment = {
        "id": "emp-1",
        "orcid": grace,
        "kind": "employment",
        "department": "Oceanography",
        "role": "Research fellow",
        "start_date": "2024-02",
    }
    grant = {
        "id": "grant-1",
        "title": "Tides of the South Pacific",
        "type": "grant",
        "funder": {"name": "Marsden Fund", "country": "NZ", "funder_id": "10.13039/501100009193"},
        "grant_number": "MFP-24-007",
        "amount": {"value": "300000.00", "currency": "NZD"},
        "start_date": "2024",
        "contributors": [{"orcid": grace, "given": "Grace", "family": "Hopper", "role": "lead"}],
    }
    ok = True
    journeys: list[tuple[str, str, dict[str, Any]]] = [
        ("e-12", "affiliation.published", employment),
        ("e-13", "funding.published", grant),
    ]
    for number, (event_id, event_type, data) in enumerate(journeys, 12):
        step = Step(f"{event_type}: {data['id']} for Grace", _event(event_id, event_type, data))
        _post(step, url)
        kind = event_type.split(".", 1)[0]
        states = _items_placed(runtime, kind, str(data["id"]))
        good = step.http == 202 and states == [PlacementState.PLACED]
        click.echo(f"{'ok ' if good else '!! '}{number}. {step.label}")
        click.echo(f"      HTTP {step.http}; status at {step.answer.get('status_url')}")
        for event in _events(runtime, _receipts(step)):
            click.echo(f"      event {event.event_id}: {event.status.value} — {event.outcome}")
        for item in (_item_status(runtime, kind, str(data["id"])) or {}).get("orcid", []):
            click.echo(f"      ORCID {item['orcid']} {item['section']}: {item['state']}, "
                       f"put-code {item['put_code']}")  # fmt: skip
        ok = good and ok
    return ok


def _sandbox_counts(sandbox: Any, ada: str, grace: str) -> bool:
    state = sandbox.state()
    records = state["orcid"]["records"]
    ada_works = [w["title"] for w in records.get(ada, {}).get("works", [])]
    grace_works = [w["title"] for w in records.get(grace, {}).get("works", [])]
    dois = [d["doi"] for d in state["datacite"]["dois"]]
    click.echo("\nWhat the outside world holds (read back from the sandbox):")
    click.echo(f"  DataCite DOIs: {', '.join(dois)}")
    for submission in state["crossref"]["submissions"]:
        outcomes = ", ".join(f"{r['doi']} {r['status']}" for r in submission["records"])
        click.echo(f"  Crossref {submission['file_name']}: {submission['status']} ({outcomes})")
    click.echo(f"  Ada's ORCID record: {ada_works}")
    click.echo(f"  Grace's ORCID record: {grace_works}")
    activities = records.get(grace, {}).get("activities", [])
    sections = sorted(a["section"] for a in activities)
    click.echo(f"  Grace's affiliations and fundings: {', '.join(sections)}")
    once = len(dois) == 1 and len(ada_works) == 2 and len(grace_works) == 2
    once = once and sections == ["employment", "funding"]
    click.echo("  every effect happened exactly once" if once else "  !! unexpected counts")
    return once


def _remove(data_dir: Path) -> None:
    shutil.rmtree(data_dir, ignore_errors=True)
    if data_dir.exists():
        click.echo(f"pidsync demo: could not remove {data_dir} entirely", err=True)
    else:
        click.echo(f"pidsync demo: removed {data_dir} (keep it with --keep)", err=True)


def _temporary_data_dir(*, keep: bool) -> Path:
    data_dir = Path(tempfile.mkdtemp(prefix="pidsync-demo-"))
    if not keep:
        # Registered before boot: atexit runs last-in first-out, so the directory goes only
        # after the embedded PostgreSQL and Redis (whose exit hooks boot registers) stopped.
        atexit.register(_remove, data_dir)
    return data_dir


def run_demo(data_dir: Path | None, *, keep: bool = False) -> int:
    """Run the demo; its own temporary data directory is removed at exit unless ``keep``
    (a ``data_dir`` the caller named is always kept)."""
    import dramatiq
    import uvicorn

    from worker.bootstrap import BootError, boot
    from worker.config import ConfigError, load_settings
    from worker.sandbox.server import Sandbox
    from worker.web.app import create_app

    for key, value in DEMO_ENV.items():
        os.environ.setdefault(key, value)
    data_dir = data_dir or _temporary_data_dir(keep=keep)
    click.echo(f"pidsync demo — data directory {data_dir}", err=True)
    sandbox = Sandbox(crossref_delays=(1.0, 1.0)).start()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k.removeprefix("PIDSYNC_").lower(): v for k, v in sandbox.info()["env"].items()}
    env.setdefault("log_level", os.environ.get("PIDSYNC_LOG_LEVEL", "WARNING"))
    try:
        settings = load_settings(
            _env_file=None, data_dir=data_dir,
            intake_clients=[{"id": CLIENT, "secrets": [SECRET], "sources": ["*"],
                             "organization": ORGANIZATION}],
            orcid_callback_url=f"{url}/orcid/callback", **env,
        )  # fmt: skip
        click.echo("starting PostgreSQL and Redis (embedded unless configured)...", err=True)
        runtime = boot(settings, migrate=True)
    except (ConfigError, BootError) as exc:
        click.echo(f"pidsync demo: {exc}", err=True)
        sandbox.stop()
        return 1
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning",
                       log_config=None)
    )  # fmt: skip
    web = threading.Thread(target=server.run, daemon=True)
    web.start()
    importlib.import_module("worker.actors")  # this process is the demo's worker: declare all
    worker = dramatiq.Worker(runtime.broker, worker_threads=4, worker_timeout=100)
    worker.start()
    try:
        while not server.started:
            time.sleep(0.05)
        click.echo(f"web app on {url}, sandbox on {sandbox.url}, one worker running", err=True)
        ada = sandbox.add_researcher(given_names="Ada", family_name="Lovelace")
        grace = sandbox.add_researcher(given_names="Grace", family_name="Hopper")
        sandbox.crossref_force_outcome(
            FAILING_DOI,
            RecordOutcome.FAILURE.value,
            "Record not processed because the ISSN does not match the title",
        )
        click.echo(f"\nAda ({ada}) opens the consent link: {_consent(url, ada)}")
        ok = _run_steps(runtime, url, _steps(ada, grace))
        ok = _grace_consents(runtime, url, sandbox, grace) and ok
        ok = _ada_revokes(runtime, url, sandbox, ada) and ok
        ok = _grace_affiliation_and_funding(runtime, url, grace) and ok
        ok = _sandbox_counts(sandbox, ada, grace) and ok
        click.echo(
            "\nEvery journey ended as it should."
            if ok
            else "\n!! Some journeys did not end as expected."
        )
        return 0 if ok else 1
    finally:
        worker.stop()
        server.should_exit = True
        web.join(timeout=5)
        sandbox.stop()
        runtime.database.engine.dispose()
