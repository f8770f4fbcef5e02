"""ORCID OAuth simulator, driven by requests-oauthlib (3-legged and client credentials) and requests."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from tests.sandbox.test_orcid_helpers import (
    api,
    first_client,
    headers,
    pub,
    researcher,
    second_client,
    token_url,
)

REDIRECT = "http://127.0.0.1:8000/orcid/callback"
SCOPES = ["/activities/update", "/read-limited"]


class FormFields(HTMLParser):
    """The input fields of the consent page's form."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""


@pytest.fixture
def insecure(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def authorize_url(info, client_id, scope=SCOPES, redirect_uri=REDIRECT):
    session = OAuth2Session(client_id, redirect_uri=redirect_uri, scope=scope)
    url, state = session.authorization_url(info["orcid_oauth_url"] + "/oauth/authorize")
    return session, url, state


def consent(url, orcid, approve=True):
    page = requests.get(url, timeout=5)
    assert page.status_code == 200, page.text
    parser = FormFields()
    parser.feed(page.text)
    fields = dict(parser.fields, orcid=orcid, user_oauth_approval="true" if approve else "false")
    return page, requests.post(url, data=fields, allow_redirects=False, timeout=5)


def test_authorization_code_flow_with_oauth2session(sandbox, info, insecure):
    # Given a researcher and the seeded member client
    orcid = researcher(sandbox, given_names="Sofia", family_name="Garcia")
    client_id, secret = first_client(sandbox)
    session, url, state = authorize_url(info, client_id)

    # When the researcher authorizes on the consent page
    page, answer = consent(url, orcid)

    # Then the page names the client and the scopes, and the browser goes back with a code
    assert "pidsync sandbox institution" in page.text
    assert "/activities/update" in page.text and "/read-limited" in page.text
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert answer.headers["Location"].startswith(REDIRECT)
    assert query["state"] == [state]
    assert len(query["code"][0]) == 6

    # And requests-oauthlib exchanges it for ORCID's token JSON
    token = session.fetch_token(
        token_url(info), authorization_response=answer.headers["Location"], client_secret=secret
    )
    assert token["orcid"] == orcid
    assert token["name"] == "Sofia Garcia"
    assert token["expires_in"] == 631138518
    assert token["scope"] == SCOPES
    assert len(token["access_token"]) == 36 and len(token["refresh_token"]) == 36

    # And the token writes to that record
    listed = session.get(f"{api(info)}/{orcid}/works", headers={"Accept": "application/json"})
    assert listed.status_code == 200
    assert listed.json()["group"] == []


def test_token_endpoint_answers_no_store_and_codes_are_single_use(sandbox, info, insecure):
    orcid = researcher(sandbox)
    client_id, secret = first_client(sandbox)
    _, url, _ = authorize_url(info, client_id)
    _, answer = consent(url, orcid)
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    form = {
        "client_id": client_id,
        "client_secret": secret,
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
    }

    first = requests.post(
        token_url(info), data=form, headers={"Accept": "application/json"}, timeout=5
    )
    again = requests.post(
        token_url(info), data=form, headers={"Accept": "application/json"}, timeout=5
    )

    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-store"
    assert first.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert list(first.json()) == [
        "access_token",
        "token_type",
        "refresh_token",
        "expires_in",
        "scope",
        "name",
        "orcid",
    ]
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": f"Invalid authorization code: {code}",
    }


def test_redirect_uri_must_match_at_the_token_endpoint(sandbox, info, insecure):
    orcid = researcher(sandbox)
    client_id, secret = first_client(sandbox)
    _, url, _ = authorize_url(info, client_id)
    _, answer = consent(url, orcid)
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]

    reply = requests.post(
        token_url(info),
        data={
            "client_id": client_id,
            "client_secret": secret,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:8000/elsewhere",
        },
        timeout=5,
    )

    assert reply.status_code == 400
    assert reply.json() == {"error": "invalid_grant", "error_description": "Redirect URI mismatch."}


def test_deny_redirects_with_access_denied(sandbox, info, insecure):
    orcid = researcher(sandbox)
    _, url, state = authorize_url(info, first_client(sandbox)[0])

    _, answer = consent(url, orcid, approve=False)

    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert answer.status_code == 302
    assert query["error"] == ["access_denied"]
    assert query["state"] == [state]
    assert "code" not in query


def test_authorize_refuses_unknown_client_foreign_redirect_and_bad_scope(sandbox, info):
    base = info["orcid_oauth_url"] + "/oauth/authorize"
    client_id = first_client(sandbox)[0]
    common = {"response_type": "code", "redirect_uri": REDIRECT, "scope": "/activities/update"}

    unknown = requests.get(base, params={**common, "client_id": "APP-NOPE"}, timeout=5)
    foreign = requests.get(
        base,
        params={**common, "client_id": client_id, "redirect_uri": "https://evil.example/cb"},
        timeout=5,
    )
    bad_scope = requests.get(
        base,
        params={**common, "client_id": client_id, "scope": "/webhook", "state": "s1"},
        allow_redirects=False,
        timeout=5,
    )

    assert unknown.status_code == 400 and "invalid_client" in unknown.text
    assert foreign.status_code == 400 and "Redirect URI mismatch" in foreign.text
    assert bad_scope.status_code == 302
    query = parse_qs(urlsplit(bad_scope.headers["Location"]).query)
    assert query["error"] == ["invalid_scope"]
    assert query["error_description"] == ["Invalid scope: /webhook"]
    assert query["state"] == ["s1"]


def test_consent_for_an_unknown_researcher_shows_the_page_again(sandbox, info, insecure):
    _, url, _ = authorize_url(info, first_client(sandbox)[0])

    _, answer = consent(url, "0000-0002-1825-0097")

    assert answer.status_code == 400
    assert "No sandbox researcher" in answer.text


