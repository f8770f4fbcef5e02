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
from worker.models import (
    ConsentOutcome,
    GrantStatus,
    OAuthState,
    OrcidGrant,
    OrcidPlacement,
    PlacementState,
)
from worker.orcid.consent import COOKIE, purge_expired, return_to_allowed
from worker.orcid.return_to import normalise, signature, verify


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


def client_secret(client) -> str:
    """The secret of the (one) ORCID client the test app is configured with."""
    (orcid_client,) = client.app.state.runtime.settings.orcid_client_list()
    return orcid_client.client_secret.get_secret_value()


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
    params = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert {k: v for k, v in params.items() if k not in ("orcid_ts", "orcid_sig")} == {
        "x": "1",
        "orcid_status": "granted",
        "orcid": orcid,
        "person": "p-17",
    }
    # And the CRIS can tell pidsync sent it: the signature checks with the client's secret
    assert verify(client_secret(client), params)
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
        # Dot segments and their encodings climb out of the allowed prefix
        "https://cris.example.edu/after/../admin",
        "https://cris.example.edu/after/%2e%2e/admin",
        "https://cris.example.edu/after/%2E%2E/%2E%2E/admin",
        "https://cris.example.edu/after/./../admin",
        # An encoded slash or backslash a server may decode into another path
        "https://cris.example.edu/after%2f..%2fadmin",
        "https://cris.example.edu/after/..%5cadmin",
        # Backslashes browsers read as slashes, user info, whitespace, controls
        "https:\\\\evil.com/after",
        "https://evil.com\\@cris.example.edu/after",
        "https://user:pw@cris.example.edu/after",
        "https://cris.example.edu/after\t/x",
        "https://cris.example.edu/after\x00",
        " https://cris.example.edu/after",
        "https://cris.example.edu./after/../../admin",
        "https://[::1].cris.example.edu/after",
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


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://CRIS.example.edu./after/./x/../page", "https://cris.example.edu/after/page"),
        (
            "https://cris.example.edu:443/after/%2e/page?q=1#frag",
            "https://cris.example.edu/after/page?q=1",
        ),
        ("https://cris.example.edu/after", "https://cris.example.edu/after"),
    ],
)
def test_return_to_is_stored_in_its_normal_form(client, session, given, stored):
    # Given a return_to that is allowed once normalised
    answer = client.get("/orcid/connect", params={"return_to": given}, follow_redirects=False)
    # Then the consent starts, and what is kept (and later redirected to) is the normal form
    assert answer.status_code == 302, answer.text
    assert session.execute(select(OAuthState)).scalar_one().return_to == stored
    assert normalise(given) == stored


def test_a_forged_or_altered_status_does_not_verify(client, session, sandbox):
    # Given a signed redirect for a denied consent
    orcid = researcher(sandbox)
    url = start(client, person="p-1", return_to=RETURN_TO)
    back = client.get(
        callback_path(consent_at_orcid(url, orcid, approve=False)), follow_redirects=False
    )
    params = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}
    key = client_secret(client)
    assert verify(key, params)
    # When someone flips it to granted, names another person, drops the person or signs with a
    # guessed key, the CRIS refuses it
    assert not verify(key, {**params, "orcid_status": "granted"})
    assert not verify(key, {**params, "person": "p-2"})
    assert not verify(key, {k: v for k, v in params.items() if k != "person"})
    forged = {**params, "orcid_status": "granted"}
    assert not verify(key, {**forged, "orcid_sig": signature("guessed", forged)})


def test_a_status_the_cris_put_in_return_to_is_replaced_not_trusted(client, session, sandbox):
    # Given a return_to that already carries orcid_status=granted (typed by anyone)
    orcid = researcher(sandbox)
    url = start(client, return_to=RETURN_TO + "?orcid_status=granted&orcid_sig=00")
    back = client.get(
        callback_path(consent_at_orcid(url, orcid, approve=False)), follow_redirects=False
    )
    # Then the browser comes back with one orcid_status, pidsync's, and one signature
    query = parse_qs(urlsplit(back.headers["location"]).query)
    assert query["orcid_status"] == ["denied"]
    assert len(query["orcid_sig"]) == 1
    assert verify(client_secret(client), {k: v[0] for k, v in query.items()})


@pytest.mark.parametrize(
    "params",
    [
        {"person": "\x00"},
        {"person": "p\x00-1"},
        {"person": "x" * 501},
        {"person": "line\nbreak"},
        {"client": "\x00"},
        {"client": "c" * 101},
        {"return_to": "\x00"},
        {"return_to": "https://cris.example.edu/after/" + "a" * 2100},
    ],
)
def test_junk_parameters_are_a_400_naming_the_parameter(client, session, params):
    answer = client.get("/orcid/connect", params=params, follow_redirects=False)
    assert answer.status_code == 400, answer.text
    assert next(iter(params)) in answer.text
    assert session.execute(select(OAuthState)).first() is None


