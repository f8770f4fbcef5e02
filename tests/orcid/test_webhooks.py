"""ORCID webhooks: the callback URL is ORCID's only credential, so it names no iD, its secret is
kept as a hash (and ciphertext for removal), and it never reaches a log line."""

from __future__ import annotations

import hashlib
import io
import logging
from contextlib import redirect_stderr

import pytest
from sqlalchemy import select, text

from tests.helpers import session_database
from tests.orcid.helpers import authorize, researcher
from worker.logging import configure_logging
from worker.models import OrcidGrant
from worker.orcid import reconcile, webhooks
from worker.orcid import sweep as orcid_sweep

BASE = "https://pidsync.example.edu"


@pytest.fixture
def hook_deps(sandbox, cipher, tmp_path, redis_client):
    from tests.orcid.conftest import orcid_settings
    from worker.orcid.deps import build

    settings = orcid_settings(sandbox, tmp_path, orcid_webhook_base_url=BASE)
    return build(settings, cipher, redis_client)


def note(result) -> str:
    assert result.delay is None, result.note
    return result.note


def registered_url(sandbox) -> str:
    (hook,) = sandbox.state()["orcid"]["webhooks"]
    return hook["url"]


def test_registered_url_names_no_orcid_and_the_secret_is_kept_as_a_hash(
    broker, session, sandbox, cipher, hook_deps, client_id
):
    # Given an active grant of a premium client
    orcid = researcher(sandbox)
    grant, token = authorize(session, sandbox, cipher, orcid, client_id)

    # When its webhook is registered
    assert note(webhooks.register(session, hook_deps, grant.id)) == "webhook registered"

    # Then ORCID holds {base}/webhooks/orcid/{id}/{secret}: a random id, not the iD
    url = registered_url(sandbox)
    webhook_id, secret = url.removeprefix(f"{BASE}/webhooks/orcid/").split("/")
    assert orcid not in url
    assert len(webhook_id) >= 16 and len(secret) >= 40
    # And the database holds the secret's SHA-256 and ciphertext, never the secret itself
    row = session.get(OrcidGrant, grant.id)
    assert row.webhook_id == webhook_id
    assert row.webhook_secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.encode() not in row.webhook_secret_enc
    dump = session.execute(
        text("SELECT row_to_json(g)::text FROM orcid_grants g WHERE id = :id"), {"id": grant.id}
    ).scalar_one()
    assert secret not in dump

    # And only the right id with the right secret is accepted
    assert webhooks.receive(session, webhook_id, secret) is True
    assert webhooks.receive(session, webhook_id, secret[:-1] + "x") is False
    assert webhooks.receive(session, orcid, secret) is False
    assert webhooks.receive(session, "unknown", secret) is False

    # When the grant ends (revoked at ORCID), the upkeep removes the webhook at the same URL
    sandbox.revoke_token(token["access_token"])
    reconcile.check_grant(session, hook_deps, grant.id)
    assert orcid_sweep.webhook_upkeep(session_database(session), hook_deps) == 1
    assert note(webhooks.unregister(session, hook_deps, grant.id)) == "webhook removed"
    assert sandbox.state()["orcid"]["webhooks"] == []
    row = session.get(OrcidGrant, grant.id)
    assert (row.webhook_id, row.webhook_secret_hash, row.webhook_secret_enc) == (None, None, None)
    # And the old URL no longer authenticates anything
    assert webhooks.receive(session, webhook_id, secret) is False


def test_a_retried_registration_registers_the_same_url(
    session, sandbox, cipher, hook_deps, client_id
):
    orcid = researcher(sandbox)
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    webhooks.register(session, hook_deps, grant.id)
    first = registered_url(sandbox)
    session.get(OrcidGrant, grant.id).webhook_registered_at = None  # its answer was lost
    session.flush()

    assert note(webhooks.register(session, hook_deps, grant.id)) == "webhook already registered"
    assert registered_url(sandbox) == first


def test_two_clients_webhooks_on_one_record_are_told_apart(
    session, sandbox, cipher, hook_deps, client_id
):
    from tests.orcid import helpers
    from tests.orcid.conftest import sandbox_clients
    from worker.events.service import Context

    # Given one researcher granting two institutions' clients (both configured here)
    hook_deps.settings = hook_deps.settings.model_copy(
        update={"orcid_clients": sandbox_clients(sandbox)}
    )
    helpers.CONTEXT[-1] = Context(hook_deps.settings, orcid=hook_deps)
    orcid = researcher(sandbox)
    first, _ = authorize(session, sandbox, cipher, orcid, client_id)
    other_client = sandbox_clients(sandbox)[1].client_id
    second, _ = authorize(session, sandbox, cipher, orcid, other_client)
    webhooks.register(session, hook_deps, first.id)
    webhooks.register(session, hook_deps, second.id)
    one = session.get(OrcidGrant, first.id)
    two = session.get(OrcidGrant, second.id)

    # Then each webhook has its own id, and one's secret does not open the other
    assert one.webhook_id != two.webhook_id
    urls = [h["url"] for h in sandbox.state()["orcid"]["webhooks"]]
    secret_one = next(u for u in urls if one.webhook_id in u).rsplit("/", 1)[1]
    assert webhooks.receive(session, two.webhook_id, secret_one) is False
    assert webhooks.receive(session, one.webhook_id, secret_one) is True


