"""The ORCID part of ``GET /_sandbox/state``, and loading it back from a state file.

The snapshot is both the inspection view (``records`` keyed by iD, each work with
``put_code``, ``source_client_id``, ``external_ids`` as type/value/relationship, ``title``,
``visibility``; ``webhooks`` with the calls made; ``notifications``) and complete enough to
restore: each work carries its ORCID JSON under ``work``, tokens and registered clients carry
their secrets (it is a sandbox: nothing in it is a real credential).
"""

from __future__ import annotations

from typing import Any

from worker.sandbox.orcid.store import (
    FIRST_PUT_CODE,
    Activity,
    Client,
    GroupIdRecord,
    Notification,
    OrcidStore,
    Record,
    Token,
    Webhook,
    Work,
)


def _external_ids(item: Work | Activity) -> list[dict[str, Any]]:
    return [
        {
            "type": ext.get("external-id-type"),
            "value": ext.get("external-id-value"),
            "relationship": ext.get("external-id-relationship"),
        }
        for ext in item.external_ids()
    ]


def _work(work: Work) -> dict[str, Any]:
    return {
        "put_code": work.put_code,
        "source_client_id": work.source_client_id,
        "source_name": work.source_name,
        "external_ids": _external_ids(work),
        "title": work.title,
        "type": work.body.get("type"),
        "visibility": work.visibility,
        "created_ms": work.created_ms,
        "modified_ms": work.modified_ms,
        "work": work.body,
    }


def _activity(item: Activity) -> dict[str, Any]:
    return {
        "put_code": item.put_code,
        "section": item.section,
        "source_client_id": item.source_client_id,
        "source_name": item.source_name,
        "external_ids": _external_ids(item),
        "visibility": item.visibility,
        "created_ms": item.created_ms,
        "modified_ms": item.modified_ms,
        "body": item.body,
    }


def _record(record: Record) -> dict[str, Any]:
    return {
        "orcid": record.orcid,
        "given_names": record.given_names,
        "family_name": record.family_name,
        "email": record.email,
        "affiliation": record.affiliation,
        "ror": record.ror,
        "opt_out_notifications": record.opt_out_notifications,
        "created_ms": record.created_ms,
        "modified_ms": record.modified_ms,
        "works": [_work(w) for w in sorted(record.works.values(), key=lambda w: w.put_code)],
        "activities": [
            _activity(a) for a in sorted(record.activities.values(), key=lambda a: a.put_code)
        ],
    }


def _token(token: Token) -> dict[str, Any]:
    return {
        "access_token": token.access_token,
        "refresh_token": token.refresh_token,
        "client_id": token.client_id,
        "orcid": token.orcid,
        "scope": " ".join(token.scopes),
        "name": token.name,
        "expires_in": token.expires_in,
        "issued_at": token.issued_at,
        "revoked": token.revoked,
    }


def _notification(note: Notification) -> dict[str, Any]:
    return {
        "put_code": note.put_code,
        "orcid": note.orcid,
        "client_id": note.client_id,
        "source_name": note.source_name,
        "subject": note.body.get("notification-subject"),
        "archived": note.archived_ms is not None,
        "created_ms": note.created_ms,
        "read_ms": note.read_ms,
        "archived_ms": note.archived_ms,
        "notification": note.body,
    }


def snapshot(store: OrcidStore) -> dict[str, Any]:
    calls = [dict(call) for call in store.webhook_calls]
    return {
        "records": {orcid: _record(record) for orcid, record in store.records.items()},
        "webhooks": [
            {
                "orcid": hook.orcid,
                "url": hook.url,
                "client_id": hook.client_id,
                "registered_ms": hook.registered_ms,
                "calls": [c for c in calls if c["orcid"] == hook.orcid and c["url"] == hook.url],
            }
            for hook in store.webhooks.values()
        ],
        "webhook_calls": calls,
        "notifications": [_notification(n) for n in store.notifications.values()],
        "clients": [
            {**client.as_dict(), "client_secret": client.secret}
            for client in store.clients.values()
            if not client.seeded
        ],
        "tokens": [_token(token) for token in store.tokens.values()],
        "group_ids": [
            {
                "put_code": g.put_code,
                "group_id": g.group_id,
                "name": g.name,
                "description": g.description,
                "type": g.type,
                "source_client_id": g.source_client_id,
            }
            for g in store.group_ids.values()
        ],
        "next_put_code": store.next_put_code,
        "next_notification_code": store.next_notification_code,
    }


def _item_fields(orcid: str, saved: dict[str, Any]) -> dict[str, Any]:
    """What a saved work and a saved activity both carry (their bodies are keyed apart)."""
    return {
        "put_code": saved["put_code"],
        "orcid": orcid,
        "source_client_id": saved["source_client_id"],
        "source_name": saved["source_name"],
        "visibility": saved["visibility"],
        "created_ms": saved["created_ms"],
        "modified_ms": saved["modified_ms"],
    }


def restore(store: OrcidStore, saved: dict[str, Any]) -> None:
    """Load a :func:`snapshot` into ``store`` (after a reset to the seeded clients)."""
    store.reset()
    for item in saved.get("clients", []):
        store.add_client(
            Client(
                client_id=item["client_id"],
                secret=item["client_secret"],
                name=item["name"],
                redirect_uris=tuple(item.get("redirect_uris", ())),
                member=item.get("member", True),
                premium=item.get("premium", True),
            )
        )
    for orcid, item in saved.get("records", {}).items():
        record = Record(
            orcid=orcid,
            given_names=item.get("given_names"),
            family_name=item.get("family_name"),
            email=item.get("email"),
            affiliation=item.get("affiliation"),
            ror=item.get("ror"),
            opt_out_notifications=item.get("opt_out_notifications", False),
            created_ms=item["created_ms"],
            modified_ms=item["modified_ms"],
        )
        for w in item.get("works", []):
            record.works[w["put_code"]] = Work(**_item_fields(orcid, w), body=w["work"])
        for a in item.get("activities", []):
            record.activities[a["put_code"]] = Activity(
                **_item_fields(orcid, a), section=a["section"], body=a["body"]
            )
        store.records[orcid] = record
    for item in saved.get("tokens", []):
        store.add_token(
            Token(
                access_token=item["access_token"],
                refresh_token=item["refresh_token"],
                client_id=item["client_id"],
                orcid=item["orcid"],
                scopes=tuple(item["scope"].split()),
                name=item.get("name"),
                expires_in=item["expires_in"],
                issued_at=item["issued_at"],
                revoked=item["revoked"],
            )
        )
    for item in saved.get("webhooks", []):
        hook = Webhook(item["orcid"], item["url"], item["client_id"], item["registered_ms"])
        store.webhooks[(hook.orcid, hook.url)] = hook
    store.webhook_calls.extend(dict(call) for call in saved.get("webhook_calls", []))
    for item in saved.get("notifications", []):
        store.notifications[item["put_code"]] = Notification(
            put_code=item["put_code"],
            orcid=item["orcid"],
            client_id=item["client_id"],
            source_name=item["source_name"],
            body=item["notification"],
            created_ms=item["created_ms"],
            read_ms=item.get("read_ms"),
            archived_ms=item.get("archived_ms"),
        )
    for g in saved.get("group_ids", []):
        store.group_ids[g["put_code"]] = GroupIdRecord(**g)
    store.next_put_code = saved.get("next_put_code", FIRST_PUT_CODE)
    store.next_notification_code = saved.get("next_notification_code", 0)
