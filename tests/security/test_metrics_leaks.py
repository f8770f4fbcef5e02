"""/metrics as someone who can scrape it sees it: counts, never a secret. After a tenant sent a
token grant, a hostile event type and a body with credentials, and someone failed a login with
a password, the exposition holds none of those values, nor the intake secret, nor the ops
credential, nor the dashboard's session secret."""

from __future__ import annotations

from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.conftest import INTAKE_SECRET
from tests.helpers import event, signed_post, work
from worker.web.app import create_app

ACCESS = "f5af9f51-07e6-4332-8f1a-c0c11c1e3728"
REFRESH = "f725f747-3a65-49f6-a231-3e8944ce464d"
OPS_CREDENTIAL = "ops-bearer-credential-9b1e"
SESSION_SECRET = "dashboard-session-secret-5c2a"
GUESSED = "guessed-password-77ab"


def test_metrics_carry_no_token_secret_or_password(runtime, monkeypatch):
    settings = runtime.settings.model_copy(
        update={
            "ops_credential": SecretStr(OPS_CREDENTIAL),
            "dashboard": runtime.settings.dashboard.model_copy(
                update={"session_secret": SecretStr(SESSION_SECRET)}
            ),
        }
    )
    monkeypatch.setattr(runtime, "settings", settings)
    with TestClient(create_app(runtime)) as client:
        grant = {
            "orcid": "0000-0002-1825-0097",
            "access_token": ACCESS,
            "refresh_token": REFRESH,
            "scope": "/activities/update /read-limited",
            "expires_in": 631138518,
            "name": "Sofia Garcia",
        }
        sent = signed_post(client, event("researcher.authorized", grant), secret=INTAKE_SECRET)
        assert sent.status_code == 202, sent.text
        hostile = event(
            "work.published",
            work("w-leak", url=f"https://user:{GUESSED}@repo.example.edu/w"),
            event_id="leak-2",
        )
        signed_post(client, hostile, secret=INTAKE_SECRET)
        signed_post(client, event(f"x.{ACCESS}", {}), secret=INTAKE_SECRET)  # a 422
        login = client.get("/ops/login")
        assert login.status_code in (200, 401)
        client.post("/ops/login", data={"name": "ann", "password": GUESSED, "csrf": "x"})
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {OPS_CREDENTIAL}"})
    assert scraped.status_code == 200, scraped.text
    text = scraped.text
    assert "pidsync_" in text  # the exposition, not an error page
    for secret in (ACCESS, REFRESH, INTAKE_SECRET, OPS_CREDENTIAL, SESSION_SECRET, GUESSED):
        assert secret not in text, f"{secret!r} appears in /metrics"
