"""The ORCID control routes, under ``/_sandbox/orcid/``: what a researcher or ORCID staff would do.

=============================================================  =====================================
``POST researchers``                                           create a record → 201 ``{"orcid"}``
``GET researchers/{orcid}``                                    the record as in the state snapshot
``POST researchers/{orcid}``                                   change ``given_names``,
                                                               ``family_name``, ``email``,
                                                               ``affiliation``, ``ror``,
                                                               ``opt_out_notifications``
``POST researchers/{orcid}/tokens``                            ``{"client_id", "scope"}``: a token
                                                               as if consented → ORCID's token JSON
``POST researchers/{orcid}/revoke``                            revoke the researcher's tokens
                                                               (``{"client_id"}`` optional)
``POST tokens/revoke``                                         ``{"access_token"}`` → 204
``POST researchers/{orcid}/works``                             ``{"client_id", "work"}``: a work
                                                               added by another source → 201
``DELETE researchers/{orcid}/works/{put_code}``                the researcher deletes a work → 204
``DELETE researchers/{orcid}/activities/{put_code}``           the researcher deletes an
                                                               affiliation, funding or review → 204
``POST researchers/{orcid}/works/{put_code}/hide``             visibility ``private`` (or the
                                                               body's ``visibility``) → 204
``POST researchers/{orcid}/notifications/{put_code}/read``     the researcher reads it → 204
``POST clients``                                               register a client → 201
``GET|POST settings``                                          webhook timing, the works limit
=============================================================  =====================================

Errors answer ``{"error": "..."}`` with 400 or 404.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from worker.sandbox.app import read_json_object
from worker.sandbox.orcid import ids, persist, validation, vocab
from worker.sandbox.orcid.errors import OrcidApiError
from worker.sandbox.orcid.store import PRIVATE, Client, Record, now_ms
from worker.sandbox.service import CONTROL_PREFIX

if TYPE_CHECKING:
    from worker.sandbox.orcid.service import OrcidService

BASE = CONTROL_PREFIX + "/orcid"
_RESEARCHER_FIELDS = ("given_names", "family_name", "email", "affiliation", "ror")


def _fail(status: int, message: str) -> web.HTTPException:
    cls = web.HTTPNotFound if status == 404 else web.HTTPBadRequest
    return cls(text=json.dumps({"error": message}), content_type="application/json")


class ControlApi:
    def __init__(self, service: OrcidService) -> None:
        self.service = service
        self.store = service.store

    def routes(self) -> list[web.RouteDef]:
        r = BASE + "/researchers/{orcid}"
        return [
            web.post(BASE + "/researchers", self.create_researcher),
            web.get(r, self.get_researcher),
            web.post(r, self.update_researcher),
            web.post(r + "/tokens", self.issue_token),
            web.post(r + "/revoke", self.revoke_researcher),
            web.post(BASE + "/tokens/revoke", self.revoke_token),
            web.post(r + "/works", self.add_work),
            web.delete(r + "/works/{put_code}", self.delete_work),
            web.post(r + "/works/{put_code}/hide", self.hide_work),
            web.delete(r + "/activities/{put_code}", self.delete_activity),
            web.post(r + "/notifications/{put_code}/read", self.read_notification),
            web.post(BASE + "/clients", self.add_client),
            web.get(BASE + "/settings", self.get_settings),
            web.post(BASE + "/settings", self.set_settings),
        ]

    def _record(self, request: web.Request) -> Record:
        orcid = request.match_info["orcid"]
        record = self.store.records.get(orcid)
        if record is None:
            raise _fail(404, f"no researcher {orcid}")
        return record

    @staticmethod
    def _fields(body: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for key, value in body.items():
            if key in _RESEARCHER_FIELDS:
                if value is not None and not isinstance(value, str):
                    raise _fail(400, f"{key} must be a string")
                fields[key] = value
            elif key == "opt_out_notifications":
                if not isinstance(value, bool):
                    raise _fail(400, "opt_out_notifications must be true or false")
                fields[key] = value
            else:
                raise _fail(400, f"unknown field: {key}")
        return fields

    async def create_researcher(self, request: web.Request) -> web.Response:
        orcid = self.service.create_researcher(**self._fields(await read_json_object(request)))
        return web.json_response({"orcid": orcid}, status=201)

    async def get_researcher(self, request: web.Request) -> web.Response:
        record = self._record(request)
        return web.json_response(persist.snapshot(self.store)["records"][record.orcid])

    async def update_researcher(self, request: web.Request) -> web.Response:
        record = self._record(request)
        for key, value in self._fields(await read_json_object(request)).items():
            setattr(record, key, value)
        self.service.record_changed(record)
        return web.json_response(persist.snapshot(self.store)["records"][record.orcid])

    async def issue_token(self, request: web.Request) -> web.Response:
        record = self._record(request)
        body = await read_json_object(request)
        scope = body.get("scope") or vocab.DEFAULT_SCOPE
        if not isinstance(scope, str):
            raise _fail(400, "scope must be a string")
        try:
            token = self.service.issue_token(record.orcid, body.get("client_id"), scope)
        except ValueError as exc:
            raise _fail(400, str(exc)) from None
        return web.json_response(token)

    async def revoke_researcher(self, request: web.Request) -> web.Response:
        record = self._record(request)
        body = await read_json_object(request)
        count = self.store.revoke_researcher_tokens(record.orcid, body.get("client_id"))
        self.service.ctx.changed()
        return web.json_response({"revoked": count})

    async def revoke_token(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        try:
            self.service.revoke_token(str(body.get("access_token", "")))
        except KeyError:
            raise _fail(404, "unknown access_token") from None
        return web.Response(status=204)

    async def add_work(self, request: web.Request) -> web.Response:
        record = self._record(request)
        body = await read_json_object(request)
        client_id = body.get("client_id")
        if client_id not in self.store.clients:
            raise _fail(400, f"unknown client_id: {client_id}")
        try:
            parsed = validation.parse_work(body.get("work"))
            validation.validate_work(parsed, create=True)
        except OrcidApiError as err:
            return web.json_response(err.body(), status=err.status)
        work = self.service.add_work(record, str(client_id), parsed.body)
        return web.json_response({"put_code": work.put_code}, status=201)

    def _put_code(self, request: web.Request, record: Record) -> int:
        raw = request.match_info["put_code"]
        if not raw.isdigit() or int(raw) not in record.works:
            raise _fail(404, f"no work {raw} on {record.orcid}")
        return int(raw)

    async def delete_work(self, request: web.Request) -> web.Response:
        record = self._record(request)
        self.service.delete_work(record.orcid, self._put_code(request, record))
        return web.Response(status=204)

    async def delete_activity(self, request: web.Request) -> web.Response:
        record = self._record(request)
        raw = request.match_info["put_code"]
        if not raw.isdigit() or int(raw) not in record.activities:
            raise _fail(404, f"no activity {raw} on {record.orcid}")
        self.service.delete_activity(record.orcid, int(raw))
        return web.Response(status=204)

    async def hide_work(self, request: web.Request) -> web.Response:
        record = self._record(request)
        put_code = self._put_code(request, record)
        visibility = (await read_json_object(request)).get("visibility", PRIVATE)
        try:
            self.service.hide_work(record.orcid, put_code, str(visibility))
        except ValueError as exc:
            raise _fail(400, str(exc)) from None
        return web.Response(status=204)

    async def read_notification(self, request: web.Request) -> web.Response:
        record = self._record(request)
        raw = request.match_info["put_code"]
        note = self.store.notifications.get(int(raw)) if raw.isdigit() else None
        if note is None or note.orcid != record.orcid:
            raise _fail(404, f"no notification {raw} for {record.orcid}")
        note.read_ms = note.read_ms or now_ms()
        self.service.ctx.changed()
        return web.Response(status=204)

    async def add_client(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        client_id = body.get("client_id") or "APP-" + ids.new_code().upper() + "SANDBOX001"
        if not isinstance(client_id, str) or client_id in self.store.clients:
            raise _fail(400, f"client_id taken or invalid: {client_id}")
        uris = body.get("redirect_uris") or []
        if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
            raise _fail(400, "redirect_uris must be a list of URLs")
        client = Client(
            client_id=client_id,
            secret=str(body.get("client_secret") or ids.new_token()),
            name=str(body.get("name") or client_id),
            redirect_uris=tuple(uris),
            member=bool(body.get("member", True)),
            premium=bool(body.get("premium", True)),
        )
        self.store.add_client(client)
        self.service.ctx.changed()
        return web.json_response({**client.as_dict(), "client_secret": client.secret}, status=201)

    async def get_settings(self, _request: web.Request) -> web.Response:
        return web.json_response(self.service.settings.update({}))

    async def set_settings(self, request: web.Request) -> web.Response:
        try:
            return web.json_response(self.service.settings.update(await read_json_object(request)))
        except (TypeError, ValueError) as exc:
            raise _fail(400, str(exc)) from None
