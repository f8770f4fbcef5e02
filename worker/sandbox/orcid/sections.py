"""Affiliations, fundings and peer reviews on the member API (read and write) and public API.

Member API, under ``/orcid-api/v3.0/{orcid}/``, for each section of
:data:`~worker.sandbox.orcid.activity_check.SECTIONS`: ``POST <section>`` (201 + ``Location``),
``GET|PUT|DELETE <section>/{put-code}``, and the plural summary (``employments``, ``fundings``,
``peer-reviews``, ...) grouped as ORCID groups it: affiliations in ``affiliation-group``
(one group per item here, as items without shared external ids are), fundings in ``group`` by
shared ``self`` external ids, peer reviews in ``group`` by ``review-group-id`` and inside it
by review identifiers. ``GET activities`` answers every section at once. Public API, under
``/orcid-pub/v3.0/{orcid}/``: the reads, public items only.

The order of checks is the works' (:mod:`worker.sandbox.orcid.works`): token, body (9047/9051),
the token's record and scope (9017/9038), put-codes (9019/9016), source (9010), the section's
validation, then duplicates (409/9021, fundings and peer reviews only). A peer review's
``review-group-id`` must be in the group-id registry (:mod:`worker.sandbox.orcid.groups`).
JSON bodies only: an XML body answers 415 (the works keep their XML reader).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from worker.sandbox.orcid import activity_check as check
from worker.sandbox.orcid import render
from worker.sandbox.orcid.api import Caller, endpoint, payload, unroutable
from worker.sandbox.orcid.errors import api_error
from worker.sandbox.orcid.ids import normalise_external_id
from worker.sandbox.orcid.store import Activity, Record, now_ms

if TYPE_CHECKING:
    from collections.abc import Iterable

    from worker.sandbox.orcid.service import OrcidService

PLURAL = {section: f"{section}s" for section in check.SECTIONS}


def _ms(value: int | None) -> dict[str, int] | None:
    return None if value is None else {"value": value}


def source(item: Activity, host: str) -> dict[str, Any]:
    return {
        "source-orcid": None,
        "source-client-id": {
            "uri": f"https://{host}/client/{item.source_client_id}",
            "path": item.source_client_id,
            "host": host,
        },
        "source-name": {"value": item.source_name},
        "assertion-origin-orcid": None,
        "assertion-origin-client-id": None,
        "assertion-origin-name": None,
    }


def full(item: Activity, host: str) -> dict[str, Any]:
    """The item as ``GET <section>/{put-code}`` answers it: its fields plus ORCID's own."""
    body = {k: v for k, v in item.body.items() if k not in ("put-code", "visibility", "path")}
    return {
        **body,
        "created-date": _ms(item.created_ms),
        "last-modified-date": _ms(item.modified_ms),
        "source": source(item, host),
        "put-code": item.put_code,
        "path": f"/{item.orcid}/{item.section}/{item.put_code}",
        "visibility": item.visibility,
        "display-index": "0",
    }


_SUMMARY_DROP = {
    "contributors",
    "amount",
    "short-description",
    "organization-defined-type",
    "review-identifiers",
    "review-url",
    "subject-container-name",
    "subject-name",
    "subject-type",
    "subject-url",
    "subject-external-identifier",
}


def summary(item: Activity, host: str) -> dict[str, Any]:
    """The ``<section>-summary``: what the plural answer shows (long fields left out)."""
    data = full(item, host)
    if item.section == check.PEER_REVIEW:
        data["external-ids"] = item.body.get("review-identifiers")
    return {k: v for k, v in data.items() if k not in _SUMMARY_DROP}


def _self_keys(item: Activity) -> set[tuple[str, str]]:
    return {
        (
            str(e.get("external-id-type")),
            normalise_external_id(
                str(e.get("external-id-type") or ""), str(e.get("external-id-value") or "")
            ),
        )
        for e in item.external_ids()
        if e.get("external-id-relationship") in ("self", None)
    }


def _by_shared_ids(items: list[Activity]) -> list[list[Activity]]:
    """Items joined when they share a ``self`` external id (ORCID's grouping), in order."""
    groups: list[tuple[set[tuple[str, str]], list[Activity]]] = []
    for item in items:
        keys = _self_keys(item)
        joined = [g for g in groups if keys and g[0] & keys]
        merged_keys, merged = set(keys), [item]
        for group in joined:
            groups.remove(group)
            merged_keys |= group[0]
            merged = group[1] + merged
        groups.append((merged_keys, merged))
    return [members for _, members in groups]


def _ext_union(items: Iterable[Activity]) -> dict[str, Any]:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        for ext in item.external_ids():
            key = (str(ext.get("external-id-type")), str(ext.get("external-id-value")))
            seen.setdefault(key, ext)
    return {"external-id": list(seen.values())}


def _last(items: Iterable[Activity]) -> dict[str, int] | None:
    return _ms(max((i.modified_ms for i in items), default=None))


