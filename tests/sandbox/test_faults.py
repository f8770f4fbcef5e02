"""Fault injection: latency, errors, timeouts, lost responses, outages; per service."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.sandbox.deposits import article, deposit
from tests.sandbox.test_crossref_deposit import upload

DRAFT = {"data": {"attributes": {"titles": [{"title": "Fault test"}]}}}


def put_doi(http, info, suffix, **kwargs):
    return http.put(
        f"{info['datacite_api_url']}/dois/10.5072/{suffix}",
        json=DRAFT,
        auth=(info["datacite_repository_id"], info["datacite_password"]),
        **kwargs,
    )


def dois(sandbox):
    return [d["doi"] for d in sandbox.state()["datacite"]["dois"]]


def test_lost_response_applies_the_effect_then_drops_the_connection(sandbox, info, http):
    # Given DataCite loses every response
    sandbox.set_faults("datacite", lost_response_rate=1.0)
    # When a client creates a DOI
    with pytest.raises(requests.ConnectionError) as excinfo:
        put_doi(http, info, "lost-1", timeout=5)
    # Then the client saw the connection close without an answer
    assert "RemoteDisconnected" in repr(excinfo.value) or "Connection aborted" in repr(
        excinfo.value
    )
    # But the DOI exists: the retry that follows is what breeds duplicates
    assert dois(sandbox) == ["10.5072/lost-1"]
    assert sandbox.state()["requests"]["datacite"]["by_status"] == {"dropped": 1}
    # And once the fault is off, the retry finds it (200, not 201)
    sandbox.set_faults("datacite", lost_response_rate=0)
    assert put_doi(http, info, "lost-1").status_code == 200


def test_lost_crossref_deposit_is_still_queued(sandbox, info, http):
    sandbox.set_faults("crossref", lost_response_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        upload(http, info, deposit(article("10.32013/lost")), "lost.xml")
    assert [s["file_name"] for s in sandbox.state()["crossref"]["submissions"]] == ["lost.xml"]


def test_error_rate_answers_5xx_without_effect(sandbox, info, http):
    sandbox.set_faults("datacite", error_rate=1.0)
    statuses = {put_doi(http, info, f"err-{i}").status_code for i in range(12)}
    assert statuses <= {500, 502, 503}
    assert len(statuses) > 1
    assert dois(sandbox) == []


def test_timeout_hangs_without_effect(sandbox, info, http):
    sandbox.set_faults("datacite", timeout_rate=1.0, timeout_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        put_doi(http, info, "slow", timeout=0.3)
    assert time.monotonic() - started < 0.9
    assert dois(sandbox) == []


def test_latency_fixed_and_jittered(sandbox, info, http):
    sandbox.set_faults("doi", latency_ms=150)
    started = time.monotonic()
    http.get(f"{info['doi_resolver_url']}/10.5555/12345678", allow_redirects=False)
    assert time.monotonic() - started >= 0.15
    sandbox.set_faults("doi", latency_ms=60, latency_jitter_ms=50)
    durations = []
    for _ in range(6):
        started = time.monotonic()
        http.get(f"{info['doi_resolver_url']}/10.5555/12345678", allow_redirects=False)
        durations.append(time.monotonic() - started)
    assert min(durations) >= 0.009
    assert max(durations) - min(durations) > 0.005
    # Other services are untouched
    started = time.monotonic()
    http.get(f"{info['crossref_api_url']}/works", params={"rows": 0})
    assert time.monotonic() - started < 0.1


def test_outage_then_recovery(sandbox, info, http):
    sandbox.set_faults("crossref", outage_seconds=0.4)
    down = http.get(f"{info['crossref_api_url']}/works")
    assert down.status_code == 503
    assert down.headers["Retry-After"] == "1"
    assert http.get(f"{info['datacite_api_url']}/dois").status_code == 200
    time.sleep(0.45)
    assert http.get(f"{info['crossref_api_url']}/works").status_code == 200


def test_control_api_faults(sandbox, info, http):
    url = info["control_url"] + "/faults"
    answer = http.post(url, json={"service": "orcid", "latency_ms": 5, "error_rate": 0.5})
    assert answer.status_code == 200
    settings = answer.json()
    assert (settings["latency_ms"], settings["error_rate"], settings["timeout_rate"]) == (5, 0.5, 0)
    # Omitted keys stay, 0 turns a fault off
    settings = http.post(url, json={"service": "orcid", "error_rate": 0}).json()
    assert (settings["latency_ms"], settings["error_rate"]) == (5, 0)
    assert http.post(url, json={"service": "orcid", "colour": 1}).status_code == 400
    assert http.post(url, json={"service": "nowhere", "latency_ms": 1}).status_code == 400
    assert http.post(url, json={"latency_ms": 1}).status_code == 400
    assert http.post(url, json={"service": "doi", "error_rate": 2}).status_code == 400
    assert http.post(url, data="not json").status_code == 400
    assert http.get(url).json()["orcid"]["latency_ms"] == 5
    # The control API itself is never faulted nor counted
    http.post(url, json={"service": "datacite", "outage_seconds": 60})
    assert http.get(info["control_url"] + "/state").status_code == 200
    assert sandbox.state()["requests"]["datacite"]["total"] == 0


def test_lost_redirect_is_dropped_too(sandbox, info, http):
    sandbox.set_faults("doi", lost_response_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        http.get(f"{info['doi_resolver_url']}/10.5555/12345678", allow_redirects=False)
    assert sandbox.state()["requests"]["doi"]["by_status"] == {"dropped": 1}


def test_scripted_answers_go_to_matching_requests_once_each_in_order(sandbox, info, http):
    # Given a script for DataCite: a 409 for the next PUT, then a lost answer
    conflict = {"errors": [{"status": "409", "title": "scripted"}]}
    sandbox.set_faults(
        "datacite",
        script=[
            {"answer": 409, "body": conflict, "method": "put", "path": "/dois/"},
            {"answer": "lost", "method": "PUT"},
        ],
    )
    assert sandbox.state()["faults"]["datacite"]["script"] == 2
    # When a GET comes first, it is not matched: answered normally
    assert http.get(f"{info['datacite_api_url']}/dois").status_code == 200
    # Then the first PUT gets the scripted 409 and its body, with no effect
    first = put_doi(http, info, "scripted-1")
    assert (first.status_code, first.json()) == (409, conflict)
    assert dois(sandbox) == []
    # And the second is applied, then its answer lost
    with pytest.raises(requests.ConnectionError):
        put_doi(http, info, "scripted-1", timeout=5)
    assert dois(sandbox) == ["10.5072/scripted-1"]
    # And with the script spent, requests are answered normally again
    assert sandbox.state()["faults"]["datacite"]["script"] == 0
    assert put_doi(http, info, "scripted-1").status_code == 200


def test_a_script_replaces_the_last_and_bad_entries_are_refused(sandbox, info, http):
    url = info["control_url"] + "/faults"
    sandbox.set_faults("orcid", script=[{"answer": 503}, {"answer": 401}])
    # An empty script clears it; other settings are kept
    settings = http.post(url, json={"service": "orcid", "script": [], "latency_ms": 1}).json()
    assert (settings["script"], settings["latency_ms"]) == (0, 1)
    for bad in (
        {"answer": 99},
        {"answer": "gone"},
        {"answer": True},
        {"answer": 500, "colour": 1},
        {"answer": 500, "method": 3},
        "lost",
    ):
        answer = http.post(url, json={"service": "orcid", "script": [bad]})
        assert answer.status_code == 400, bad
    assert http.post(url, json={"service": "orcid", "script": {"answer": 500}}).status_code == 400
    # Nothing changed by a refused script
    assert http.get(url).json()["orcid"]["script"] == 0


def test_answer_delay_holds_an_applied_write_and_lists_it_while_it_waits(sandbox, info, http):
    # Given DataCite holds back its answers to writes for 1.5 s
    sandbox.set_faults("datacite", answer_delay_ms=1500)
    # When a client creates a DOI (on a thread: the answer is late)
    answers: list[int] = []
    writer = threading.Thread(
        target=lambda: answers.append(put_doi(http, info, "held-1").status_code)
    )
    writer.start()
    listed: list[dict] = []
    while writer.is_alive() and not listed:
        listed = sandbox.control("GET", "/answering")
    writer.join()
    # Then while the answer waited, the DOI was already stored and the write was listed with
    # the client's port (how a chaos run finds the process to kill inside that window)
    assert [(w["service"], w["method"], w["path"], w["status"]) for w in listed] == [
        ("datacite", "PUT", "/datacite/dois/10.5072/held-1", 201)
    ]
    assert isinstance(listed[0]["peer_port"], int)
    # And the client got its answer in the end; nothing is listed any more
    assert answers == [201]
    assert sandbox.control("GET", "/answering") == []
    assert dois(sandbox) == ["10.5072/held-1"]


def test_answer_delay_leaves_reads_alone(sandbox, info, http):
    # Given DataCite holds back its answers to writes for a minute
    sandbox.set_faults("datacite", answer_delay_ms=60_000)
    # Then a read is answered at once (its 5 s timeout would fail it otherwise)
    answer = http.get(f"{info['datacite_api_url']}/dois/10.5072/none", timeout=5)
    assert answer.status_code == 404