def test_client_credentials_with_backend_application_client(sandbox, info, insecure):
    # Given the seeded client, through requests-oauthlib's client-credentials flow
    client_id, secret = first_client(sandbox)
    session = OAuth2Session(
        client=BackendApplicationClient(client_id=client_id, scope=["/read-public"])
    )

    token = session.fetch_token(
        token_url=token_url(info), client_id=client_id, client_secret=secret
    )

    # Then the token JSON has a null iD and no name, and it reads the public API
    assert token["orcid"] is None
    assert "name" not in token
    assert token["scope"] == ["/read-public"]
    researcher(sandbox, family_name="Carberry")
    found = session.get(
        f"{pub(info)}/search/",
        params={"q": "family-name:carberry"},
        headers={"Accept": "application/json"},
    )
    assert found.status_code == 200
    assert found.json()["num-found"] == 1


def test_client_credentials_scopes(sandbox, info):
    client_id, secret = first_client(sandbox)
    registered = sandbox.control(
        "POST", "/orcid/clients", {"name": "Basic member", "premium": False}
    )

    def ask(cid, csecret, scope):
        return requests.post(
            token_url(info),
            data={
                "client_id": cid,
                "client_secret": csecret,
                "grant_type": "client_credentials",
                "scope": scope,
            },
            timeout=5,
        )

    assert ask(client_id, secret, "/webhook").status_code == 200
    assert ask(client_id, secret, "/premium-notification").status_code == 200
    refused = ask(registered["client_id"], registered["client_secret"], "/webhook")
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_scope",
        "error_description": "Invalid scope: /webhook",
    }
    assert ask(client_id, secret, "/activities/update").json()["error"] == "invalid_scope"


def test_bad_client_credentials_and_grant_types(sandbox, info):
    client_id, secret = first_client(sandbox)

    wrong = requests.post(
        token_url(info),
        data={"client_id": client_id, "client_secret": "nope", "grant_type": "client_credentials"},
        timeout=5,
    )
    basic = requests.post(
        token_url(info),
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=5,
    )
    unsupported = requests.post(
        token_url(info), data={"grant_type": "password"}, auth=(client_id, secret), timeout=5
    )
    api_host = requests.post(
        info["orcid_api_url"] + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=5,
    )

    assert wrong.status_code == 401
    assert wrong.json() == {
        "error": "invalid_client",
        "error_description": "Bad client credentials",
    }
    assert basic.status_code == 200 and basic.json()["scope"] == "/read-public"
    assert (
        unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    )
    assert api_host.status_code == 200


def test_refresh_with_narrower_scope_and_revoke_old(sandbox, info):
    orcid = researcher(sandbox)
    client_id, secret = first_client(sandbox)
    old = sandbox.issue_token(orcid)

    fresh = requests.post(
        token_url(info),
        data={
            "client_id": client_id,
            "client_secret": secret,
            "grant_type": "refresh_token",
            "refresh_token": old["refresh_token"],
            "scope": "/read-limited",
            "revoke_old": "true",
        },
        timeout=5,
    )
    widened = requests.post(
        token_url(info),
        data={
            "client_id": client_id,
            "client_secret": secret,
            "grant_type": "refresh_token",
            "refresh_token": fresh.json()["refresh_token"],
            "scope": "/activities/update",
        },
        timeout=5,
    )

    assert fresh.status_code == 200
    body = fresh.json()
    assert body["scope"] == "/read-limited" and body["orcid"] == orcid
    assert body["access_token"] != old["access_token"]
    old_use = requests.get(
        f"{api(info)}/{orcid}/works", headers=headers(old["access_token"]), timeout=5
    )
    assert old_use.status_code == 401
    assert widened.status_code == 400 and widened.json()["error"] == "invalid_scope"


def test_revoking_an_access_token_kills_its_refresh_token(sandbox, info):
    orcid = researcher(sandbox)
    client_id, secret = first_client(sandbox)
    token = sandbox.issue_token(orcid)

    revoked = requests.post(
        info["orcid_oauth_url"] + "/oauth/revoke",
        data={"client_id": client_id, "client_secret": secret, "token": token["access_token"]},
        timeout=5,
    )
    use = requests.get(
        f"{api(info)}/{orcid}/works", headers=headers(token["access_token"]), timeout=5
    )
    refresh = requests.post(
        token_url(info),
        data={
            "client_id": client_id,
            "client_secret": secret,
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
        },
        timeout=5,
    )

    assert revoked.status_code == 200
    assert use.status_code == 401
    assert use.json() == {
        "error": "invalid_token",
        "error_description": f"Invalid access token: {token['access_token']}",
    }
    assert use.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


def test_revoking_by_refresh_token_and_by_another_client(sandbox, info):
    orcid = researcher(sandbox)
    client_id, secret = first_client(sandbox)
    token = sandbox.issue_token(orcid)

    by_other = requests.post(
        info["orcid_oauth_url"] + "/oauth/revoke",
        data={
            "client_id": second_client(sandbox)[0],
            "client_secret": second_client(sandbox)[1],
            "token": token["access_token"],
        },
        timeout=5,
    )
    still = requests.get(
        f"{api(info)}/{orcid}/works", headers=headers(token["access_token"]), timeout=5
    )
    by_refresh = requests.post(
        info["orcid_oauth_url"] + "/oauth/revoke",
        data={"client_id": client_id, "client_secret": secret, "token": token["refresh_token"]},
        timeout=5,
    )
    after = requests.get(
        f"{api(info)}/{orcid}/works", headers=headers(token["access_token"]), timeout=5
    )

    assert by_other.status_code == 200 and still.status_code == 200
    assert by_refresh.status_code == 200 and after.status_code == 401
