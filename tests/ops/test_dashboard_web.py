"""/ops over HTTP: a login on every page and action, CSRF on every POST, a proxy's header
believed only from the proxy, ops seeing every tenant while the signed client APIs stay
scoped, pages that page, and /docs served without a CDN."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import INTAKE_SECRET
from tests.helpers import signed_get
from tests.ops.flows import fail_with_401
from tests.orcid.conftest import with_registrars
from tests.registrars.flow import datacite_work, event, registration, sync
from worker.config import DashboardSettings, OpsUser
from worker.models import DeadLetter, DoiState, OpsAction, OpsActionKind, Work
from worker.web.app import create_app
from worker.web.dashboard.auth import COOKIE, hash_password

PASSWORD = "correct horse battery staple"
PAGES = [
    "/ops",
    "/ops/works",
    "/ops/works/1",
    "/ops/problems",
    "/ops/problems?reason=x",
    "/ops/dead-letters",
    "/ops/dead-letters/1",
    "/ops/grants",
    "/ops/deposits",
]
ACTIONS = [
    "/ops/problems/retry",
    "/ops/problems/retry-reason",
    "/ops/problems/release",
    "/ops/problems/discard",
    "/ops/dead-letters/replay",
    "/ops/dead-letters/purge",
    "/ops/logout",
]


@pytest.fixture
def settings(sandbox, tmp_path):
    dashboard = DashboardSettings(
        users=[OpsUser(name="ann", password_hash=hash_password(PASSWORD))],
        proxy_header="X-Remote-User",
        trusted_proxies=["10.1.2.3"],
        page_size=2,
    )
    return with_registrars(sandbox, tmp_path, dashboard=dashboard)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


def login(client, name: str = "ann", password: str = PASSWORD):
    token = csrf_of(client.get("/ops/login").text)
    return client.post(
        "/ops/login",
        data={"csrf": token, "name": name, "password": password, "next": "/ops"},
        follow_redirects=False,
    )


@pytest.fixture
def ops(client):
    assert login(client).status_code == 303
    return client


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_stranger_to_the_login(client, path):
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/ops/login?next={quote(path)}"


@pytest.mark.parametrize("path", ACTIONS)
def test_every_action_refuses_a_stranger_even_with_a_token(client, path):
    token = csrf_of(client.get("/ops/login").text)
    answer = client.post(path, data={"csrf": token, "row_id": "1", "all": "1"})
    assert answer.status_code == 401


def test_without_any_login_configured_the_dashboard_is_closed(runtime):
    from worker.web.dashboard.auth import Gate

    app = create_app(runtime)
    # The same process with nothing configured: no users, no proxy header, no credential.
    app.state.ops_gate = Gate(
        runtime.settings.model_copy(update={"dashboard": DashboardSettings()})
    )
    with TestClient(app) as c:
        assert c.get("/ops", follow_redirects=False).status_code == 401
        assert "no login configured" in c.get("/ops/login").text


def test_a_wrong_password_or_unknown_name_is_refused(client):
    assert login(client, password="wrong").status_code == 401
    assert login(client, name="bob").status_code == 401
    assert client.get("/ops", follow_redirects=False).status_code == 303


def test_the_login_form_needs_its_csrf_token(client):
    answer = client.post("/ops/login", data={"name": "ann", "password": PASSWORD})
    assert answer.status_code == 403
    assert client.get("/ops", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_signed_httponly_strict_and_scoped(client):
    answer = login(client)
    cookie = answer.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ops" in cookie
    assert client.get("/ops", follow_redirects=False).status_code == 200
    # A cookie naming "ann" signed with any other key logs nobody in.
    from itsdangerous import URLSafeTimedSerializer

    forged = URLSafeTimedSerializer("guessed", salt="pidsync-ops-session").dumps(
        {"csrf": "x", "user": "ann"}
    )
    client.cookies.clear()
    client.cookies.set(COOKIE, forged)
    assert client.get("/ops", follow_redirects=False).status_code == 303


def test_logged_in_every_page_renders(ops, session, registrars):
    fail_with_401(session, registrars)
    work = session.execute(select(Work)).scalar_one()
    for path in [p for p in PAGES if not p.endswith("/1")] + [f"/ops/works/{work.id}"]:
        answer = ops.get(path)
        assert answer.status_code == 200, path
        assert "no-store" in answer.headers["cache-control"]
    assert "<svg" in ops.get("/ops").text  # the chart, drawn on the server
    assert ops.get("/ops/works/999999").status_code == 404


def test_an_action_without_or_with_a_wrong_csrf_token_changes_nothing(ops, session, registrars):
    reg = fail_with_401(session, registrars)
    for data in (
        {"kind": "doi", "row_id": reg.id},
        {"kind": "doi", "row_id": reg.id, "csrf": "forged"},
    ):
        assert ops.post("/ops/problems/retry", data=data).status_code == 403
    session.refresh(reg)
    assert reg.state == DoiState.FAILED
    assert session.execute(select(OpsAction)).first() is None


def test_retry_from_the_problems_page_registers_the_doi_and_records_who(ops, session, registrars):
    reg = fail_with_401(session, registrars)
    page = ops.get("/ops/problems?reason=" + quote(reg.last_error.split("\n")[0][:160]))
    assert "w-1" in page.text
    answer = ops.post(
        "/ops/problems/retry",
        data={"csrf": csrf_of(page.text), "kind": "doi", "row_id": reg.id, "back": "/ops/problems"},
    )
    assert answer.status_code == 200 and "Done: doi" in answer.text
    assert sync(session, registrars, registration(session, "w-1")) is None
    session.refresh(reg)
    assert reg.state in (DoiState.FINDABLE, DoiState.REGISTERED)
    action = session.execute(select(OpsAction)).scalar_one()
    assert (action.actor, action.action, action.target_id) == ("ann", OpsActionKind.RETRY, reg.id)


def test_a_proxy_header_is_believed_only_from_the_trusted_proxy(runtime):
    app = create_app(runtime)
    with TestClient(app, client=("10.9.9.9", 5000)) as stranger:
        answer = stranger.get("/ops", headers={"X-Remote-User": "eve"}, follow_redirects=False)
        assert answer.status_code == 303
    with TestClient(app, client=("10.1.2.3", 5000)) as proxy:
        answer = proxy.get("/ops", headers={"X-Remote-User": "carol"})
        assert answer.status_code == 200 and "carol" in answer.text
        # ... and its users still need the page's token to act
        assert (
            proxy.post(
                "/ops/dead-letters/purge", data={"all": "1"}, headers={"X-Remote-User": "carol"}
            ).status_code
            == 403
        )


def test_ops_sees_every_tenant_while_the_signed_api_stays_scoped(ops, client, session, registrars):
    event(session, "work.published", datacite_work("w-other"))
    work = session.execute(select(Work).where(Work.external_id == "w-other")).scalar_one()
    work.client_id = "another-client"
    session.flush()
    assert "w-other" in ops.get("/ops/works?q=w-other").text
    assert ops.get(f"/ops/works/{work.id}").status_code == 200
    target = f"/works/{quote(work.source, safe='')}/w-other"
    assert signed_get(client, target, secret=INTAKE_SECRET).status_code == 404


def test_works_pages_follow_one_another(ops, session, registrars):
    for n in range(5):
        event(session, "work.published", datacite_work(f"w-{n}"))
    seen, path = [], "/ops/works"
    while path:
        page = ops.get(path).text
        seen += re.findall(r'href="/ops/works/\d+">(w-\d)<', page)
        nxt = re.search(r'href="([^"]+)" rel="next"', page)
        path = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert sorted(seen) == [f"w-{n}" for n in range(5)]


def test_a_dead_letter_is_replayed_once_and_purged(ops, session):
    letter = DeadLetter(
        queue="pidsync",
        actor="events.process",
        message_id="m-9",
        args=[1],
        reason="boom with Authorization: Bearer abc123",
    )
    session.add(letter)
    session.flush()
    page = ops.get("/ops/dead-letters").text
    assert "abc123" not in page and "events.process" in page
    token = csrf_of(page)
    assert (
        "1 replayed"
        in ops.post("/ops/dead-letters/replay", data={"csrf": token, "row_id": letter.id}).text
    )
    assert (
        "0 replayed"
        in ops.post("/ops/dead-letters/replay", data={"csrf": token, "row_id": letter.id}).text
    )
    assert (
        "1 purged"
        in ops.post("/ops/dead-letters/purge", data={"csrf": token, "row_id": letter.id}).text
    )
    assert session.execute(select(DeadLetter)).first() is None


def test_docs_are_served_from_pidsync_itself(client):
    for path in ("/docs", "/redoc"):
        page = client.get(path).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert assets, path
        for asset in assets:
            assert asset.startswith("/docs-assets/"), (path, asset)  # nothing from a CDN
            assert client.get(asset).status_code == 200, asset
        assert "fonts.googleapis" not in page and "cdn" not in page.lower()


def test_password_guessing_is_paced_per_address(client, settings):
    answers = [login(client, password=f"guess {n}").status_code for n in range(8)]
    assert answers[: settings.dashboard.login_burst] == [401] * settings.dashboard.login_burst
    assert answers[-1] == 429
    # ... and even the right password waits its turn
    answer = login(client)
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1


def test_the_ops_credential_opens_the_dashboard_too(runtime):
    from pydantic import SecretStr

    from worker.web.dashboard.auth import Gate

    token = "t" * 40
    app = create_app(runtime)
    app.state.ops_gate = Gate(
        runtime.settings.model_copy(update={"ops_credential": SecretStr(token)})
    )
    with TestClient(app) as c:
        assert c.get("/ops", follow_redirects=False).status_code == 303
        wrong = c.get(
            "/ops", headers={"Authorization": "Bearer " + "x" * 40}, follow_redirects=False
        )
        assert wrong.status_code == 303
        assert c.get("/ops", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_hostile_input_is_refused_or_escaped(ops, session, registrars):
    token = csrf_of(ops.get("/ops").text)
    big = ops.post("/ops/problems/discard", data={"csrf": token, "note": "x" * 70_000})
    assert big.status_code == 413
    bad_id = ops.post("/ops/problems/retry", data={"csrf": token, "kind": "doi", "row_id": "1;"})
    assert bad_id.status_code == 400
    # A title that is markup shows as text, never runs.
    event(session, "work.published", datacite_work("w-x", title="<script>alert(1)</script>"))
    page = ops.get("/ops/works?q=w-x").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    # A search text with SQL's wildcards matches itself only.
    assert "w-x" not in ops.get("/ops/works?q=%25").text
    # An unknown kind is refused by name, and nothing is recorded.
    done = ops.post(
        "/ops/problems/discard", data={"csrf": token, "kind": "grant", "row_id": "1", "note": "n"}
    )
    assert "unknown kind" in done.text
    assert session.execute(select(OpsAction)).first() is None


def test_login_never_sends_the_browser_elsewhere(client):
    token = csrf_of(client.get("/ops/login").text)
    for target in ("//evil.example/ops", "https://evil.example/", "/elsewhere"):
        answer = client.post(
            "/ops/login",
            follow_redirects=False,
            data={"csrf": token, "name": "ann", "password": PASSWORD, "next": target},
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/ops", target
        token = csrf_of(client.get("/ops/login").text)


def test_dashboard_settings_refuse_what_would_not_work(monkeypatch):
    from worker.config import ConfigError, load_settings

    hashed = hash_password(PASSWORD)
    monkeypatch.setenv("PIDSYNC_ENV", "production")
    monkeypatch.setenv(
        "PIDSYNC_DASHBOARD_USERS", f'[{{"name": "ann", "password_hash": "{hashed}"}}]'
    )
    with pytest.raises(ConfigError, match="PIDSYNC_DASHBOARD_SESSION_SECRET is required"):
        load_settings()
    monkeypatch.setenv("PIDSYNC_DASHBOARD_SESSION_SECRET", "short")
    with pytest.raises(ConfigError, match="at least 32 characters"):
        load_settings()
    monkeypatch.setenv("PIDSYNC_DASHBOARD_SESSION_SECRET", "s" * 40)
    monkeypatch.setenv("PIDSYNC_DASHBOARD_USERS", '[{"name": "ann", "password_hash": "plain"}]')
    with pytest.raises(ConfigError, match="argon2"):
        load_settings()
    monkeypatch.setenv("PIDSYNC_DASHBOARD_USERS", "[]")
    monkeypatch.setenv("PIDSYNC_DASHBOARD_PROXY_HEADER", "X-Remote-User")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings()


def test_over_https_the_cookie_is_secure(runtime):
    with TestClient(create_app(runtime), base_url="https://ops.example.org") as c:
        answer = login(c)
        assert answer.status_code == 303
        assert "Secure" in answer.headers["set-cookie"]
