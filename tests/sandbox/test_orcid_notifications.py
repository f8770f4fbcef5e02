"""ORCID permission notifications with a /premium-notification client token."""

from __future__ import annotations

import requests

from tests.sandbox.test_orcid_helpers import (
    JSON,
    api,
    client_token,
    error_code,
    first_client,
    headers,
    member_token,
    researcher,
    second_client,
)


def notification(intro="Let us add your works to your ORCID record.", **extra):
    body = {
        "notification-type": "permission",
        "authorization-url": {
            "path": "/oauth/authorize?client_id=APP-SANDBOXCLIENT001&scope=/activities/update",
            "host": "orcid.org",
        },
        "notification-subject": "Connect your ORCID iD",
        "notification-intro": intro,
        "items": {
            "item": [
                {
                    "item-type": "work",
                    "item-name": "Deep sea vents",
                    "external-id": {
                        "external-id-type": "doi",
                        "external-id-value": "10.5555/x",
                        "external-id-relationship": "self",
                    },
                }
            ]
        },
    }
    body.update(extra)
    return body


def post(info, orcid, token, body):
    return requests.post(
        f"{api(info)}/{orcid}/notification-permission", json=body, headers=headers(token), timeout=5
    )


def test_create_read_and_archive(sandbox, info):
    orcid = researcher(sandbox)
    token = client_token(info, first_client(sandbox), "/premium-notification")

    created = post(info, orcid, token, notification())
    read = requests.get(created.headers["Location"], headers=headers(token), timeout=5)
    archived = requests.delete(created.headers["Location"], headers=headers(token), timeout=5)

    assert created.status_code == 201
    assert created.headers["Location"].startswith(f"{api(info)}/{orcid}/notification-permission/")
    body = read.json()
    assert read.status_code == 200
    assert body["notification-subject"] == "Connect your ORCID iD"
    assert body["items"]["item"][0]["item-type"] == "work"
    assert body["source"]["source-client-id"]["path"] == first_client(sandbox)[0]
    assert body["archived-date"] is None
    assert archived.status_code == 200
    assert isinstance(archived.json()["archived-date"]["value"], int)
    assert sandbox.state()["orcid"]["notifications"][0]["archived"] is True


def test_opted_out_researcher_is_409_9032(sandbox, info):
    orcid = researcher(sandbox, opt_out_notifications=True)
    token = client_token(info, first_client(sandbox), "/premium-notification")

    answer = post(info, orcid, token, notification())

    assert answer.status_code == 409
    assert error_code(answer) == 9032
    assert orcid in answer.json()["user-message"]


def test_read_notification_cannot_be_archived(sandbox, info):
    orcid = researcher(sandbox)
    token = client_token(info, first_client(sandbox), "/premium-notification")
    location = post(info, orcid, token, notification()).headers["Location"]
    put_code = location.rsplit("/", 1)[1]

    sandbox.control("POST", f"/orcid/researchers/{orcid}/notifications/{put_code}/read")
    answer = requests.delete(location, headers=headers(token), timeout=5)

    assert answer.status_code == 403
    assert error_code(answer) == 9009


def test_scope_body_and_ownership_checks(sandbox, info):
    orcid = researcher(sandbox)
    token = client_token(info, first_client(sandbox), "/premium-notification")
    user_token = member_token(sandbox, orcid)
    other = client_token(info, second_client(sandbox), "/premium-notification")
    location = post(info, orcid, token, notification()).headers["Location"]

    wrong_scope = post(info, orcid, user_token, notification())
    long_intro = post(info, orcid, token, notification(intro="x" * 1001))
    wrong_type = post(info, orcid, token, notification(**{"notification-type": "custom"}))
    no_items = post(info, orcid, token, notification(items={"item": []}))
    not_mine = requests.get(location, headers=headers(other), timeout=5)
    unknown = requests.get(location + "9", headers=headers(token), timeout=5)
    xml = requests.get(
        location, headers=headers(token, accept="application/vnd.orcid+xml"), timeout=5
    )

    assert wrong_scope.status_code == 403 and error_code(wrong_scope) == 9038
    assert long_intro.status_code == 400
    assert wrong_type.status_code == 400 and error_code(wrong_type) == 9051
    assert no_items.status_code == 400
    assert not_mine.status_code == 403
    assert unknown.status_code == 404 and error_code(unknown) == 9029
    assert xml.status_code == 406
    assert requests.get(
        location, headers={"Authorization": f"Bearer {token}", "Accept": JSON}, timeout=5
    ).ok
