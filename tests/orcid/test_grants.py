"""Grants: backfill through the bulk endpoint, revocation (by ORCID, by the emitting system, by an
operator), token health, permission notifications, key rotation."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from tests.conftest import TOKEN_KEY
from tests.helpers import session_database
from tests.orcid.helpers import (
    authorize,
    notifications,
    place_pending,
    placement,
    publish,
    receive,
    record_works,
    researcher,
)
from worker.models import GrantStatus, OAuthState, OrcidGrant, OrcidPlacement, PlacementState
from worker.orcid import backfill, keys, payload, reconcile, revocation
from worker.orcid import notifications as orcid_notifications
from worker.orcid.tokens import TokenCipher, TokenKeyError, new_key


def _states(session, orcid: str) -> dict[str, int]:
    session.expire_all()
    rows = session.execute(select(OrcidPlacement).where(OrcidPlacement.orcid == orcid)).scalars()
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state.value] = counts.get(row.state.value, 0) + 1
    return counts


def _works_api(sandbox, orcid: str, token: str) -> requests.Response:
    return requests.get(
        f"{sandbox.info()['orcid_api_url']}/v3.0/{orcid}/works",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=5,
    )


def test_backfill_uses_bulk_and_handles_each_item_like_a_single_call(
    session, sandbox, cipher, deps, client_id, monkeypatch
):
    # Given five works published before the researcher authorised us:
    orcid = researcher(sandbox)
    rows = [publish(session, f"w-{i}", orcid) for i in range(5)]
    assert _states(session, orcid) == {"awaiting_consent": 5}
    # one already on the record (from an attempt whose state was lost),
    token = sandbox.issue_token(orcid, client_id)["access_token"]
    answer = requests.post(
        f"{sandbox.info()['orcid_api_url']}/v3.0/{orcid}/work",
        json=payload.orcid_work(rows[1]),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=5,
    )
    existing = int(answer.headers["Location"].rsplit("/", 1)[1])
    # and one ORCID will refuse (no title)
    render = payload.orcid_work

    def render_with_a_bad_one(row):
        body = render(row)
        return {k: v for k, v in body.items() if k != "title"} if row.external_id == "w-3" else body

    monkeypatch.setattr(payload, "orcid_work", render_with_a_bad_one)

    # When the grant arrives, the backfill sends one bulk request
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    result = backfill.backfill(session, deps, grant.id)

    # Then each item's outcome is handled like a single call's
    assert result.note == "bulk: 3 placed, 1 adopted, 1 failed"
    assert placement(session, rows[3], orcid).state == PlacementState.FAILED
    assert "9022" in placement(session, rows[3], orcid).last_error
    adopted = placement(session, rows[1], orcid)
    assert adopted.put_code == existing and adopted.state == PlacementState.PENDING
    place_pending(session, deps)  # the adopted one is PUT, by the single path
    assert placement(session, rows[1], orcid).state == PlacementState.PLACED
    assert _states(session, orcid) == {"placed": 4, "failed": 1}
    assert len(record_works(sandbox, orcid)) == 4  # one each, no duplicate
    bulk_posts = sandbox.state()["requests"]["orcid"]
    assert bulk_posts["rate_limited"] == 0


def test_revocation_mid_backfill_parks_the_rest_and_tells_the_emitting_system(
    session, sandbox, cipher, deps, client_id
):
    # Given 130 works waiting for one researcher's consent
    orcid = researcher(sandbox)
    for i in range(130):
        publish(session, f"w-{i}", orcid)
    grant, token = authorize(session, sandbox, cipher, orcid, client_id)

    # When the first chunk of 100 is placed, then the researcher revokes at ORCID
    first = backfill.backfill(session, deps, grant.id)
    sandbox.revoke_token(token["access_token"])
    second = backfill.backfill(session, deps, grant.id)

    # Then the grant is revoked (the job did not fail) and the rest await consent
    assert first.note == "bulk: 100 placed, 0 adopted, 0 failed"
    assert second.delay is None and "grant revoked" in second.note
    session.expire_all()
    assert session.get(OrcidGrant, grant.id).status == GrantStatus.REVOKED
    assert _states(session, orcid) == {"placed": 100, "awaiting_consent": 30}
    assert len(record_works(sandbox, orcid)) == 100
    told = notifications(session, "grant.revoked")
    assert [n.payload["awaiting_consent"] for n in told] == [30]
    assert told[0].client_id == "cris" and "invalid_token" in told[0].payload["reason"]

    # And when they authorise again, the rest is placed
    grant, _token = authorize(session, sandbox, cipher, orcid, client_id)
    backfill.backfill(session, deps, grant.id)
    assert _states(session, orcid) == {"placed": 130}
    assert len(record_works(sandbox, orcid)) == 130


def test_single_placement_with_a_revoked_token_marks_the_grant_not_the_job(
    session, sandbox, cipher, deps, client_id
):
    orcid = researcher(sandbox)
    grant, token = authorize(session, sandbox, cipher, orcid, client_id)
    sandbox.revoke_token(token["access_token"])
    work_row = publish(session, "w-1", orcid)

    result = place_pending(session, deps)[0]

    assert result.delay is None
    session.expire_all()
    assert session.get(OrcidGrant, grant.id).status == GrantStatus.REVOKED
    row = placement(session, work_row, orcid)
    assert row.state == PlacementState.AWAITING_CONSENT
    assert "authorise again" in row.last_error
    assert len(notifications(session, "grant.revoked")) == 1


def test_400_with_invalid_token_in_the_body_is_a_revocation_too():
    import responses

    from worker.orcid.client import MemberClient, RevokedToken

    client = MemberClient("https://api.orcid.example")
    with responses.RequestsMock() as mock:
        mock.get(
            "https://api.orcid.example/v3.0/0000-0002-1825-0097/works",
            status=400,
            json={"error": "invalid_token", "error_description": "Invalid access token: abc-123"},
        )
        with pytest.raises(RevokedToken) as caught:
            client.works("0000-0002-1825-0097", "abc-123")
    assert "abc-123" not in str(caught.value)


def test_researcher_revoked_event_revokes_at_orcid(session, sandbox, cipher, deps, client_id):
    orcid = researcher(sandbox)
    grant, token = authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid)

    event = receive(session, "researcher.revoked", {"orcid": orcid})

    assert event.status.value == "done"
    assert "revoking the token at ORCID is queued" in event.outcome
    assert placement(session, work_row, orcid).state == PlacementState.AWAITING_CONSENT
    # The queued actor's service call: ORCID revokes the token, we forget it
    result = revocation.revoke_at_orcid(session, deps, grant.id)
    assert result.note == "token revoked at ORCID"
    assert _works_api(sandbox, orcid, token["access_token"]).status_code == 401
    session.expire_all()
    stored = session.get(OrcidGrant, grant.id)
    assert stored.status == GrantStatus.REVOKED and stored.access_token_enc == b""
    assert revocation.revoke_at_orcid(session, deps, grant.id).note == "no token to revoke"


def test_token_health_check_finds_a_dead_grant_before_a_push(
    broker, session, sandbox, cipher, deps, client_id
):
    from worker.orcid.sweep import queue_token_checks

    orcid = researcher(sandbox)
    grant, token = authorize(session, sandbox, cipher, orcid, client_id)
    session.commit()
    assert queue_token_checks(session_database(session), deps.settings) == 1
    assert queue_token_checks(session_database(session), deps.settings) == 0  # not again soon
    assert reconcile.check_grant(session, deps, grant.id).note == "token works"

    sandbox.revoke_token(token["access_token"])
    result = reconcile.check_grant(session, deps, grant.id)

    assert "grant revoked" in result.note
    session.expire_all()
    assert session.get(OrcidGrant, grant.id).status == GrantStatus.REVOKED


def test_revocation_sends_a_permission_notification_when_configured(
    session, sandbox, cipher, client_id, tmp_path, redis_client
):
    from tests.orcid.conftest import orcid_settings
    from worker.orcid.deps import build

    settings = orcid_settings(sandbox, tmp_path, orcid_premium_notifications=True)
    deps = build(settings, cipher, redis_client)
    orcid = researcher(sandbox)
    grant, token = authorize(session, sandbox, cipher, orcid, client_id)
    work_row = publish(session, "w-1", orcid, title="Ocean heat")
    sandbox.revoke_token(token["access_token"])
    place_pending(session, deps)

    result = orcid_notifications.request_permission(session, deps, grant.id)

    assert result.note == "permission notification sent (1 work(s))"
    sent = sandbox.state()["orcid"]["notifications"]
    assert len(sent) == 1 and sent[0]["orcid"] == orcid
    body = sent[0]["notification"]
    assert body["items"]["item"][0]["item-name"] == "Ocean heat"
    link = body["authorization-url"]["uri"]
    invite = session.execute(select(OAuthState).where(OAuthState.invite)).scalar_one()
    assert f"state={invite.state}" in link and invite.person == orcid
    assert session.get(OrcidGrant, grant.id).reauth_requested_at is not None
    assert placement(session, work_row, orcid).state == PlacementState.AWAITING_CONSENT


def test_rotate_keys_then_the_old_key_can_go(session, sandbox, cipher, client_id):
    # Given grants and an inbox event sealed with the current key
    orcid = researcher(sandbox)
    grant, token = authorize(session, sandbox, cipher, orcid, client_id)
    newer = new_key()
    only_new = TokenCipher([newer])

    # Before rotating, dropping the old key fails loudly, naming what it cannot open
    with pytest.raises(TokenKeyError, match="cannot be decrypted"):
        only_new.decrypt(grant.access_token_enc)
    assert keys.undecryptable(session, only_new) == [
        f"grant {grant.id}",
        f"inbox event {_inbox_id(session)}",
    ]

    # When rotate-keys runs with the new key first
    counts = keys.rotate_stored_tokens(session, TokenCipher([newer, TOKEN_KEY]))

    # Then everything opens with the new key alone
    assert counts == {"grants": 1, "inbox_events": 1}
    session.expire_all()
    stored = session.get(OrcidGrant, grant.id)
    assert only_new.decrypt(stored.access_token_enc) == token["access_token"]
    assert only_new.decrypt(stored.refresh_token_enc) == token["refresh_token"]
    assert keys.undecryptable(session, only_new) == []
    with pytest.raises(TokenKeyError):
        cipher.decrypt(stored.access_token_enc)


def _inbox_id(session) -> int:
    from worker.models import ReceivedEvent

    return session.execute(
        select(ReceivedEvent.id).where(ReceivedEvent.type == "researcher.authorized")
    ).scalar_one()