@pytest.mark.parametrize(
    "query",
    [
        "state=%00&code=abc",
        "state=ok&code=%00",
        "state=%F0%9F%92%A9&code=abc",
        "state=" + "s" * 5000,
        "state=x&error=%00&error_description=%00",
    ],
)
def test_junk_on_the_callback_is_a_400_never_a_500(client, session, query):
    answer = client.get("/orcid/callback?" + query)
    assert answer.status_code == 400, answer.text


def test_a_cookie_that_is_not_ascii_is_not_this_browsers_state(client, session, sandbox):
    orcid = researcher(sandbox)
    path = callback_path(consent_at_orcid(start(client), orcid))
    client.cookies.clear()
    answer = client.get(path, headers={"Cookie": f"{COOKIE}=%C3%A9t%C3%A9"})
    assert answer.status_code == 400 and "started in this browser" in answer.text


def test_oauth_error_text_stored_for_an_attempt_carries_no_code(client, session, sandbox):
    # Given a consent whose code ORCID refuses, repeating the code in its error text
    orcid = researcher(sandbox)
    url = start(client, return_to=RETURN_TO)
    path = callback_path(consent_at_orcid(url, orcid))
    code = parse_qs(urlsplit(path).query)["code"][0]
    state = parse_qs(urlsplit(path).query)["state"][0]
    # ORCID's own wording for a bad code (API_FACTS §1.2): "Invalid authorization code: <code>"
    answer = client.get(
        f"/orcid/callback?state={state}&error=invalid_grant"
        f"&error_description=Invalid+authorization+code:+{code}+(code={code})",
        follow_redirects=False,
    )
    # Then the attempt is recorded as failed, naming the error but never the code
    assert answer.status_code == 302
    row = session.execute(select(OAuthState)).scalar_one()
    assert row.outcome == ConsentOutcome.FAILED
    assert row.outcome_reason.startswith("ORCID reported an error: invalid_grant")
    assert code not in row.outcome_reason
    assert code not in answer.headers["location"]


def test_a_refused_code_exchange_stores_no_code(client, session, sandbox):
    # Given a code ORCID no longer accepts (used once already)
    orcid = researcher(sandbox)
    path = callback_path(consent_at_orcid(start(client, return_to=RETURN_TO), orcid))
    code = parse_qs(urlsplit(path).query)["code"][0]
    cookie = client.cookies.get(COOKIE)
    assert client.get(path, follow_redirects=False).status_code == 302
    session.execute(select(OAuthState)).scalar_one().used_at = None
    session.flush()
    client.cookies.set(COOKIE, cookie, path="/orcid")
    # When the same answer is replayed, ORCID refuses the exchange
    again = client.get(path, follow_redirects=False)
    # Then the failure is recorded without the code
    assert again.status_code == 302
    row = session.execute(select(OAuthState)).scalar_one()
    assert row.outcome == ConsentOutcome.FAILED
    assert row.outcome_reason.startswith("ORCID refused the authorization")
    assert code not in row.outcome_reason


def test_connect_is_rate_limited_per_remote_address(client, session, settings, redis_client):
    # Given a small allowance per address
    runtime = client.app.state.runtime
    runtime.settings = settings.model_copy(
        update={"orcid_connect_burst": 3, "orcid_connect_per_minute": 1.0}
    )
    redis_client.delete(*redis_client.keys("pidsync:ratelimit:orcid-connect:*") or ["none"])
    # When one address starts more consent requests than it may
    answers = [client.get("/orcid/connect", follow_redirects=False) for _ in range(5)]
    # Then the first ones go to ORCID, the rest get 429 with Retry-After and store nothing
    assert [a.status_code for a in answers] == [302, 302, 302, 429, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert len(session.execute(select(OAuthState)).all()) == 3


def test_expired_states_are_purged_used_ones_after_their_retention(session, settings):
    # Given an unused expired state, a used one expired yesterday, a used one expired long ago,
    # and a live one
    now = datetime.now(UTC)

    def state(name: str, expires: datetime, used: bool) -> None:
        session.add(
            OAuthState(
                state=name,
                client_id="APP-X",
                expires_at=expires,
                used_at=expires - timedelta(minutes=5) if used else None,
                outcome="granted" if used else None,
            )
        )

    state("unused-expired", now - timedelta(seconds=1), used=False)
    state("used-recent", now - timedelta(days=1), used=True)
    state("used-old", now - timedelta(days=settings.orcid_state_retention_days + 1), used=True)
    state("live", now + timedelta(minutes=10), used=False)
    session.flush()

    purged = purge_expired(session, settings)

    assert purged == 2
    left = set(session.execute(select(OAuthState.state)).scalars())
    assert left == {"used-recent", "live"}
