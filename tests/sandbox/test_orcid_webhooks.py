"""ORCID webhooks: registration with a /webhook token, and delivery to a local callback server."""

from __future__ import annotations

import time
from datetime import datetime
from itertools import pairwise
from urllib.parse import quote

import pytest
import requests

from tests.sandbox.test_orcid_helpers import (
    CallbackServer,
    client_token,
    error_code,
    first_client,
    member_token,
    post_work,
    put_code_of,
    researcher,
    second_client,
    work,
)


@pytest.fixture
def fast(sandbox):
    sandbox.control("POST", "/orcid/settings", {"webhook_delay": 0.05, "webhook_retry": 0.05})


def hook_url(info, orcid, callback):
    return f"{info['orcid_api_url']}/{orcid}/webhook/{quote(callback, safe='')}"


def auth(token):
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def register(info, orcid, callback, token):
    return requests.put(hook_url(info, orcid, callback), headers=auth(token), timeout=5)


def test_register_201_then_204_and_unregister(sandbox, info):
    orcid = researcher(sandbox)
    token = client_token(info, first_client(sandbox), "/webhook")
    callback = "http://127.0.0.1:9/hooks/orcid?id=1"

    first = register(info, orcid, callback, token)
    again = register(info, orcid, callback, token)
    other = client_token(info, second_client(sandbox), "/webhook")
    foreign = requests.delete(hook_url(info, orcid, callback), headers=auth(other), timeout=5)
    removed = requests.delete(hook_url(info, orcid, callback), headers=auth(token), timeout=5)
    unknown = requests.delete(hook_url(info, orcid, callback), headers=auth(token), timeout=5)

    assert first.status_code == 201
    assert first.headers["Location"] == hook_url(info, orcid, callback)
    assert again.status_code == 204
    assert foreign.status_code == 403
    assert removed.status_code == 204
    assert unknown.status_code == 404 and error_code(unknown) == 9028


def test_registration_needs_the_webhook_scope(sandbox, info):
    orcid = researcher(sandbox)
    read_public = client_token(info, first_client(sandbox), "/read-public")

    answer = register(info, orcid, "http://127.0.0.1:9/cb", read_public)

    assert answer.status_code == 403
    assert error_code(answer) == 9038


def test_api_change_calls_the_callback_once_per_batch(sandbox, info, fast):
    # Given a registered callback
    orcid = researcher(sandbox)
    with CallbackServer() as server:
        callback = server.url + f"/orcid/{orcid}"
        assert (
            register(
                info, orcid, callback, client_token(info, first_client(sandbox), "/webhook")
            ).status_code
            == 201
        )
        token = member_token(sandbox, orcid)

        # When two works are added within the batching delay
        post_work(info, orcid, token, work("10.5555/w1"))
        post_work(info, orcid, token, work("10.5555/w2"))

        # Then ORCID POSTs one empty body to the callback
        calls = server.wait_for(1)
        time.sleep(0.2)
    assert len(server.calls) == 1
    assert calls[0]["path"] == f"/orcid/{orcid}"
    assert calls[0]["body"] == b""
    recorded = sandbox.state()["orcid"]["webhooks"][0]
    assert recorded["url"] == callback
    assert [(c["attempt"], c["status"]) for c in recorded["calls"]] == [(1, 200)]


def test_failed_call_is_retried_with_a_doubling_delay(sandbox, info, fast):
    orcid = researcher(sandbox)
    with CallbackServer(statuses=[500, 503, 200]) as server:
        callback = server.url + "/hook"
        register(info, orcid, callback, client_token(info, first_client(sandbox), "/webhook"))

        # When the researcher deletes a work through the control API
        code = put_code_of(post_work(info, orcid, member_token(sandbox, orcid), work()))
        server.wait_for(3)
        sandbox.delete_work(orcid, code)
        server.wait_for(4)

    # The sandbox records a call once its answer is read: a moment after the server saw it
    deadline = time.monotonic() + 10
    while len(calls := sandbox.state()["orcid"]["webhook_calls"]) < 4:
        assert time.monotonic() < deadline, calls
        time.sleep(0.02)
    assert [(c["attempt"], c["status"]) for c in calls[:3]] == [(1, 500), (2, 503), (3, 200)]
    moments = [datetime.fromisoformat(c["at"]) for c in calls[:3]]
    first_wait, second_wait = ((b - a).total_seconds() for a, b in pairwise(moments))
    assert first_wait >= 0.045 and second_wait >= 0.09
    assert calls[3]["status"] == 200 and calls[3]["attempt"] == 1
    assert all(c["url"] == callback and c["orcid"] == orcid for c in calls)


def test_unreachable_callback_gives_up_after_the_configured_attempts(sandbox, info, fast):
    sandbox.control("POST", "/orcid/settings", {"webhook_attempts": 2})
    orcid = researcher(sandbox)
    register(
        info,
        orcid,
        "http://127.0.0.1:9/closed",
        client_token(info, first_client(sandbox), "/webhook"),
    )

    sandbox.control("POST", f"/orcid/researchers/{orcid}", {"family_name": "Renamed"})
    deadline = time.monotonic() + 5
    while len(sandbox.state()["orcid"]["webhook_calls"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)

    calls = sandbox.state()["orcid"]["webhook_calls"]
    assert [(c["attempt"], c["status"]) for c in calls] == [(1, None), (2, None)]
    assert calls[0]["error"]
