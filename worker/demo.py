"""`pidsync demo`: the real processes on embedded servers, fed sample events through the real,
signed intake, with a readable account of what happened to each event.

Nothing is faked: PostgreSQL and Redis are real (embedded unless configured), the web app runs
under uvicorn on a loopback port, a dramatiq worker processes the messages, and the outside
services are pidsync's own sandbox. An effect this version does not perform is reported as
such.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from worker.events.emit import emit_raw

CLIENT = "demo-cris"
SECRET = "demo-intake-secret-not-for-production"  # noqa: S105 - the demo's own throwaway
SOURCE = "https://cris.demo.example.edu"


@dataclass
class Step:
    label: str
    body: Any
    expect_http: int
    answer: dict[str, Any] = field(default_factory=dict)
    http: int = 0
    signature: str | None = None


def _event(event_id: str, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id, "source": SOURCE, "type": event_type,
            "datacontenttype": "application/json", "data": data}  # fmt: skip


def _dataset(version: int, title: str, orcid: str) -> dict[str, Any]:
    return {
        "id": "ds-42",
        "type": "dataset",
        "title": title,
        "publisher": "Demo University",
        "publication_date": "2026-11-01",
        "url": "https://repository.demo.example.edu/ds-42",
        "version": version,
        "registration": {"registrar": "datacite"},
        "contributors": [
            {"given": "Ada", "family": "Lovelace", "orcid": orcid, "role": "author"},
            {"name": "Demo University Ocean Lab", "type": "organization"},
        ],
    }


def _article() -> dict[str, Any]:
    return {
        "id": "art-7",
        "type": "journal-article",
        "title": "Deep currents of the southern ocean",
        "publisher": "Demo University Press",
        "publication_date": "2026-10",
        "url": "https://journal.demo.example.edu/art-7",
        "doi": "10.99999/demo.art7",
        "registration": {"registrar": "none"},
        "container": {"title": "Journal of Demo Oceanography", "volume": "3", "issue": "2"},
        "contributors": [{"given": "Grace", "family": "Hopper", "role": "author"}],
    }


def _steps(orcid_token: dict[str, Any]) -> list[Step]:
    orcid = orcid_token["orcid"]
    invalid = _dataset(1, "", orcid)
    invalid["contributors"][0]["orcid"] = "0000-0002-1825-0098"
    published, updated = "work.published", "work.updated"
    return [
        Step("publish dataset ds-42 (v1)", _event("e-1", published, _dataset(1, "Ocean temperatures", orcid)), 202),  # noqa: E501
        Step("publish article art-7 (external DOI)", _event("e-2", "work.published", _article()), 202),  # noqa: E501
        Step("update ds-42 to v3", _event("e-3", updated, _dataset(3, "Ocean temperatures, 1990-2026", orcid)), 202),  # noqa: E501
        Step("late update ds-42 v2", _event("e-4", updated, _dataset(2, "Ocean temperatures (v2)", orcid)), 202),  # noqa: E501
        Step("same event e-1 sent again", _event("e-1", published, _dataset(1, "Ocean temperatures", orcid)), 200),  # noqa: E501
        Step("researcher authorizes (token from ORCID)", _event("e-5", "researcher.authorized", orcid_token), 202),  # noqa: E501
        Step("invalid work (no title, bad ORCID check digit)", _event("e-6", "work.published", invalid), 422),  # noqa: E501
        Step("badly signed request", _event("e-7", "work.published", _article()), 401, signature="t=1,v1=00"),  # noqa: E501
    ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _post(step: Step, url: str) -> None:
    raw = json.dumps(step.body).encode()
    if step.signature is None:
        step.http, step.answer = emit_raw(raw, url=url, client=CLIENT, secret=SECRET)
        return
    import requests

    headers = {"Content-Type": "application/cloudevents+json", "Pidsync-Client": CLIENT,
               "Pidsync-Signature": step.signature}  # fmt: skip
    response = requests.post(f"{url}/events", data=raw, headers=headers, timeout=10)
    step.http, step.answer = response.status_code, response.json()


def _wait_until_handled(runtime: Any, receipts: list[int], timeout: float = 30.0) -> bool:
    from sqlalchemy import select

    from worker.events.service import OPEN
    from worker.models import ReceivedEvent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.database.session() as session:
            open_count = len(
                session.execute(
                    select(ReceivedEvent.id).where(
                        ReceivedEvent.id.in_(receipts), ReceivedEvent.status.in_(OPEN)
                    )
                ).all()
            )
        if open_count == 0:
            return True
        time.sleep(0.2)
    return False


def _report(runtime: Any, steps: list[Step], orcid: str) -> bool:
    from worker.models import ReceivedEvent, Researcher

    ok = True
    click.echo("\nWhat happened to each event:\n")
    with runtime.database.session() as session:
        for number, step in enumerate(steps, 1):
            expected = step.http == step.expect_http
            ok = ok and expected
            mark = "ok " if expected else "!! "
            click.echo(f"{mark}{number}. {step.label}")
            click.echo(
                f"      HTTP {step.http}"
                + (" (duplicate: not processed again)" if step.answer.get("duplicate") else "")
            )
            if step.http >= 400:
                click.echo(f"      rejected: {step.answer.get('error')}")
                for p in step.answer.get("problems", []):
                    click.echo(f"        {p['path']}: {p['message']}")
                continue
            event = session.get(ReceivedEvent, step.answer["receipt"])
            if event is not None:
                click.echo(f"      -> {event.status.value}: {event.outcome}")
        researcher = session.query(Researcher).filter_by(orcid=orcid).one_or_none()
        if researcher is not None:
            grant = researcher.grants[0]
            click.echo(
                f"\nGrant for {orcid}: {grant.status.value}, scope '{grant.scope}', "
                f"access token stored as {len(grant.access_token_enc)} bytes of ciphertext"
            )
    return ok


def _final_state(runtime: Any) -> None:
    from worker.ops.status import work_status

    click.echo("\nWorks as the status API (GET /works/{source}/{id}) reports them:")
    with runtime.database.session() as session:
        for work_id in ("ds-42", "art-7"):
            status = work_status(session, SOURCE, work_id)
            if status:
                doi = status["doi"]["doi"] if status["doi"] else "none yet"
                click.echo(
                    f"  {work_id}: '{status['title']}' version {status['version']}, DOI {doi}"
                )


def run_demo(data_dir: Path | None) -> int:
    import dramatiq
    import uvicorn

    from worker.bootstrap import BootError, boot
    from worker.config import ConfigError, load_settings
    from worker.sandbox.server import Sandbox
    from worker.web.app import create_app

    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="pidsync-demo-"))
    click.echo(f"pidsync demo — data directory {data_dir}", err=True)
    sandbox = Sandbox().start()
    info = sandbox.info()
    env = {k.removeprefix("PIDSYNC_").lower(): v for k, v in info["env"].items()}
    try:
        env.setdefault("log_level", os.environ.get("PIDSYNC_LOG_LEVEL", "WARNING"))
        settings = load_settings(
            _env_file=None, data_dir=data_dir, intake_clients={CLIENT: SECRET}, **env
        )
        click.echo("starting PostgreSQL and Redis (embedded unless configured)...", err=True)
        runtime = boot(settings, migrate=True)
    except (ConfigError, BootError) as exc:
        click.echo(f"pidsync demo: {exc}", err=True)
        sandbox.stop()
        return 1
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning",
                       log_config=None)
    )  # fmt: skip
    web = threading.Thread(target=server.run, daemon=True)
    web.start()
    worker = dramatiq.Worker(runtime.broker, worker_threads=4, worker_timeout=100)
    worker.start()
    try:
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        click.echo(f"web app on {url}, sandbox on {sandbox.url}, one worker running", err=True)
        orcid_id = sandbox.add_researcher(given_names="Ada", family_name="Lovelace")
        token = sandbox.issue_token(orcid_id, scope="/activities/update /read-limited")
        steps = _steps(token)
        handled = True
        for step in steps:  # one after another, as a CRIS sends them over time
            _post(step, url)
            if step.http in (200, 202):
                handled = _wait_until_handled(runtime, [step.answer["receipt"]]) and handled
        ok = _report(runtime, steps, orcid_id) and handled
        if not handled:
            click.echo("\n!! some events were still being processed after 30 s", err=True)
        _final_state(runtime)
        return 0 if ok else 1
    finally:
        worker.stop()
        server.should_exit = True
        web.join(timeout=5)
        sandbox.stop()
        runtime.database.engine.dispose()