def section_summary(orcid: str, section: str, items: list[Activity], host: str) -> dict[str, Any]:
    """The plural answer for ``section`` (items already filtered to those the caller sees)."""
    items = sorted((i for i in items if i.section == section), key=lambda i: i.put_code)
    path = f"/{orcid}/{PLURAL[section]}"
    key = f"{section}-summary"
    groups: list[dict[str, Any]]
    if section in check.AFFILIATIONS:
        groups = [
            {
                "last-modified-date": _last([i]),
                "external-ids": _ext_union([i]),
                "summaries": [{key: summary(i, host)}],
            }
            for i in items
        ]
        return {"last-modified-date": _last(items), "affiliation-group": groups, "path": path}
    if section == check.FUNDING:
        groups = [
            {
                "last-modified-date": _last(members),
                "external-ids": _ext_union(members),
                key: [summary(i, host) for i in members],
            }
            for members in _by_shared_ids(items)
        ]
        return {"last-modified-date": _last(items), "group": groups, "path": path}
    by_group: dict[str, list[Activity]] = {}
    for item in items:
        by_group.setdefault(str(item.body.get("review-group-id")), []).append(item)
    groups = []
    for group_id, members in by_group.items():
        groups.append(
            {
                "last-modified-date": _last(members),
                "external-ids": {
                    "external-id": [
                        {
                            "external-id-type": "peer-review",
                            "external-id-value": group_id,
                            "external-id-normalized": None,
                            "external-id-url": None,
                            "external-id-relationship": None,
                        }
                    ]
                },
                "peer-review-group": [
                    {  # one per review, joined by shared review identifiers
                        "last-modified-date": _last(sub),
                        "external-ids": _ext_union(sub),
                        key: [summary(i, host) for i in sub],
                    }
                    for sub in _by_shared_ids(members)
                ],
            }
        )
    return {"last-modified-date": _last(items), "group": groups, "path": path}


