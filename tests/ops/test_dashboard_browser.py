"""The dashboard in a real browser: Debian's headless chromium driven by Playwright against a
live pidsync (uvicorn) and a real dramatiq worker. An operator logs in, sees the overview,
opens a failed work's timeline, retries it once the cause is fixed and sees the DOI
registered, and replays a dead letter. Screenshots of each page are kept as artifacts
(PIDSYNC_TEST_ARTIFACTS, default tests/ops/artifacts/), their folder printed.

Skipped, saying why, where chromium or the playwright package is absent (never downloaded:
``playwright install`` is not used; ./scripts/test installs Debian's chromium when it can)."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import dramatiq
import pytest
import uvicorn

from tests.ops.flows import fail_with_401
from tests.orcid.conftest import with_registrars
from worker.config import DashboardSettings, OpsUser
from worker.models import DeadLetter, ReceivedEvent
from worker.web.app import create_app
from worker.web.dashboard.auth import hash_password

CHROMIUM = Path(os.environ.get("PIDSYNC_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("PIDSYNC_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
PASSWORD = "a browser-typed passphrase"
#: How long the page may take to show the worker's result (a bound, not a measurement).
SETTLE_SECONDS = 60

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no chromium at {CHROMIUM}: apt-get install chromium (Debian), or set "
        "PIDSYNC_TEST_CHROMIUM to a chromium binary",
    ),
]


@pytest.fixture
def settings(sandbox, tmp_path):
    users = [OpsUser(name="ann", password_hash=hash_password(PASSWORD))]
    return with_registrars(sandbox, tmp_path, dashboard=DashboardSettings(users=users))


@pytest.fixture(autouse=True)
def _booted(committed_runtime):
    """This test runs across threads on a committing database (the ops conftest's rolled-back
    runtime is replaced)."""
    return committed_runtime


@pytest.fixture
def live(committed_runtime, broker):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(committed_runtime),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            log_config=None,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    yield f"http://127.0.0.1:{port}"
    worker.stop()
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def page(live):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {ARTIFACTS}")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(base_url=live, viewport={"width": 1280, "height": 900})
        yield context.new_page()
        context.close()
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_for_text(page, selector: str, wanted: tuple[str, ...]) -> str:
    """Reload until the element shows one of ``wanted`` (the worker runs in the background)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        text = page.locator(selector).inner_text()
        if text in wanted or time.monotonic() > deadline:
            return text
        time.sleep(0.3)
        page.reload()


def test_an_operator_retries_a_failed_doi_and_replays_a_dead_letter(
    page, committed_database, committed_runtime
):
    # Given a DataCite DOI refused with the account's 401 (the password fixed since) ...
    with committed_database.session() as session:
        reg = fail_with_401(session, committed_runtime.registrars)
        doi, work_id = reg.doi, reg.work_id
        event_id = session.query(ReceivedEvent.id).scalar()
    # ... and a message parked as a dead letter
    with committed_database.session() as session:
        session.add(
            DeadLetter(
                queue="pidsync",
                actor="events.process",
                message_id="m-browser",
                args=[event_id],
                reason="worker died three times",
            )
        )

    # When the operator opens the dashboard, they are asked to log in
    page.goto("/ops")
    assert "/ops/login" in page.url
    shot(page, "login")
    page.fill("input[name=name]", "ann")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")

    # Then the overview shows the failed DOI, the dead letter and the chart
    assert page.url.endswith("/ops")
    assert "Logged in as ann" in page.content()
    failed_card = page.locator("a.card", has_text="failed DOIs").locator("b")
    assert failed_card.inner_text() == "1"
    assert page.locator("svg.chart").count() == 2
    shot(page, "overview")

    # When they list failed works and open the one failed
    page.goto("/ops/works?state=failed")
    shot(page, "works")
    page.click("a:has-text('w-1')")
    assert page.locator("#doi-state").inner_text() == "failed"
    assert "401" in page.locator("#timeline").inner_text()
    shot(page, "timeline-failed")

    # ... and retry it from the problems page
    page.goto("/ops/problems")
    shot(page, "problems")
    page.locator("td a", has_text="401").first.click()
    page.click("button:has-text('Retry')")
    assert "Done: doi" in page.locator(".flash").inner_text()

    # Then the worker sends it again and the timeline shows it registered
    page.goto(f"/ops/works/{work_id}")
    state = wait_for_text(page, "#doi-state", ("findable", "registered"))
    assert state in ("findable", "registered"), f"{doi} is {state}"
    shot(page, "timeline-registered")

    # When they replay the dead letter, it is sent again once
    page.goto("/ops/dead-letters")
    page.locator("form[action='/ops/dead-letters/replay'] input[name=row_id]").first.evaluate(
        "el => el.form.requestSubmit()"
    )
    assert "1 replayed" in page.locator(".flash").inner_text()
    shot(page, "dead-letters")
    with committed_database.session() as session:
        letter = session.query(DeadLetter).one()
        assert letter.requeued_at is not None

    for name in ("grants", "deposits"):
        page.goto(f"/ops/{name}")
        shot(page, name)


def test_the_api_docs_render_offline(page):
    # The machine has no route to a CDN: the pages render from pidsync's own files or not at all.
    page.goto("/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() > 3
    shot(page, "docs")
    page.goto("/redoc")
    page.wait_for_selector("[role=navigation], .menu-content", timeout=30_000)
    assert "events" in page.content()
    shot(page, "redoc")
