"""ORCID's group-id registry: ``/v3.0/group-id-record`` on the member API.

A peer review names the group (a journal, a conference) it belongs to by ``review-group-id``,
which must first be registered here by a member with a client-credentials token of scope
``/group-id-record/update`` (API_FACTS §1.12). ``POST`` (201 + ``Location``), ``GET /{put-code}``
and ``GET ?group-id=...`` (the one record, 404/9016 when unknown; ``/group-id-record/read`` is
enough to read). A group id is ``<prefix>:<value>`` with ORCID's prefixes (``issn``,
``ringgold``, ``orcid-generated``, ``fundref``, ``publons``); a second record with the same
group id is refused (409/9030).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from worker.sandbox.orcid.api import Caller, endpoint, payload
from worker.sandbox.orcid.errors import api_error
from worker.sandbox.orcid.store import GroupIdRecord

if TYPE_CHECKING:
    from worker.sandbox.orcid.service import OrcidService

PREFIXES = ("issn", "ringgold", "orcid-generated", "fundref", "publons")
UPDATE = "/group-id-record/update"
READ = ("/group-id-record/read", UPDATE)
_KEYS = {"name", "group-id", "description", "type", "put-code", "source"}


def as_json(group: GroupIdRecord) -> dict[str, Any]:
    return {
        "put-code": group.put_code,
        "name": group.name,
        "group-id": group.group_id,
        "description": group.description,
        "type": group.type,
        "source": {"source-client-id": {"path": group.source_client_id}},
    }


class GroupIdApi:
    def __init__(self, service: OrcidService) -> None:
        self.service = service
        self.store = service.store

    def routes(self) -> list[web.RouteDef]:
        member = endpoint(self.service, member=True)
        base = "/orcid-api/v3.0/group-id-record"
        return [
            web.post(base, member(self.create)),
            web.get(base, member(self.find)),
            web.get(base + "/{put_code}", member(self.read)),
        ]

    @staticmethod
    def _client_scope(caller: Caller, scopes: tuple[str, ...]) -> str:
        """A client-credentials token (no record) with one of ``scopes``: its client id."""
        token = caller.token
        if token is None or token.orcid is not None or not caller.has_scope(*scopes):
            raise api_error(9038)
        return token.client_id

    async def create(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        client_id = self._client_scope(caller, (UPDATE,))
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError as exc:
            raise api_error(9047, error=str(exc)) from None
        if not isinstance(body, dict):
            raise api_error(9047, error="Cannot deserialize GroupIdRecord: expected an object")
        unknown = sorted(set(body) - _KEYS)
        if unknown:
            raise api_error(9047, error=f'Unrecognized field "{unknown[0]}" (GroupIdRecord)')
        for key in ("name", "group-id", "description", "type"):
            if not isinstance(body.get(key), str) or not body[key].strip():
                raise api_error(9020, f"{key} is required")
        group_id = body["group-id"].strip()
        prefix, _, value = group_id.partition(":")
        if prefix not in PREFIXES or not value:
            raise api_error(
                9020,
                f"Invalid group-id {group_id!r}: use <prefix>:<value> with one of "
                + ", ".join(PREFIXES),
            )
        if any(g.group_id == group_id for g in self.store.group_ids.values()):
            raise api_error(9030, groupId=group_id)
        group = GroupIdRecord(
            put_code=self.store.take_put_code(),
            group_id=group_id,
            name=body["name"],
            description=body["description"],
            type=body["type"],
            source_client_id=client_id,
        )
        self.store.group_ids[group.put_code] = group
        self.service.ctx.changed()
        location = f"{request.scheme}://{request.host}{request.path}/{group.put_code}"
        return web.Response(status=201, headers={"Location": location})

    async def read(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        self._client_scope(caller, READ)
        raw = request.match_info["put_code"]
        group = self.store.group_ids.get(int(raw)) if raw.isdigit() else None
        if group is None:
            raise api_error(9016)
        return payload(caller, as_json(group), None)

    async def find(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        self._client_scope(caller, READ)
        wanted = request.query.get("group-id")
        if wanted is None:
            groups = [as_json(g) for g in self.store.group_ids.values()]
            return payload(caller, {"total": len(groups), "page": groups}, None)
        for group in self.store.group_ids.values():
            if group.group_id == wanted:
                return payload(caller, as_json(group), None)
        raise api_error(9016)