class SectionsApi:
    def __init__(self, service: OrcidService) -> None:
        self.service = service
        self.store = service.store

    @property
    def host(self) -> str:
        return self.service.settings.host

    def routes(self) -> list[web.RouteDef]:
        member = endpoint(self.service, member=True)
        public = endpoint(self.service, member=False)
        m, p = "/orcid-api/v3.0/{orcid}", "/orcid-pub/v3.0/{orcid}"
        routes = [
            web.get(m + "/activities", member(self.activities_member)),
            web.get(p + "/activities", public(self.activities_public)),
        ]
        for section in check.SECTIONS:
            one, many = f"/{section}", f"/{PLURAL[section]}"
            routes += [
                web.post(m + one, member(self._handler(self.create, section))),
                web.get(m + one + "/{put_code}", member(self._handler(self.read_m, section))),
                web.put(m + one + "/{put_code}", member(self._handler(self.update, section))),
                web.delete(m + one + "/{put_code}", member(self._handler(self.delete, section))),
                web.get(m + many, member(self._handler(self.summary_m, section))),
                web.get(p + one + "/{put_code}", public(self._handler(self.read_p, section))),
                web.get(p + many, public(self._handler(self.summary_p, section))),
            ]
        return routes

    @staticmethod
    def _handler(method: Any, section: str) -> Any:
        async def run(request: web.Request, caller: Caller) -> web.StreamResponse:
            response: web.StreamResponse = await method(request, caller, section)
            return response

        return run

    # --- access (the works' rules: the same tokens, the same visibility) ----------------------

    def _visible(self, item: Activity, caller: Caller, *, member: bool) -> bool:
        works = self.service.works
        return works.visible(item, caller, member=member)

    def _item(self, record: Record, section: str, raw: str) -> Activity:
        put_code = self.service.works.put_code(raw)
        item = record.activities.get(put_code)
        if item is None or item.section != section:
            raise api_error(9016)
        return item

    @staticmethod
    async def _body(request: web.Request, section: str) -> dict[str, Any]:
        if not request.content_type.lower().endswith("json"):
            raise unroutable(415, "HTTP 415 Unsupported Media Type")
        try:
            raw = json.loads(await request.read() or b"null")
        except ValueError as exc:
            raise api_error(9047, error=str(exc)) from None
        return check.parse(section, raw)

    def _check(self, section: str, body: dict[str, Any], *, create: bool) -> None:
        check.check(section, body, create=create)
        if section == check.PEER_REVIEW:
            group_id = str(body["review-group-id"])
            if not any(g.group_id == group_id for g in self.store.group_ids.values()):
                raise api_error(
                    9020,
                    f"review-group-id {group_id!r} is not in the group-id registry "
                    "(POST /v3.0/group-id-record first)",
                )

    def _duplicate(
        self, record: Record, section: str, body: dict[str, Any], client_id: str, but: int | None
    ) -> Activity | None:
        keys = check.duplicate_keys(section, body)
        if not keys:
            return None
        for other in record.activities.values():
            if (
                other.section == section
                and other.put_code != but
                and other.source_client_id == client_id
                and check.duplicate_keys(section, other.body) & keys
            ):
                return other
        return None

    # --- writing --------------------------------------------------------------------------------

    async def create(self, request: web.Request, caller: Caller, section: str) -> web.Response:
        body = await self._body(request, section)
        orcid = request.match_info["orcid"]
        record = self.service.works.writable_record(caller, orcid)
        self._check(section, body, create=True)
        assert caller.token is not None
        existing = self._duplicate(record, section, body, caller.token.client_id, None)
        if existing is not None:
            raise api_error(9021, putCode=str(existing.put_code), client_name=caller.client_name)
        item = self.service.add_activity(record, section, caller.token.client_id, body)
        location = (
            f"{request.scheme}://{request.host}/orcid-api/v3.0/{orcid}/{section}/{item.put_code}"
        )
        return web.Response(status=201, headers={"Location": location})

    async def update(self, request: web.Request, caller: Caller, section: str) -> web.Response:
        body = await self._body(request, section)
        record = self.service.works.writable_record(caller, request.match_info["orcid"])
        url_code = request.match_info["put_code"]
        body_code = body.get("put-code")
        if body_code is None or str(body_code).strip() != url_code:
            raise api_error(
                9019,
                urlPutCode=url_code,
                bodyPutCode="null" if body_code is None else str(body_code),
                client_name=caller.client_name,
            )
        item = self._item(record, section, url_code)
        assert caller.token is not None
        if item.source_client_id != caller.token.client_id:
            raise api_error(9010, activity=section)
        self._check(section, body, create=False)
        visibility = body.get("visibility")
        if visibility is not None and visibility != item.visibility:
            raise api_error(9035, client_name=caller.client_name)
        other = self._duplicate(record, section, body, item.source_client_id, item.put_code)
        if other is not None:
            raise api_error(9021, putCode=str(other.put_code), client_name=caller.client_name)
        item.body = {k: v for k, v in body.items() if k not in ("visibility", "path")}
        item.modified_ms = now_ms()
        self.service.record_changed(record)
        return payload(caller, full(item, self.host), None)

    async def delete(self, request: web.Request, caller: Caller, section: str) -> web.Response:
        record = self.service.works.writable_record(caller, request.match_info["orcid"])
        item = self._item(record, section, request.match_info["put_code"])
        assert caller.token is not None
        if item.source_client_id != caller.token.client_id:
            raise api_error(9010, activity=section)
        self.service.remove_activity(record, item.put_code)
        return web.Response(status=204)

    # --- reading --------------------------------------------------------------------------------

    async def _read(
        self, request: web.Request, caller: Caller, section: str, *, member: bool
    ) -> web.Response:
        record = self.service.works.record_for(caller, request.match_info["orcid"], member=member)
        item = self._item(record, section, request.match_info["put_code"])
        self.service.works.check_visible(item, caller, member=member)
        return payload(caller, full(item, self.host), None)

    def _shown(self, record: Record, caller: Caller, *, member: bool) -> list[Activity]:
        return [a for a in record.activities.values() if self._visible(a, caller, member=member)]

    async def _summary(
        self, request: web.Request, caller: Caller, section: str, *, member: bool
    ) -> web.Response:
        record = self.service.works.record_for(caller, request.match_info["orcid"], member=member)
        shown = self._shown(record, caller, member=member)
        return payload(caller, section_summary(record.orcid, section, shown, self.host), None)

    def activities(self, record: Record, caller: Caller, *, member: bool) -> dict[str, Any]:
        """Every section's plural answer, keyed as ``activities-summary`` keys them."""
        shown = self._shown(record, caller, member=member)
        return {
            PLURAL[s]: section_summary(record.orcid, s, shown, self.host) for s in check.SECTIONS
        }

    async def _activities(self, request: web.Request, caller: Caller, *, member: bool) -> Any:
        works_api = self.service.works
        record = works_api.record_for(caller, request.match_info["orcid"], member=member)
        works = [w for w in record.works.values() if works_api.visible(w, caller, member=member)]
        data = {
            "last-modified-date": _ms(record.modified_ms),
            **self.activities(record, caller, member=member),
            "works": render.works_summary(record.orcid, works, self.host),
            "path": f"/{record.orcid}/activities",
        }
        return payload(caller, data, None)

    async def read_m(self, request: web.Request, caller: Caller, section: str) -> web.Response:
        return await self._read(request, caller, section, member=True)

    async def read_p(self, request: web.Request, caller: Caller, section: str) -> web.Response:
        return await self._read(request, caller, section, member=False)

    async def summary_m(self, request: web.Request, caller: Caller, section: str) -> web.Response:
        return await self._summary(request, caller, section, member=True)

    async def summary_p(self, request: web.Request, caller: Caller, section: str) -> web.Response:
        return await self._summary(request, caller, section, member=False)

    async def activities_member(self, request: web.Request, caller: Caller) -> Any:
        return await self._activities(request, caller, member=True)

    async def activities_public(self, request: web.Request, caller: Caller) -> Any:
        return await self._activities(request, caller, member=False)
