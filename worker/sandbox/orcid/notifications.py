"""Permission notifications (``/premium-notification``), JSON only.

``POST /orcid-api/v3.0/{orcid}/notification-permission`` (201 + ``Location``), ``GET …/{put-code}``
and ``DELETE …/{put-code}`` (archive: 200 with the notification; 403/9009 once the researcher
has read it). The body follows ``notification-permission-3.0.xsd``: ``notification-type``
``permission``, ``authorization-url`` (``uri`` or ``path``), ``notification-subject``,
``notification-intro`` (≤ 1000 characters), ``items.item[]`` with ``item-type``, ``item-name``
(≤ 1000) and an optional ``external-id``. A researcher who opted out answers 409/9032.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from worker.sandbox.orcid import vocab
from worker.sandbox.orcid.api import Caller, endpoint, payload, read_document
from worker.sandbox.orcid.errors import OrcidApiError, api_error
from worker.sandbox.orcid.store import Notification, Record, now_ms

if TYPE_CHECKING:
    from worker.sandbox.orcid.service import OrcidService

JSON_ONLY = ("application/vnd.orcid+json", "application/orcid+json", "application/json")
_KEYS = frozenset(
    {
        "notification-type",
        "authorization-url",
        "notification-subject",
        "notification-intro",
        "items",
        "put-code",
        "created-date",
        "sent-date",
        "read-date",
        "actioned-date",
        "archived-date",
        "source",
    }
)
_MAX_TEXT = 1000


def _invalid(detail: str) -> OrcidApiError:
    return api_error(9001, detail)


def _check_items(document: dict[str, Any]) -> list[Any]:
    holder = document.get("items")
    items = holder.get("item") if isinstance(holder, dict) else None
    if not isinstance(items, list) or not items:
        raise _invalid("items must hold at least one item")
    for item in items:
        if not isinstance(item, dict) or item.get("item-type") not in vocab.NOTIFICATION_ITEM_TYPES:
            raise _invalid("item-type must be one of " + ", ".join(vocab.NOTIFICATION_ITEM_TYPES))
        name = item.get("item-name")
        if not isinstance(name, str) or len(name) > _MAX_TEXT:
            raise _invalid(f"item-name must be a string of at most {_MAX_TEXT} characters")
    return items


def check_notification(document: Any) -> dict[str, Any]:
    """The notification as stored; raises ORCID's error for what the schema refuses."""
    if not isinstance(document, dict):
        raise api_error(9047, error="a notification object is required")
    for key in document:
        if key not in _KEYS:
            raise api_error(9047, error=f'Unrecognized field "{key}", not marked as ignorable')
    if document.get("put-code") is not None:
        raise api_error(9024)
    kind = document.get("notification-type")
    if kind != "permission":
        raise api_error(9051, value=str(kind), enum="NotificationType")
    url = document.get("authorization-url")
    if not isinstance(url, dict) or not (url.get("uri") or url.get("path")):
        raise _invalid("authorization-url with a uri or a path is required")
    intro = document.get("notification-intro")
    if intro is not None and (not isinstance(intro, str) or len(intro) > _MAX_TEXT):
        raise _invalid(f"notification-intro must be a string of at most {_MAX_TEXT} characters")
    return {
        "notification-type": "permission",
        "authorization-url": url,
        "notification-subject": document.get("notification-subject"),
        "notification-intro": intro,
        "items": {"item": _check_items(document)},
    }


class NotificationsApi:
    def __init__(self, service: OrcidService) -> None:
        self.service = service
        self.store = service.store

    def routes(self) -> list[web.RouteDef]:
        member = endpoint(self.service, member=True, produced=JSON_ONLY)
        base = "/orcid-api/v3.0/{orcid}/notification-permission"
        return [
            web.post(base, member(self.create)),
            web.get(base + "/{put_code}", member(self.read)),
            web.delete(base + "/{put_code}", member(self.archive)),
        ]

    def _record(self, request: web.Request, caller: Caller) -> Record:
        if not caller.has_scope("/premium-notification") or caller.token is None:
            raise api_error(9038)
        record = self.store.records.get(request.match_info["orcid"])
        if record is None:
            raise api_error(9016)
        return record

    def _notification(self, request: web.Request, caller: Caller) -> Notification:
        record = self._record(request, caller)
        raw = request.match_info["put_code"]
        note = self.store.notifications.get(int(raw)) if raw.isdigit() else None
        if note is None or note.orcid != record.orcid:
            raise api_error(9029, id=raw, orcid=record.orcid)
        assert caller.token is not None
        if note.client_id != caller.token.client_id:
            raise api_error(9010, activity="notification")
        return note

    def render(self, note: Notification) -> dict[str, Any]:
        host = self.service.settings.host

        def stamp(value: int | None) -> dict[str, int] | None:
            return None if value is None else {"value": value}

        return {
            **note.body,
            "created-date": stamp(note.created_ms),
            "sent-date": stamp(note.created_ms),
            "read-date": stamp(note.read_ms),
            "actioned-date": None,
            "archived-date": stamp(note.archived_ms),
            "source": {
                "source-orcid": None,
                "source-client-id": {
                    "uri": f"https://{host}/client/{note.client_id}",
                    "path": note.client_id,
                    "host": host,
                },
                "source-name": {"value": note.source_name},
                "assertion-origin-orcid": None,
                "assertion-origin-client-id": None,
                "assertion-origin-name": None,
            },
            "put-code": note.put_code,
        }

    async def create(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        record = self._record(request, caller)
        body = check_notification(await read_document(request))
        if record.opt_out_notifications:
            raise api_error(9032, orcid=record.orcid)
        assert caller.token is not None
        note = Notification(
            put_code=self.store.take_notification_code(),
            orcid=record.orcid,
            client_id=caller.token.client_id,
            source_name=caller.client_name or caller.token.client_id,
            body=body,
        )
        self.store.notifications[note.put_code] = note
        self.service.ctx.changed()
        location = (
            f"{request.scheme}://{request.host}/orcid-api/v3.0/{record.orcid}"
            f"/notification-permission/{note.put_code}"
        )
        return web.Response(status=201, headers={"Location": location})

    async def read(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        note = self._notification(request, caller)
        return payload(caller, self.render(note), None)

    async def archive(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        note = self._notification(request, caller)
        if note.read_ms is not None:
            raise api_error(9009)
        if note.archived_ms is None:
            note.archived_ms = now_ms()
            self.service.ctx.changed()
        return payload(caller, self.render(note), None)
