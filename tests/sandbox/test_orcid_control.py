"""ORCID limits, faults and the control API; the state snapshot restores."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox.test_orcid_helpers import (
    JSON,
    api,
    error_code,
    headers,
    member_token,
    post_work,
    put_code_of,
    researcher,
    second_client,
    valid_orcid,
    work,
)
from tests.sandbox.test_orcid_sections import affiliation, post
from worker.sandbox.orcid import OrcidService, validation
from worker.sandbox.service import SandboxContext


def test_burst_of_40_then_503_per_client(sandbox, info):
    # Given one client's token and another client's token for the same record
    orcid = researcher(sandbox)
    token = member_token(sandbox, orcid)
    other = member_token(sandbox, orcid, client_id=second_client(sandbox)[0])
    url = f"{api(info)}/{orcid}/works"

    # (ORCID's limit: 24 requests/s, bursts of 40; the refill slowed here to 1/s so that a
    # loaded machine, sending fewer than 24 requests a second, still sees the burst run out)
    assert sandbox.state()["limits"]["orcid"] == {"rate": 24.0, "burst": 40}
    sandbox.set_limits(orcid={"rate": 1})

    # When the first client fires 60 requests as fast as it can
    with requests.Session() as http:
        statuses = [http.get(url, headers=headers(token), timeout=5).status_code for _ in range(60)]
        refused = http.get(url, headers=headers(token), timeout=5)
        others = http.get(url, headers=headers(other), timeout=5)

    # Then the burst of 40 passes and ORCID's nginx answers 503 beyond it
    assert statuses[:40] == [200] * 40
    assert 503 in statuses
    assert refused.status_code == 503 and "503 Service Temporarily Unavailable" in refused.text
    assert others.status_code == 200
    assert sandbox.state()["requests"]["orcid"]["rate_limited"] >= 2


def test_lost_response_applies_the_effect_and_the_retry_gets_409(sandbox, info):
    orcid = researcher(sandbox)
    token = member_token(sandbox, orcid)
    sandbox.set_faults("orcid", lost_response_rate=1.0)

    with pytest.raises(requests.ConnectionError):
        post_work(info, orcid, token, work("10.5555/lost"))
    sandbox.set_faults("orcid", lost_response_rate=0)
    retry = post_work(info, orcid, token, work("10.5555/lost"))

    stored = sandbox.state()["orcid"]["records"][orcid]["works"]
    assert len(stored) == 1
    assert retry.status_code == 409
    assert f"put-code {stored[0]['put_code']}" in retry.json()["developer-message"]


def test_create_researcher_and_issue_token(sandbox, info):
    answer = requests.post(
        info["control_url"] + "/orcid/researchers",
        json={"given_names": "Grace", "family_name": "Hopper", "email": "grace@example.org"},
        timeout=5,
    )
    orcid = answer.json()["orcid"]
    token = sandbox.issue_token(orcid, scope="/read-limited")
    bad = requests.post(
        info["control_url"] + "/orcid/researchers", json={"nickname": "x"}, timeout=5
    )

    assert answer.status_code == 201
    assert valid_orcid(orcid) and orcid.startswith("0009-")
    assert token["orcid"] == orcid and token["name"] == "Grace Hopper"
    assert token["scope"] == "/read-limited" and token["expires_in"] == 631138518
    assert bad.status_code == 400


def test_revoke_all_tokens_of_a_researcher(sandbox, info):
    orcid = researcher(sandbox)
    tokens = [
        member_token(sandbox, orcid),
        member_token(sandbox, orcid, client_id=second_client(sandbox)[0]),
    ]

    revoked = sandbox.control("POST", f"/orcid/researchers/{orcid}/revoke", {})

    assert revoked == {"revoked": 2}
    for token in tokens:
        answer = requests.get(f"{api(info)}/{orcid}/works", headers=headers(token), timeout=5)
        assert answer.status_code == 401


def test_work_added_by_another_source_through_control(sandbox, info):
    orcid = researcher(sandbox)
    token = member_token(sandbox, orcid)
    added = sandbox.control(
        "POST",
        f"/orcid/researchers/{orcid}/works",
        {"client_id": second_client(sandbox)[0], "work": work()},
    )

    mine = requests.delete(
        f"{api(info)}/{orcid}/work/{added['put_code']}", headers=headers(token), timeout=5
    )
    same_doi = post_work(info, orcid, token, work())
    invalid = requests.post(
        info["control_url"] + f"/orcid/researchers/{orcid}/works",
        json={"client_id": second_client(sandbox)[0], "work": work(title="")},
        timeout=5,
    )

    assert mine.status_code == 403 and error_code(mine) == 9010
    assert same_doi.status_code == 201
    assert invalid.status_code == 400 and invalid.json()["error-code"] == 9022


def test_registered_client_can_run_the_flow_and_reset_forgets_it(sandbox, info):
    client = sandbox.control(
        "POST",
        "/orcid/clients",
        {"name": "Repository X", "redirect_uris": ["https://repo.example/orcid"], "member": True},
    )
    orcid = researcher(sandbox)
    token = member_token(sandbox, orcid, client_id=client["client_id"])
    created = post_work(info, orcid, token, work())

    sandbox.reset()
    after = requests.post(
        info["orcid_oauth_url"] + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=5,
    )

    assert created.status_code == 201
    assert after.status_code == 401
    assert sandbox.state()["orcid"]["records"] == {}


def test_snapshot_restores_into_a_new_service(sandbox, info):
    # Given a record with a work, an employment, a token, a webhook and a notification
    orcid = researcher(sandbox, given_names="Ada")
    token = member_token(sandbox, orcid)
    put_code_of(post_work(info, orcid, token, work()))
    put_code_of(post(info, orcid, token, "employment", affiliation()))
    saved = sandbox.state()["orcid"]
    assert [a["section"] for a in saved["records"][orcid]["activities"]] == ["employment"]

    # When a fresh service loads it
    service = OrcidService(SandboxContext())
    service.restore(saved)

    # Then it holds the same picture, and the token still works there
    assert service.snapshot() == saved
    assert service.store.tokens[token].orcid == orcid
    assert service.store.take_put_code() == saved["next_put_code"] + 1


def test_settings_reject_unknown_keys(sandbox, info):
    answer = requests.post(info["control_url"] + "/orcid/settings", json={"nope": 1}, timeout=5)
    current = requests.get(
        info["control_url"] + "/orcid/settings", headers={"Accept": JSON}, timeout=5
    ).json()

    assert answer.status_code == 400
    assert current["max_works"] == 10_000 and current["webhook_delay"] == 0.5


def test_python_control_calls_on_the_service():
    # Given a service outside any server (the Sandbox runs these calls on its loop)
    service = OrcidService(SandboxContext())
    orcid = service.create_researcher(given_names="Lise", family_name="Meitner")
    token = service.issue_token(orcid)
    parsed = validation.parse_work(work())
    validation.validate_work(parsed, create=True)
    client_id = service.ctx.accounts.orcid_client.client_id
    added = service.add_work(service.store.records[orcid], client_id, parsed.body)

    # When the researcher hides, then deletes, the work and revokes the token
    service.hide_work(orcid, added.put_code)
    hidden = service.snapshot()["records"][orcid]["works"][0]["visibility"]
    service.delete_work(orcid, added.put_code)
    service.revoke_token(token["access_token"])

    # Then each step shows in the snapshot
    assert token["name"] == "Lise Meitner" and token["scope"] == "/activities/update /read-limited"
    assert added.source_client_id == client_id
    assert hidden == "private"
    assert service.snapshot()["records"][orcid]["works"] == []
    assert service.snapshot()["tokens"][0]["revoked"] is True
    with pytest.raises(KeyError):
        service.delete_work(orcid, added.put_code)
    with pytest.raises(ValueError, match="unknown client_id"):
        service.issue_token(orcid, client_id="APP-UNKNOWN")