def test_a_webhook_registered_before_hashing_keeps_working_and_is_reported_on_removal(
    session, sandbox, cipher, hook_deps, client_id
):
    # Given a grant as the migration leaves one registered before: id = the iD, hash only
    orcid = researcher(sandbox)
    grant, token = authorize(session, sandbox, cipher, orcid, client_id)
    legacy = "L" * 43
    grant.webhook_id = orcid
    grant.webhook_secret_hash = hashlib.sha256(legacy.encode()).hexdigest()
    grant.webhook_registered_at = grant.created_at
    session.flush()

    # Then ORCID's calls to the old URL /webhooks/orcid/{orcid}/{secret} are still accepted
    assert webhooks.receive(session, orcid, legacy) is True

    # When the grant ends, the URL cannot be rebuilt: a person is told, and the secret dropped
    sandbox.revoke_token(token["access_token"])
    reconcile.check_grant(session, hook_deps, grant.id)
    result = webhooks.unregister(session, hook_deps, grant.id)
    assert "remove it at ORCID" in note(result)
    assert webhooks.receive(session, orcid, legacy) is False


def test_route_accepts_the_registered_url_and_refuses_others(
    client, session, sandbox, cipher, hook_deps, client_id
):
    orcid = researcher(sandbox)
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    webhooks.register(session, hook_deps, grant.id)
    path = registered_url(sandbox).removeprefix(BASE)
    webhook_id = path.split("/")[3]

    assert client.post(path).status_code == 204
    assert client.post(path[:-1] + ("a" if path[-1] != "a" else "b")).status_code == 404
    assert client.post(f"/webhooks/orcid/{orcid}/{'s' * 43}").status_code == 404
    # Junk never reaches the database as a 500
    assert client.post(f"/webhooks/orcid/{webhook_id}/%00").status_code == 404
    assert client.post("/webhooks/orcid/%00/x").status_code == 404
    assert client.post(f"/webhooks/orcid/{webhook_id}/{'x' * 5000}").status_code == 404
    assert client.post(f"/webhooks/orcid/{webhook_id}/%C3%A9").status_code == 404


def test_the_secret_never_reaches_the_access_log(monkeypatch):
    # Given pidsync's logging, through which uvicorn's access log goes at INFO (set here: an
    # in-process uvicorn started by another test may have left the logger at its own level)
    configure_logging("INFO", "json")
    access = logging.getLogger("uvicorn.access")
    monkeypatch.setattr(access, "level", logging.INFO)
    monkeypatch.setattr(access, "disabled", False)
    secret = "Zq9" + "s" * 40
    stream = io.StringIO()
    # When uvicorn logs ORCID's call (its own format and arguments)
    with redirect_stderr(stream):
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d',
            "203.0.113.5:4711",
            "POST",
            f"/webhooks/orcid/AbCdEf123456-_xy/{secret}",
            "1.1",
            204,
        )
    line = stream.getvalue()
    # Then the line names the route and the id, not the secret
    assert "/webhooks/orcid/AbCdEf123456-_xy/" in line
    assert secret not in line


def test_no_plain_secret_column_is_left(session):
    columns = set(
        session.execute(
            select(text("column_name"))
            .select_from(text("information_schema.columns"))
            .where(text("table_name = 'orcid_grants'"))
        ).scalars()
    )
    assert "webhook_secret" not in columns
    assert {"webhook_id", "webhook_secret_hash", "webhook_secret_enc"} <= columns


def test_the_migration_hashes_secrets_of_webhooks_registered_before(database_url):
    """Upgrade a database holding a plain secret: the old callback URL keeps authenticating,
    the plain secret is gone."""
    import os

    import psycopg
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session as OrmSession

    from worker.migrate import upgrade

    # Given a scratch database at the revision before, with a registered webhook
    admin = make_url(database_url)
    run = os.environ.get("PIDSYNC_TEST_RUN", "")  # two suites on one server stay apart
    name = f"pidsync_webhook_migration_{run}_{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        upgrade(url, "bee17795b75e")
        orcid, legacy = "0000-0002-1825-0097", "P" * 43
        with engine.begin() as conn:
            researcher_id = conn.execute(
                text("INSERT INTO researchers (orcid) VALUES (:o) RETURNING id"), {"o": orcid}
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO orcid_grants (researcher_id, client_id, scope, access_token_enc,"
                    " status, webhook_secret, webhook_registered_at)"
                    " VALUES (:r, 'APP-1', '/read-limited', '\\x00', 'active', :s, now())"
                ),
                {"r": researcher_id, "s": legacy},
            )
        # When it is upgraded
        upgrade(url)
        # Then the old URL /webhooks/orcid/{orcid}/{secret} still authenticates, by its hash
        with OrmSession(engine) as session:
            grant = session.execute(select(OrcidGrant)).scalar_one()
            assert grant.webhook_id == orcid
            assert grant.webhook_secret_hash == hashlib.sha256(legacy.encode()).hexdigest()
            assert grant.webhook_secret_enc is None
            assert webhooks.receive(session, orcid, legacy) is True
            assert webhooks.receive(session, orcid, "Q" * 43) is False
            session.rollback()
            dump = session.execute(text("SELECT row_to_json(g)::text FROM orcid_grants g"))
            assert legacy not in dump.scalar_one()
    finally:
        engine.dispose()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
