"""Outbound HTTP: typed errors the retry policy relies on, and every call recorded, redacted."""

from __future__ import annotations

import pytest
import requests
import responses

from worker.http import ApiClient, RequestError, ServerError, TransportError, retry_after_seconds


class Client(ApiClient):
    service = "example"


@pytest.fixture
def calls():
    return []


@pytest.fixture
def client(calls):
    return Client("https://api.example.org", recorder=calls.append, timeout=5)


@responses.activate
def test_success_is_recorded_with_redacted_url(client, calls):
    responses.get("https://api.example.org/x", json={"ok": True})
    assert client.request("GET", "/x?pwd=hunter22&usr=me").json() == {"ok": True}
    assert calls[0].status == 200
    assert "hunter22" not in calls[0].url
    assert calls[0].service == "example"


@responses.activate
def test_4xx_is_a_permanent_request_error_with_the_parsed_body(client):
    responses.put(
        "https://api.example.org/dois/x",
        status=422,
        json={"errors": [{"source": "url", "title": "Can't be blank"}]},
    )
    with pytest.raises(RequestError) as exc:
        client.request("PUT", "/dois/x", json={})
    assert exc.value.status == 422
    assert exc.value.body["errors"][0]["source"] == "url"


@responses.activate
def test_429_and_5xx_are_transient_with_retry_after(client):
    responses.get("https://api.example.org/a", status=429, headers={"Retry-After": "7"})
    responses.get("https://api.example.org/b", status=503)
    with pytest.raises(ServerError) as exc:
        client.request("GET", "/a")
    assert exc.value.retry_after == 7
    with pytest.raises(ServerError):
        client.request("GET", "/b")


@responses.activate
def test_network_failure_is_transient_and_recorded(client, calls):
    responses.get("https://api.example.org/down", body=requests.ConnectionError("reset by peer"))
    with pytest.raises(TransportError):
        client.request("GET", "/down")
    assert calls[0].status is None
    assert "reset by peer" in calls[0].error


@responses.activate
def test_statuses_the_caller_handles_are_returned(client):
    responses.get("https://api.example.org/missing", status=404)
    assert client.request("GET", "/missing", ok={200, 404}).status_code == 404


def test_retry_after_forms():
    assert retry_after_seconds("3") == 3
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0


@responses.activate
def test_the_record_of_a_call_survives_the_rollback_of_the_unit_that_made_it(committed_database):
    # The audit of an outbound call is written in its own transaction: a unit of work that
    # fails after the call (and rolls back everything it did) still leaves the record.
    from sqlalchemy import func, select

    from worker.http import DatabaseRecorder
    from worker.models import ApiCall

    responses.add(responses.PUT, "https://api.example/dois/10.1/x", json={}, status=201)
    client = ApiClient("https://api.example", recorder=DatabaseRecorder(committed_database))
    with pytest.raises(RuntimeError), committed_database.session() as session:
        session.execute(select(1))  # the unit of work holds a transaction of its own
        client.request("PUT", "/dois/10.1/x", json={})
        raise RuntimeError("the effect failed after the call")
    with committed_database.session() as session:
        calls = session.execute(select(ApiCall.method, ApiCall.status, ApiCall.url)).all()
        count = session.execute(select(func.count()).select_from(ApiCall)).scalar_one()
    assert count == 1
    assert tuple(calls[0]) == ("PUT", 201, "https://api.example/dois/10.1/x")


@responses.activate
def test_under_a_test_transaction_the_record_stays_inside_it(database, session):
    # Database.within: the record is a savepoint of the outer transaction, seen by its sessions
    # and rolled back with it (tests never leave rows behind).
    from sqlalchemy import select

    from worker.http import DatabaseRecorder
    from worker.models import ApiCall

    responses.add(responses.GET, "https://api.example/ping", json={}, status=200)
    ApiClient("https://api.example", recorder=DatabaseRecorder(database)).request("GET", "/ping")
    assert session.execute(select(ApiCall.url)).scalars().all() == ["https://api.example/ping"]


@responses.activate
@pytest.mark.parametrize("work_is", ["created", "locked"])
def test_a_call_about_a_work_its_unit_of_work_holds_is_recorded_at_once(
    committed_database, work_is
):
    # Found by the chaos run: the call's record is written in its own transaction and named the
    # work through a foreign key. A work its unit of work had just created was not there yet
    # (the record was refused and lost); a work it held FOR UPDATE made the record wait on the
    # unit of work, which waited on the record: a deadlock across two connections of one
    # thread that PostgreSQL cannot see, and the worker thread hung. The record names the work
    # without depending on the unit of work's rows.
    import threading

    from sqlalchemy import select
    from structlog.contextvars import bound_contextvars

    from worker.http import DatabaseRecorder
    from worker.models import ApiCall, Work

    responses.add(responses.GET, "https://api.example/dois/10.1/new", json={}, status=200)
    client = ApiClient("https://api.example", recorder=DatabaseRecorder(committed_database))

    def new_work() -> Work:
        return Work(source="https://cris.example", external_id="w-1", type="dataset",
                    title="A work", work_metadata={}, metadata_hash="h", version=1)  # fmt: skip

    if work_is == "locked":
        with committed_database.session() as session:
            session.add(new_work())
            session.commit()
    done = threading.Event()

    def unit_of_work() -> None:
        with committed_database.session() as session:
            if work_is == "created":
                work = new_work()
                session.add(work)
                session.flush()  # the row exists in this transaction only
            else:
                work = session.execute(select(Work).with_for_update()).scalar_one()
            with bound_contextvars(work_id=work.id):
                client.request("GET", "/dois/10.1/new")
            session.commit()
        done.set()

    thread = threading.Thread(target=unit_of_work, daemon=True)
    thread.start()
    # Then the unit of work finishes, and the call is on record naming its work
    assert done.wait(20), "the call's record waited on the work its own unit of work holds"
    with committed_database.session() as session:
        recorded = session.execute(select(ApiCall.url, ApiCall.work_id)).all()
        work_id = session.execute(select(Work.id)).scalar_one()
    assert [tuple(r) for r in recorded] == [("https://api.example/dois/10.1/new", work_id)]


def test_the_session_keeps_the_environments_proxies_per_origin_read_once(monkeypatch):
    """Issue 13: requests scanned os.environ on every call; pidsync's session reads it once per
    origin and still honours HTTPS_PROXY, NO_PROXY and a per-request choice."""
    from worker.http import Session

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    session = Session()

    def proxies(url: str, given: dict[str, str] | None = None) -> dict[str, str]:
        return dict(
            session.merge_environment_settings(url, given or {}, None, None, None)["proxies"]
        )

    assert proxies("https://api.orcid.org/v3.0/x")["https"] == "http://proxy.example:3128"
    assert "https" not in proxies("https://127.0.0.1:8443/x")  # NO_PROXY
    assert (
        proxies("https://api.orcid.org/y", {"https": "http://other:1"})["https"] == "http://other:1"
    )
    monkeypatch.setenv("HTTPS_PROXY", "http://changed.example:1")
    assert proxies("https://api.orcid.org/z")["https"] == "http://proxy.example:3128"  # kept
    assert proxies("https://api.datacite.org/")["https"] == "http://changed.example:1"  # new origin
