"""Researcher consent through /orcid/connect and /orcid/callback, against the sandbox's consent
page (automated: the form is posted as the researcher would)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from tests.orcid.conftest import CALLBACK, RETURN_TO
from tests.orcid.helpers import publish, researcher
from worker.models import GrantStatus, OAuthState, OrcidGrant, OrcidPlacement, PlacementState
from worker.orcid.consent import COOKIE, return_to_allowed


class FormFields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""


def consent_at_orcid(authorize_url: str, orcid: str, *, approve: bool = True) -> str:
    """The researcher signs in and decides on ORCID's page; where ORCID sends the browser."""
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200, page.text
    parser = FormFields()
    parser.feed(page.text)
    fields = dict(parser.fields, orcid=orcid, user_oauth_approval="true" if approve else "false")
    answer = requests.post(authorize_url, data=fields, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def callback_path(location: str) -> str:
    assert location.startswith(CALLBACK)
    return "/orcid/callback?" + urlsplit(location).query


def start(client, **params) -> str:
    answer = client.get("/orcid/connect", params=params, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def test_connect_consent_callback_stores_the_grant_and_returns(client, session, sandbox):
    # Given a work waiting for its contributor's consent
    orcid = researcher(sandbox)
    work_row = publish(session, "w-1", orcid)

    # When the researcher goes through connect → ORCID → callback
    url = start(client, person="p-17", return_to=RETURN_TO + "/page?x=1")
    query = parse_qs(urlsplit(url).query)
    assert query["scope"] == ["/activities/update /read-limited"]
    assert query["redirect_uri"] == [CALLBACK]
    assert client.cookies.get(COOKIE) == query["state"][0]
    back = client.get(callback_path(consent_at_orcid(url, orcid)), follow_redirects=False)

    # Then they land on the allow-listed page with the outcome, and the grant is stored sealed
    assert back.status_code == 302
    target = urlsplit(back.headers["location"])
    assert target.netloc == "cris.example.edu" and target.path == "/after/page"
    assert parse_qs(target.query) == {
        "x": ["1"],
        "orcid_status": ["granted"],
        "orcid": [orcid],
        "person": ["p-17"],
    }
    grant = session.execute(select(OrcidGrant)).scalar_one()
    assert grant.status == GrantStatus.ACTIVE
    assert grant.scope == "/activities/update /read-limited"
    assert b"-" not in grant.access_token_enc[:10]  # Fernet ciphertext, not a UUID
    state = session.execute(select(OAuthState)).scalar_one()
    assert state.outcome == "granted" and state.orcid == orcid and state.used_at is not None
    assert state.outcome_reason is None
    # And the waiting work is queued for the bulk backfill
    session.expire_all()
    row = session.execute(
        select(OrcidPlacement).where(OrcidPlacement.work_id == work_row.id)
    ).scalar_one()
    assert row.state == PlacementState.PENDING


def test_without_return_to_a_plain_page_confirms(client, session, sandbox):
    orcid = researcher(sandbox)
    url = start(client)
    back = client.get(callback_path(consent_at_orcid(url, orcid)))
    assert back.status_code == 200
    assert "ORCID connected" in back.text
    assert "will be added to your ORCID record" in back.text


def test_denied_consent_is_shown_plainly_and_recorded(client, session, sandbox):
    orcid = researcher(sandbox)
    url = start(client)

    back = client.get(callback_path(consent_at_orcid(url, orcid, approve=False)))

    assert back.status_code == 200
    assert "ORCID not connected" in back.text
    assert "did not authorise" in back.text
    state = session.execute(select(OAuthState)).scalar_one()
    assert state.outcome == "denied"
    assert state.outcome_reason == "You did not authorise access to your ORCID record."
    assert session.execute(select(OrcidGrant)).first() is None


def test_denied_consent_with_return_to_redirects_with_the_outcome(client, session, sandbox):
    orcid = researcher(sandbox)
    url = start(client, return_to=RETURN_TO)
    back = client.get(
        callback_path(consent_at_orcid(url, orcid, approve=False)), follow_redirects=False
    )
    assert back.status_code == 302
    assert parse_qs(urlsplit(back.headers["location"]).query)["orcid_status"] == ["denied"]


def test_state_cannot_be_used_twice(client, session, sandbox):
    orcid = researcher(sandbox)
    path = callback_path(consent_at_orcid(start(client), orcid))
    cookie = client.cookies.get(COOKIE)
    assert client.get(path).status_code == 200

    client.cookies.set(COOKIE, cookie, path="/orcid")
    again = client.get(path)

    assert again.status_code == 400
    assert "already used" in again.text
    assert len(session.execute(select(OrcidGrant)).all()) == 1


def test_expired_state_is_refused_and_recorded(client, session, sandbox):
    orcid = researcher(sandbox)
    path = callback_path(consent_at_orcid(start(client), orcid))
    state = session.execute(select(OAuthState)).scalar_one()
    state.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()

    answer = client.get(path)

    assert answer.status_code == 400
    assert "expired" in answer.text
    session.expire_all()
    state = session.execute(select(OAuthState)).scalar_one()
    assert state.outcome == "failed"
    assert state.outcome_reason == "this consent request expired: please start again"
    assert session.execute(select(OrcidGrant)).first() is None


def test_unknown_state_and_another_browsers_state_are_refused(client, session, sandbox):
    orcid = researcher(sandbox)
    path = callback_path(consent_at_orcid(start(client), orcid))

    unknown = client.get("/orcid/callback?code=abcdef&state=forged")
    client.cookies.clear()
    other_browser = client.get(path)

    assert unknown.status_code == 400 and "unknown consent request" in unknown.text
    assert other_browser.status_code == 400
    assert "started in this browser" in other_browser.text
    state = session.execute(select(OAuthState)).scalar_one()
    assert state.used_at is None  # the real browser can still finish
    assert session.execute(select(OrcidGrant)).first() is None


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example.com/after",
        "https://cris.example.edu.evil.com/after",
        "https://cris.example.edu@evil.com/after",
        "//evil.com/after",
        "https://cris.example.edu/afterlife",
        "http://cris.example.edu/after",
        "https://cris.example.edu:8443/after",
        "javascript:alert(1)",
        "https://cris.example.edu/after\\@evil.com",
    ],
)
def test_open_redirect_through_return_to_is_refused(client, session, target):
    answer = client.get("/orcid/connect", params={"return_to": target}, follow_redirects=False)
    assert answer.status_code == 400
    assert "return_to" in answer.text
    assert session.execute(select(OAuthState)).first() is None


