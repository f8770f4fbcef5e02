"""/ops sessions as an attacker meets them: a cookie copied before the operator logged out, a
CSRF token learnt from another session, the login pace dodged with a forged X-Forwarded-For,
redirects after login, and hostile text from events and dead letters rendered in the pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.ops import test_dashboard_web as dashboard
from tests.ops.test_dashboard_web import PASSWORD, csrf_of, login
from worker.models import DeadLetter
from worker.web.app import create_app
from worker.web.dashboard.auth import COOKIE

#: The dashboard's test settings: a user "ann" with PASSWORD, a trusted proxy, small pages.
settings = dashboard.settings


def _cookie(client: TestClient) -> str:
    value = client.cookies.get(COOKIE, path="/ops")
    assert value, "no session cookie"
    return value


def test_a_cookie_copied_before_logout_opens_nothing_after_it(client):
    # Given an operator logged in, and their cookie copied (a shared machine, a leaked log)
    assert login(client).status_code == 303
    stolen = _cookie(client)
    replay = {"Cookie": f"{COOKIE}={stolen}"}
    client.cookies.clear()
    assert client.get("/ops", headers=replay, follow_redirects=False).status_code == 200
    # When the operator logs out
    token = csrf_of(client.get("/ops", headers=replay).text)
    out = client.post("/ops/logout", headers=replay, data={"csrf": token}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.clear()
    # Then the copied cookie, replayed, no longer opens the dashboard nor takes an action
    answer = client.get("/ops", headers=replay, follow_redirects=False)
    assert answer.status_code == 303, "a logged-out session still opens /ops"
    assert answer.headers["location"].startswith("/ops/login")
    client.cookies.clear()
    purge = client.post("/ops/dead-letters/purge", headers=replay, data={"csrf": token, "id": "1"})
    assert purge.status_code == 401


def test_logging_in_again_after_logout_works(client):
    assert login(client).status_code == 303
    token = csrf_of(client.get("/ops").text)
    client.post("/ops/logout", data={"csrf": token}, follow_redirects=False)
    assert client.get("/ops", follow_redirects=False).status_code == 303
    assert login(client).status_code == 303
    assert client.get("/ops", follow_redirects=False).status_code == 200


def test_a_csrf_token_from_another_session_is_refused(client, runtime):
    # Given two operators logged in, each with their own session
    assert login(client).status_code == 303
    with TestClient(create_app(runtime)) as other:
        assert login(other).status_code == 303
        foreign = csrf_of(other.get("/ops").text)
    # When one posts an action with the other's token
    answer = client.post("/ops/dead-letters/purge", data={"csrf": foreign, "id": "1"})
    # Then it is refused as a forgery
    assert answer.status_code == 403


def test_a_forged_forwarded_for_does_not_reset_the_login_pace(client, settings):
    # Given an attacker guessing passwords, each guess claiming another address
    burst = settings.dashboard.login_burst
    answers = []
    for n in range(burst + 3):
        token = csrf_of(client.get("/ops/login").text)
        answers.append(
            client.post(
                "/ops/login",
                headers={"X-Forwarded-For": f"203.0.113.{n}", "X-Real-IP": f"203.0.113.{n}"},
                data={"csrf": token, "name": "ann", "password": f"guess {n}", "next": "/ops"},
                follow_redirects=False,
            ).status_code
        )
    # Then the pace still holds: the header is not the caller's address
    assert answers[-1] == 429, answers


@pytest.mark.parametrize(
    "target",
    ["/ops/../..//evil.example", "/ops\\\\evil.example", "/ops\r\nLocation: https://evil.example"],
)
def test_after_login_the_browser_stays_on_this_host(client, target):
    token = csrf_of(client.get("/ops/login").text)
    answer = client.post(
        "/ops/login",
        follow_redirects=False,
        data={"csrf": token, "name": "ann", "password": PASSWORD, "next": target},
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("/ops") and not location.startswith("//")
    assert "\r" not in location and "\n" not in location and "\\" not in location


def test_a_dead_letters_hostile_body_and_reason_show_as_text(client, session):
    # Given a dead letter whose message and reason carry markup (an attacker's event data)
    hostile = '<img src=x onerror="alert(1)">'
    letter = DeadLetter(
        queue="default",
        actor="events.process",
        message_id="m-hostile",
        args=[hostile],
        reason=f"boom {hostile}",
    )
    session.add(letter)
    session.flush()
    assert login(client).status_code == 303
    # Then the list and the page show it escaped, never as markup
    for path in ("/ops/dead-letters", f"/ops/dead-letters/{letter.id}"):
        page = client.get(path).text
        assert hostile not in page, path
        assert "&lt;img" in page, path


HUGE = str(2**70)  # past PostgreSQL's bigint


@pytest.mark.parametrize(
    "path",
    [
        f"/ops/works/{HUGE}",
        f"/ops/dead-letters/{HUGE}",
        "/ops/dead-letters/-1",
        f"/ops/works?offset={HUGE}",
        f"/ops/works?q={HUGE}",
        f"/ops/works?q=-{HUGE}",
        f"/ops/dead-letters?offset={HUGE}",
        f"/ops/problems?offset={HUGE}",
        f"/ops/deposits?offset={HUGE}",
    ],
)
def test_an_id_or_offset_past_any_row_is_a_clear_answer_not_a_crash(client, path):
    assert login(client).status_code == 303
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code < 500, answer.text
    assert answer.status_code in (200, 400, 404), answer.status_code


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("/ops/problems/retry", {"kind": "doi", "row_id": HUGE}),
        ("/ops/problems/release", {"row_id": HUGE}),
        ("/ops/problems/discard", {"kind": "doi", "row_id": HUGE, "note": "n"}),
        ("/ops/problems/retry", {"kind": "placement", "row_id": "987654"}),
        ("/ops/dead-letters/replay", {"row_id": HUGE}),
        ("/ops/dead-letters/purge", {"row_id": HUGE}),
        ("/ops/dead-letters/replay", {"row_id": "987654"}),
    ],
)
def test_an_action_on_a_row_that_does_not_exist_changes_nothing_and_says_so(
    client, session, action, fields
):
    from sqlalchemy import func, select

    from worker.models import OpsAction

    assert login(client).status_code == 303
    token = csrf_of(client.get("/ops").text)
    answer = client.post(action, data={"csrf": token, **fields})
    assert answer.status_code < 500, answer.text
    assert session.execute(select(func.count()).select_from(OpsAction)).scalar_one() == 0


def test_a_cookie_planted_before_login_does_not_become_the_operators_session(client):
    # Given an attacker's own pre-login cookie (its CSRF token known to them) planted in the
    # operator's browser
    client.get("/ops/login")
    planted = _cookie(client)
    planted_token = csrf_of(client.get("/ops/login").text)
    # When the operator logs in with it
    assert login(client).status_code == 303
    # Then the attacker's copy opens nothing, and its token is worth nothing after the login
    client.cookies.clear()
    replay = {"Cookie": f"{COOKIE}={planted}"}
    assert client.get("/ops", headers=replay, follow_redirects=False).status_code == 303
    after = client.post(
        "/ops/dead-letters/purge", headers=replay, data={"csrf": planted_token, "all": "1"}
    )
    assert after.status_code == 401
