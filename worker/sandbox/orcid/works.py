"""Works on the member API (read and write) and the public API (read only).

Member API, under ``/orcid-api/v3.0/{orcid}/``: ``POST work`` (201 + ``Location``), ``GET|PUT|
DELETE work/{put-code}``, ``GET works`` (summary grouped by external id), ``POST works`` (bulk of
≤ 100, 200 with one result per item in order), ``GET works/{pc1,pc2,…}`` (≤ 100). Public API,
under ``/orcid-pub/v3.0/{orcid}/``: the three reads, public works only.

The order of checks follows ORCID's stack: the bearer token (401), the body as Jersey reads it
(415, XML schema 9001, JSON 9047, enum values 9051: for a bulk, the whole request), then
``MemberV3ApiServiceDelegatorImpl``: the token's record (9017) and scope (9038), the put-code in
the URL against the body's (PUT, 9019), the work (9016), its source (9010); then
``WorkManagerImpl``: validation, the 10,000-work limit (9048), duplicates (9021).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from worker.sandbox.orcid import render, validation, xml
from worker.sandbox.orcid.api import Caller, endpoint, payload, read_document
from worker.sandbox.orcid.errors import OrcidApiError, api_error
from worker.sandbox.orcid.ids import duplicate_keys
from worker.sandbox.orcid.store import LIMITED, PRIVATE, PUBLIC, Activity, Record, Work, now_ms

if TYPE_CHECKING:
    from worker.sandbox.orcid.service import OrcidService

BULK_WRITE_MAX = 100
BULK_READ_MAX = 100
READ_LIMITED = ("/read-limited", "/activities/read-limited", "/activities/update")
UPDATE = ("/activities/update",)


class WorksApi:
    def __init__(self, service: OrcidService) -> None:
        self.service = service
        self.store = service.store

    def routes(self) -> list[web.RouteDef]:
        member = endpoint(self.service, member=True)
        public = endpoint(self.service, member=False)
        m, p = "/orcid-api/v3.0/{orcid}", "/orcid-pub/v3.0/{orcid}"
        return [
            web.post(m + "/work", member(self.create)),
            web.get(m + "/work/{put_code}", member(self.read_member)),
            web.put(m + "/work/{put_code}", member(self.update)),
            web.delete(m + "/work/{put_code}", member(self.delete)),
            web.get(m + "/works", member(self.summary_member)),
            web.post(m + "/works", member(self.create_bulk)),
            web.get(m + "/works/{codes}", member(self.read_bulk_member)),
            web.get(p + "/work/{put_code}", public(self.read_public)),
            web.get(p + "/works", public(self.summary_public)),
            web.get(p + "/works/{codes}", public(self.read_bulk_public)),
        ]

    # --- access ---------------------------------------------------------------------------------

    def record_for(self, caller: Caller, orcid: str, *, member: bool) -> Record:
        """The record, after the token's record check (401/9017); 404/9016 when unknown."""
        token = caller.token
        if member and token is not None and token.orcid is not None and token.orcid != orcid:
            raise api_error(9017, "Access token is for a different record")
        record = self.store.records.get(orcid)
        if record is None:
            raise api_error(9016)
        return record

    def writable_record(self, caller: Caller, orcid: str) -> Record:
        record = self.record_for(caller, orcid, member=True)
        token = caller.token
        if token is None or token.orcid != orcid or not caller.has_scope(*UPDATE):
            raise api_error(9038)
        return record

    @staticmethod
    def visible(work: Work | Activity, caller: Caller, *, member: bool) -> bool:
        if work.visibility == PUBLIC:
            return True
        if not member or caller.token is None:
            return False
        if caller.token.client_id == work.source_client_id:
            return True
        return (
            work.visibility == LIMITED
            and caller.token.orcid == work.orcid
            and caller.has_scope(*READ_LIMITED)
        )

    def check_visible(self, work: Work | Activity, caller: Caller, *, member: bool) -> None:
        if self.visible(work, caller, member=member):
            return
        if not member:
            raise api_error(9039)
        if work.visibility == PRIVATE:
            raise api_error(9013)
        raise api_error(9038)

    @staticmethod
    def put_code(raw: str) -> int:
        if not raw.isdigit():
            raise api_error(9016)
        return int(raw)

    def work_of(self, record: Record, raw_put_code: str) -> Work:
        work = record.works.get(self.put_code(raw_put_code))
        if work is None:
            raise api_error(9016)
        return work

    # --- writing ----------------------------------------------------------------------------------

    @staticmethod
    def duplicate_index(record: Record, client_id: str) -> dict[tuple[str, str, str], int]:
        """The record's duplicate keys from ``client_id``'s works, each with the first work's
        put-code. Built once per request, so a bulk of 100 reads the record once, not 100
        times (a 1,000-work backfill was quadratic in the sandbox, not at ORCID)."""
        index: dict[tuple[str, str, str], int] = {}
        for existing in record.works.values():
            if existing.source_client_id == client_id:
                for key in existing.duplicate_keys():
                    index.setdefault(key, existing.put_code)
        return index

    def new_work(
        self,
        record: Record,
        caller: Caller,
        parsed: validation.ParsedWork,
        index: dict[tuple[str, str, str], int],
    ) -> Work:
        """Check and store one new work (the body of a POST, or one bulk item); ``index`` (from
        :meth:`duplicate_index`) learns the new work's keys."""
        validation.validate_work(parsed, create=True, client_name=caller.client_name)
        if len(record.works) >= self.service.settings.max_works:
            raise api_error(9048)
        assert caller.token is not None
        keys = duplicate_keys(parsed.body)
        clashes = [index[key] for key in keys if key in index]
        if clashes:  # the first same-source work sharing a key, as ORCID names it
            raise api_error(9021, putCode=str(min(clashes)), client_name=caller.client_name)
        work = self.service.add_work(record, caller.token.client_id, parsed.body)
        for key in work.duplicate_keys():
            index.setdefault(key, work.put_code)
        return work

    async def create(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        # The body is read (415, 9001, 9047, 9051) before the delegator's checks, as in Jersey.
        parsed = validation.parse_work(await read_document(request))
        orcid = request.match_info["orcid"]
        record = self.writable_record(caller, orcid)
        assert caller.token is not None
        index = self.duplicate_index(record, caller.token.client_id)
        work = self.new_work(record, caller, parsed, index)
        location = f"{request.scheme}://{request.host}/orcid-api/v3.0/{orcid}/work/{work.put_code}"
        return web.Response(status=201, headers={"Location": location})

    async def update(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        parsed = validation.parse_work(await read_document(request))
        record = self.writable_record(caller, request.match_info["orcid"])
        url_code = request.match_info["put_code"]
        body_code = parsed.put_code
        if body_code is None or str(body_code).strip() != url_code:
            raise api_error(
                9019,
                urlPutCode=url_code,
                bodyPutCode="null" if body_code is None else str(body_code),
                client_name=caller.client_name,
            )
        work = self.work_of(record, url_code)
        assert caller.token is not None
        if work.source_client_id != caller.token.client_id:
            raise api_error(9010, activity="work")
        validation.validate_work(
            parsed, create=False, current_visibility=work.visibility, client_name=caller.client_name
        )
        keys = duplicate_keys(parsed.body)
        for other in record.works.values():
            if (
                other.put_code != work.put_code
                and other.source_client_id == work.source_client_id
                and other.duplicate_keys() & keys
            ):
                raise api_error(9021, putCode=str(other.put_code), client_name=caller.client_name)
        work.body = parsed.body
        work.modified_ms = now_ms()
        self.service.record_changed(record)
        return payload(caller, render.full_work(work, self.service.settings.host), xml.work)

    async def delete(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        record = self.writable_record(caller, request.match_info["orcid"])
        work = self.work_of(record, request.match_info["put_code"])
        assert caller.token is not None
        if work.source_client_id != caller.token.client_id:
            raise api_error(9010, activity="work")
        self.service.remove_work(record, work.put_code)
        return web.Response(status=204)

    async def create_bulk(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        document = await read_document(request, bulk=True)
        items = document.get("bulk") if isinstance(document, dict) else None
        if not isinstance(items, list) or not all(
            isinstance(item, dict) and set(item) == {"work"} for item in items
        ):
            raise api_error(9047, error='a "bulk" list of {"work": ...} elements is required')
        parsed = [validation.parse_work(item["work"]) for item in items]
        record = self.writable_record(caller, request.match_info["orcid"])
        if len(parsed) > BULK_WRITE_MAX:
            raise api_error(
                9006, f"You are allowed to add up to {BULK_WRITE_MAX} elements per request."
            )
        if len(record.works) + len(parsed) > self.service.settings.max_works:
            raise api_error(9048)
        results: list[dict[str, Any]] = []
        host = self.service.settings.host
        assert caller.token is not None
        index = self.duplicate_index(record, caller.token.client_id)
        for one in parsed:
            try:
                work = self.new_work(record, caller, one, index)
            except OrcidApiError as err:
                results.append({"error": err.body()})
            else:
                results.append({"work": render.full_work(work, host)})
        return payload(caller, {"bulk": results}, lambda data: xml.bulk(data["bulk"]))

    # --- reading ----------------------------------------------------------------------------------

    async def _read(self, request: web.Request, caller: Caller, *, member: bool) -> web.Response:
        record = self.record_for(caller, request.match_info["orcid"], member=member)
        work = self.work_of(record, request.match_info["put_code"])
        self.check_visible(work, caller, member=member)
        return payload(caller, render.full_work(work, self.service.settings.host), xml.work)

    async def _summary(self, request: web.Request, caller: Caller, *, member: bool) -> web.Response:
        record = self.record_for(caller, request.match_info["orcid"], member=member)
        works = [w for w in record.works.values() if self.visible(w, caller, member=member)]
        data = render.works_summary(record.orcid, works, self.service.settings.host)
        return payload(caller, data, xml.works)

    async def _read_bulk(
        self, request: web.Request, caller: Caller, *, member: bool
    ) -> web.Response:
        record = self.record_for(caller, request.match_info["orcid"], member=member)
        codes = request.match_info["codes"].split(",")
        if len(codes) > BULK_READ_MAX:
            raise api_error(9042, f"Too many put codes specified: maximum is {BULK_READ_MAX}")
        for code in codes:
            if not code.strip().isdigit():
                raise api_error(9006, f'For input string: "{code}"')
        results: list[dict[str, Any]] = []
        for code in codes:
            work = record.works.get(int(code))
            try:
                if work is None:
                    raise api_error(9034, f"'{code}' is not a valid put code")
                self.check_visible(work, caller, member=member)
            except OrcidApiError as err:
                results.append({"error": err.body()})
            else:
                results.append({"work": render.full_work(work, self.service.settings.host)})
        return payload(caller, {"bulk": results}, lambda data: xml.bulk(data["bulk"]))

    async def read_member(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        return await self._read(request, caller, member=True)

    async def read_public(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        return await self._read(request, caller, member=False)

    async def summary_member(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        return await self._summary(request, caller, member=True)

    async def summary_public(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        return await self._summary(request, caller, member=False)

    async def read_bulk_member(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        return await self._read_bulk(request, caller, member=True)

    async def read_bulk_public(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        return await self._read_bulk(request, caller, member=False)
