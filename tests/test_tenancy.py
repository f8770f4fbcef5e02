"""Tenancy (DESIGN.md §7 "Clients (tenants)"): two institutions on one pidsync, each touching
and reading only its own works, events and grants — tried as the other institution would."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select

from tests.conftest import TOKEN_KEY
from tests.helpers import event, process_event, signed_post, work
from worker.config import ConfigError, IntakeClient, Settings, load_settings
from worker.events.signature import sign_read
from worker.models import EventStatus, GrantStatus, OrcidGrant, ReceivedEvent, Work
from worker.orcid import placements
from worker.orcid.grants import GrantRefused, store_grant
from worker.works.service import apply_work, withdraw_work
from worker.works.trigger import Trigger

A_SOURCE = "https://cris.a.example/"
B_SOURCE = "https://cris.b.example/"
A_SECRET = "secret-of-a-0123456789"
B_SECRET = "secret-of-b-0123456789"
ORCID = "0000-0002-1825-0097"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        _env_file=None,
        env="test",
        data_dir=tmp_path,
        token_keys=[TOKEN_KEY],
        orcid_client_id="APP-TESTCLIENT0001",
        orcid_client_secret="orcid-client-secret",
        intake_clients=[
            IntakeClient(id="a", secrets=[A_SECRET], sources=[A_SOURCE + "*"]),
            IntakeClient(
                id="b",
                secrets=[B_SECRET, "b-old-secret"],
                sources=[B_SOURCE + "*"],
                types=["work.*"],
                datacite_accounts=["b-only"],
                orcid_clients=["APP-B"],
            ),
        ],
        max_batch_events=3,
    )


def _count(session) -> int:
    return session.execute(select(func.count()).select_from(ReceivedEvent)).scalar_one()


def _post(client, body, who="a"):
    secret = A_SECRET if who == "a" else B_SECRET
    return signed_post(client, body, secret=secret, client_id=who)


def _read(client, target: str, who="a", secret: str | None = None):
    key = secret or (A_SECRET if who == "a" else B_SECRET)
    headers = {"Pidsync-Client": who, "Pidsync-Signature": sign_read(key, "GET", target)}
    return client.get(target, headers=headers)


# --- configuration ----------------------------------------------------------------------


def test_json_clients_parse_and_notify_url_wins(monkeypatch):
    clients = [
        {"id": "a", "secrets": ["new", "old"], "sources": ["x:*"], "notify_url": "https://a.ex/h"},
        {"id": "b", "secrets": ["s"], "sources": ["y"]},
    ]
    monkeypatch.setenv("PIDSYNC_INTAKE_CLIENTS", json.dumps(clients))
    monkeypatch.setenv("PIDSYNC_NOTIFY_URLS", "a=https://old.ex/h,b=https://b.ex/h")
    settings = load_settings(_env_file=None)
    assert settings.intake_clients["a"].signing_secret.get_secret_value() == "new"
    assert settings.notify_url_for("a") == "https://a.ex/h"
    assert settings.notify_url_for("b") == "https://b.ex/h"


def test_short_form_single_client_owns_every_source(monkeypatch):
    monkeypatch.setenv("PIDSYNC_INTAKE_CLIENTS", "cris:secret")
    client = load_settings(_env_file=None).intake_clients["cris"]
    assert client.sources == ["*"]


@pytest.mark.parametrize(
    "value",
    [
        "a:one,b:two",  # several clients in the short form
        '[{"id": "a", "secrets": ["s"]}]',  # no sources
        (
            '[{"id": "a", "secrets": ["s"], "sources": ["x"]}, {"id": "a", "secrets": ["t"], '
            '"sources": ["y"]}]'
        ),  # the same id twice
        '[{"id": "a", "secrets": ["s"], "sources": ["x"], "notify_url": "http://a.example"}]',
    ],
)
def test_bad_client_configuration_stops_the_process_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("PIDSYNC_INTAKE_CLIENTS", value)
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None)
    assert "PIDSYNC_INTAKE_CLIENTS" in str(exc.value)


# --- the intake refuses what a client may not send ---------------------------------------


def test_another_clients_source_is_403_and_nothing_is_stored(client, session):
    response = _post(client, event(source=A_SOURCE + "x", event_type="work.updated"), who="b")
    assert response.status_code == 403
    assert "does not own source" in response.json()["problems"][0]["message"]
    assert _count(session) == 0


def test_a_batch_with_one_forbidden_event_stores_nothing(client, session):
    batch = [
        event(source=B_SOURCE + "x", event_id="ok"),
        event(source=A_SOURCE + "x", event_id="pre-empt"),
    ]
    response = _post(client, batch, who="b")
    assert response.status_code == 403
    assert [p["path"] for p in response.json()["problems"]] == ["$[1].source"]
    assert _count(session) == 0


@pytest.mark.parametrize(
    ("body", "path", "reason"),
    [
        (
            event(source=B_SOURCE, event_type="researcher.revoked", data={"orcid": ORCID}),
            "$.type",
            "may not send 'researcher.revoked'",
        ),
        (
            event(
                source=B_SOURCE,
                data=work(registration={"registrar": "datacite", "account": "a-account"}),
            ),
            "$.data.registration.account",
            "may not use datacite account 'a-account'",
        ),
    ],
)
def test_types_and_accounts_outside_the_clients_list_are_403(client, session, body, path, reason):
    response = _post(client, body, who="b")
    assert response.status_code == 403, response.text
    problem = response.json()["problems"][0]
    assert problem["path"] == path
    assert reason in problem["message"]
    assert _count(session) == 0


def test_a_batch_over_the_limit_is_413_naming_it(client, session):
    batch = [event(source=A_SOURCE, event_id=f"e-{i}") for i in range(4)]
    response = _post(client, batch)
    assert response.status_code == 413
    assert "at most 3 events" in response.json()["error"]
    assert _count(session) == 0


# --- idempotency ------------------------------------------------------------------------


def test_an_event_id_reused_with_another_body_is_409_and_the_first_body_stays(client, session):
    first = event(source=A_SOURCE, data=work(title="The first title"))
    assert _post(client, first).status_code == 202
    again = _post(client, first)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    changed = event(source=A_SOURCE, data=work(title="A silently different title"))
    response = _post(client, changed)
    assert response.status_code == 409
    assert "'e-1'" in response.json()["error"]
    stored = session.execute(select(ReceivedEvent)).scalar_one()
    assert stored.data["title"] == "The first title"


def test_a_batch_with_one_conflicting_id_stores_none_of_it(client, session):
    assert _post(client, event(source=A_SOURCE, event_id="taken")).status_code == 202
    batch = [
        event(source=A_SOURCE, event_id="new-1"),
        event(source=A_SOURCE, event_id="taken", data=work(title="Other body")),
    ]
    response = _post(client, batch)
    assert response.status_code == 409
    assert _count(session) == 1


# --- signed, scoped reads ----------------------------------------------------------------


def _published_by_a(client, session) -> dict:
    response = _post(client, event(source=A_SOURCE, data=work("w-a")))
    assert response.status_code == 202
    row = session.execute(select(ReceivedEvent)).scalar_one()
    process_event(session, row.id)
    return response.json()


def test_reads_are_signed_and_scoped_to_the_owner(client, session):
    receipt = _published_by_a(client, session)
    target = receipt["status_url"]
    # Unsigned, or signed with a wrong secret: 401
    assert client.get(target).status_code == 401
    assert _read(client, target, secret="not-the-secret").status_code == 401
    # The owner reads its work and its event
    mine = _read(client, target)
    assert mine.status_code == 200, mine.text
    assert mine.json()["title"] == work("w-a")["title"]
    assert [e["receipt"] for e in mine.json()["events"]] == [receipt["receipt"]]
    assert _read(client, f"/events/{receipt['receipt']}").json()["status"] == "done"
    # Another client sees neither: the same 404 as for nothing at all
    assert _read(client, target, who="b").status_code == 404
    assert _read(client, f"/events/{receipt['receipt']}", who="b").status_code == 404


def test_receipts_are_random_not_sequence_numbers(client, session):
    receipt = _published_by_a(client, session)["receipt"]
    assert uuid.UUID(receipt).version == 4
    row = session.execute(select(ReceivedEvent)).scalar_one()
    assert _read(client, f"/events/{row.id}").status_code == 404


@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/events/9223372036854775808", 404),
        ("/events/-1", 404),
        ("/works/%00/x", 400),
        ("/works/a/%FF%FE", 400),
        ("/works/" + "x" * 1001 + "/y", 400),
        ("/works/only-one-segment", 404),
    ],
)
def test_nonsense_path_parameters_are_4xx_not_500(client, target, status):
    assert _read(client, target).status_code == status


def test_a_read_signature_covers_the_path(client, session):
    receipt = _published_by_a(client, session)
    headers = {
        "Pidsync-Client": "a",
        "Pidsync-Signature": sign_read(A_SECRET, "GET", "/works/other/path"),
    }
    assert client.get(receipt["status_url"], headers=headers).status_code == 401


# --- the work service's second guard -----------------------------------------------------


def test_another_client_cannot_update_or_withdraw_a_work_it_does_not_own(session):
    # Given A's work (sources overlapping, so the intake's check did not stop B)
    applied = apply_work(session, A_SOURCE, work("w-1", title="A's title"), client_id="a")
    assert applied.work is not None
    # When B updates and withdraws it
    update = apply_work(session, A_SOURCE, work("w-1", title="B's title", version=9), client_id="b")
    withdrawal = withdraw_work(session, A_SOURCE, {"id": "w-1"}, client_id="b")
    # Then both are refused and A's work is as A left it
    assert update.work is None and "belongs to another client" in update.message
    assert withdrawal.work is None and "belongs to another client" in withdrawal.message
    stored = session.execute(select(Work)).scalar_one()
    assert (stored.title, stored.client_id, stored.withdrawn_at) == ("A's title", "a", None)


def test_a_foreign_work_event_fails_with_the_reason(session):
    from tests.helpers import SOURCE

    apply_work(session, SOURCE, work("w-1"), client_id="a")
    row = ReceivedEvent(
        source=SOURCE,
        event_id="b-1",
        type="work.withdrawn",
        client_id="b",
        correlation_id="c",
        data={"id": "w-1"},
    )
    session.add(row)
    session.flush()
    outcome = process_event(session, row.id)
    assert outcome.status == EventStatus.FAILED
    assert "belongs to another client" in outcome.message


# --- grants ------------------------------------------------------------------------------


def _sealed(client_id: str = "APP-1") -> dict:
    return {
        "orcid": ORCID,
        "access_token_enc": "gAAAA-cipher",
        "scope": "/activities/update",
        "client_id": client_id,
    }


def test_a_grant_is_not_replaced_by_another_client_nor_over_the_researchers_consent(session):
    grant = store_grant(session, _sealed(), owner="a")
    with pytest.raises(GrantRefused, match="held by intake client 'a'"):
        store_grant(session, _sealed(), owner="b")
    consent = store_grant(session, _sealed("APP-2"), owner=None)
    with pytest.raises(GrantRefused, match="own consent"):
        store_grant(session, _sealed("APP-2"), owner="a")
    assert (grant.owner, consent.owner) == ("a", None)


def test_revocation_acts_only_on_the_senders_grants(session, settings):
    store_grant(session, _sealed("APP-1"), owner="a")
    store_grant(session, _sealed("APP-2"), owner="b")
    note = placements.on_researcher_revoked(
        session, {"orcid": ORCID}, Trigger(client_id="b", settings=settings)
    )
    assert "1 ORCID grant(s)" in note
    states = dict(session.execute(select(OrcidGrant.owner, OrcidGrant.status)).all())
    assert states == {"a": GrantStatus.ACTIVE, "b": GrantStatus.REVOKED}