def test_allow_list_accepts_pages_below_the_prefix(settings):
    assert return_to_allowed(settings, RETURN_TO)
    assert return_to_allowed(settings, RETURN_TO + "/deep/page?x=1#top")
    assert not return_to_allowed(settings, RETURN_TO + "-other")


def test_invitation_link_works_without_the_browser_cookie(client, session, sandbox, settings):
    from worker.orcid.consent import create_invite

    orcid = researcher(sandbox)
    invite = create_invite(
        session,
        settings,
        orcid=orcid,
        client_id=settings.orcid_clients[0].client_id,
        redirect_uri=CALLBACK,
    )
    deps = client.app.state.runtime.orcid
    url = deps.oauth(invite.client_id).authorization_url(CALLBACK, invite.state)

    answer = client.get(callback_path(consent_at_orcid(url, orcid)))

    assert answer.status_code == 200 and "ORCID connected" in answer.text
    assert session.execute(select(OrcidGrant)).scalar_one().status == GrantStatus.ACTIVE


def test_several_clients_need_the_client_parameter(client, settings, monkeypatch, sandbox):
    from tests.orcid.conftest import sandbox_clients

    runtime = client.app.state.runtime
    from worker.orcid.deps import build

    runtime.settings = settings.model_copy(update={"orcid_clients": sandbox_clients(sandbox)})
    runtime.orcid = build(runtime.settings, runtime.cipher, runtime.redis)
    missing = client.get("/orcid/connect", follow_redirects=False)
    chosen = client.get(
        "/orcid/connect",
        params={"client": sandbox_clients(sandbox)[1].client_id},
        follow_redirects=False,
    )
    assert missing.status_code == 400 and "client: required" in missing.text
    assert chosen.status_code == 302
    assert "client_id=APP-SANDBOXCLIENT002" in chosen.headers["location"]
