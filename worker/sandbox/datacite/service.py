"""The DataCite REST API (``/datacite/dois``) and the MDS API (``/datacite-mds``)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import json
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from worker.sandbox.datacite import mds, search
from worker.sandbox.datacite import xml as xml_input
from worker.sandbox.datacite.errors import (
    ALLOW_ON_405,
    JSONAPI,
    DataCiteError,
    bad_request,
    unprocessable,
)
from worker.sandbox.datacite.records import DOI_PATTERN, DoiRecord, now_iso, validation_errors
from worker.sandbox.ratelimit import FixedWindow, WindowSpec
from worker.sandbox.service import SandboxContext, mark_rate_limited

if TYPE_CHECKING:
    from worker.sandbox.accounts import DataCiteAccount

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_NOT_IN_XML = frozenset({"doi", "prefix", "event", "url", "contentUrl", "xml"})


def _random_suffix() -> str:
    chars = "".join(secrets.choice(_CROCKFORD) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


class DataCiteService:
    """DataCite: DOIs per repository account, with lupo's states, checks and answers."""

    name = "datacite"
    prefixes = ("/datacite", "/datacite-mds")

    def __init__(self, ctx: SandboxContext, limit: WindowSpec | None = None) -> None:
        self.ctx = ctx
        self.limiter = FixedWindow(limit or WindowSpec())
        self.records: dict[str, DoiRecord] = {}
        self._sequence = 0

    # -- the service protocol ------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/datacite/heartbeat", self.heartbeat),
            web.get("/datacite/dois", self.list_dois),
            web.post("/datacite/dois", self.create),
            web.get("/datacite/dois/{doi:.+}", self.show),
            web.put("/datacite/dois/{doi:.+}", self.update),
            web.patch("/datacite/dois/{doi:.+}", self.update),
            web.delete("/datacite/dois/{doi:.+}", self.delete),
            *mds.routes(self),
        ]

    def control_routes(self) -> list[web.RouteDef]:
        return []

    def snapshot(self) -> dict[str, Any]:
        ordered = sorted(self.records.values(), key=lambda r: r.sequence)
        return {"dois": [record.snapshot() for record in ordered]}

    def reset(self) -> None:
        self.records.clear()
        self.limiter.reset()

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.records.clear()
        for saved in snapshot.get("dois", []):
            self._sequence += 1
            record = DoiRecord.from_snapshot(saved, self._sequence)
            self.records[record.doi] = record

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    # -- plumbing ------------------------------------------------------------------------------

    def account(self, request: web.Request, *, required: bool) -> DataCiteAccount | None:
        """The repository the Basic credentials name; 401 when bad (or absent and required)."""
        header = request.headers.get("Authorization", "")
        if not header:
            if required:
                raise DataCiteError(401)
            return None
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            raise DataCiteError(401)
        try:
            user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise DataCiteError(401) from None
        for account in self.ctx.accounts.datacite:
            if account.repository_id.lower() == user.lower() and account.password == password:
                return account
        raise DataCiteError(401)

    def limit(self, request: web.Request) -> None:
        """DataCite's rate limit, here per repository account (per address when anonymous)."""
        key = request.remote or "anonymous"
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                key = base64.b64decode(header[6:]).decode("utf-8").split(":", 1)[0].lower()
        decision = self.limiter.take(key)
        if not decision.allowed:
            mark_rate_limited(request)
            raise DataCiteError(429, headers={"Retry-After": decision.retry_after_header})

    def serialize(self, record: DoiRecord, request: web.Request, *, detail: bool) -> dict[str, Any]:
        xml_b64 = None
        if detail and record.xml:
            xml_b64 = base64.b64encode(record.xml.encode("utf-8")).decode()
        publisher_object = request.query.get("publisher") == "true"
        client = record.client.lower()
        return {
            "id": record.doi,
            "type": "dois",
            "attributes": record.attributes(publisher_object=publisher_object, xml_b64=xml_b64),
            "relationships": {
                "client": {"data": {"id": client, "type": "clients"}},
                "provider": {"data": {"id": client.split(".")[0], "type": "providers"}},
                "media": {"data": []},
                "references": {"data": []},
                "citations": {"data": []},
                "parts": {"data": []},
                "partOf": {"data": []},
                "versions": {"data": []},
                "versionOf": {"data": []},
            },
        }

    def visible(self, record: DoiRecord, account: DataCiteAccount | None) -> bool:
        owner = account is not None and account.repository_id == record.client
        return owner or record.state == "findable"

    def find(self, doi: str) -> DoiRecord | None:
        return self.records.get(doi.strip().lower())

    def _respond(self, body: dict[str, Any], status: int = 200, **headers: str) -> web.Response:
        return web.Response(
            status=status, text=json.dumps(body), content_type=JSONAPI, headers=headers
        )

    # -- handlers ------------------------------------------------------------------------------

    async def heartbeat(self, _request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def list_dois(self, request: web.Request) -> web.Response:
        try:
            self.limit(request)
            account = self.account(request, required=False)
            visible = [r for r in self.records.values() if self.visible(r, account)]
            detail = request.query.get("detail") == "true"
            body = search.answer(
                visible,
                request.query,
                self.ctx.url(str(request.rel_url)),
                lambda r: self.serialize(r, request, detail=detail),
            )
            return self._respond(body)
        except DataCiteError as exc:
            return exc.response()

    async def show(self, request: web.Request) -> web.Response:
        try:
            self.limit(request)
            account = self.account(request, required=False)
            record = self.find(request.match_info["doi"])
            if record is None or not self.visible(record, account):
                raise DataCiteError(404)
            return self._respond({"data": self.serialize(record, request, detail=True)})
        except DataCiteError as exc:
            return exc.response()

    async def create(self, request: web.Request) -> web.Response:
        try:
            self.limit(request)
            account = self.account(request, required=True)
            assert account is not None
            attributes = await self._attributes(request)
            doi = attributes.get("doi")
            if not doi and attributes.get("prefix"):
                doi = f"{attributes['prefix']}/{_random_suffix()}"
            if not isinstance(doi, str) or not doi.strip():
                raise unprocessable([{"source": "doi", "title": "Can't be blank", "uid": ""}])
            doi = doi.strip().lower()
            if doi in self.records:
                if self.records[doi].client != account.repository_id:
                    raise DataCiteError(403)
                raise unprocessable(
                    [{"source": "doi", "title": "This DOI has already been taken", "uid": doi}]
                )
            record = self._write(account, doi, None, attributes)
            location = self.ctx.url(f"/datacite/dois/{record.doi}")
            body = {"data": self.serialize(record, request, detail=True)}
            return self._respond(body, 201, Location=location)
        except DataCiteError as exc:
            return exc.response()

    async def update(self, request: web.Request) -> web.Response:
        try:
            self.limit(request)
            account = self.account(request, required=True)
            assert account is not None
            attributes = await self._attributes(request)
            doi = request.match_info["doi"].strip().lower()
            existed = doi in self.records
            record = self.write_attributes(account, doi, attributes)
            body = {"data": self.serialize(record, request, detail=True)}
            return self._respond(body, 200 if existed else 201)
        except DataCiteError as exc:
            return exc.response()

    async def delete(self, request: web.Request) -> web.Response:
        try:
            self.limit(request)
            account = self.account(request, required=True)
            assert account is not None
            record = self.find(request.match_info["doi"])
            if record is None:
                raise DataCiteError(404)
            if record.client != account.repository_id:
                raise DataCiteError(403)
            if record.state != "draft":
                raise DataCiteError(405, headers={"Allow": ALLOW_ON_405})
            del self.records[record.doi]
            return web.Response(status=204)
        except DataCiteError as exc:
            return exc.response()

    # -- writing -------------------------------------------------------------------------------

    async def _attributes(self, request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            raise bad_request() from None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise bad_request()
        attributes = data.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise bad_request()
        return attributes

    def write_attributes(
        self, account: DataCiteAccount, doi: str, attributes: dict[str, Any]
    ) -> DoiRecord:
        """PUT semantics: create or update ``doi`` (403 when another repository owns it)."""
        doi = doi.strip().lower()
        existing = self.records.get(doi)
        if existing is not None and existing.client != account.repository_id:
            raise DataCiteError(403)
        return self._write(account, doi, existing, attributes)

    def _write(
        self,
        account: DataCiteAccount,
        doi: str,
        existing: DoiRecord | None,
        attributes: dict[str, Any],
    ) -> DoiRecord:
        """Create or update ``doi`` from the attributes; store it only when valid."""
        if existing is None:
            if doi.split("/", 1)[0] not in account.prefixes:
                raise DataCiteError(403)
            if not DOI_PATTERN.match(doi):
                raise unprocessable([{"source": "doi", "title": "Is invalid", "uid": doi}])
            record = DoiRecord(doi=doi, client=account.repository_id)
        else:
            record = replace(existing, metadata=copy.deepcopy(existing.metadata))
        schema_errors = self._merge(record, doi, attributes)
        before = record.state
        record.apply_event(attributes.get("event"))
        if record.state in {"registered", "findable"}:
            errors = validation_errors(record)
            if schema_errors is not None:
                errors = [e for e in errors if e["source"] == "url"] + schema_errors
            if errors:
                raise unprocessable(errors)
        if existing is None:
            self._sequence += 1
            record.sequence = self._sequence
        if existing is None or record.metadata != existing.metadata or record.state != before:
            record.updated = now_iso()
            record.metadata_version += 1 if existing is not None else 0
        self.records[doi] = record
        return record

    def _merge(
        self, record: DoiRecord, doi: str, attributes: dict[str, Any]
    ) -> list[dict[str, str]] | None:
        """Merge XML-derived then JSON attributes; XSD errors of the XML (None = no XML)."""
        xml_value = attributes.get("xml")
        if not isinstance(xml_value, str) or not xml_value.strip():
            record.merge(attributes)
            if set(attributes) - _NOT_IN_XML:
                record.xml = None  # DataCite regenerates its XML from the new attributes
            return None
        try:
            raw = xml_input.decode(xml_value, doi)
            root = xml_input.parse(raw, doi)
            from_xml = xml_input.to_attributes(raw, doi)
        except xml_input.XmlInputError as exc:
            raise unprocessable(exc.errors) from None
        errors = xml_input.schema_errors(root, doi)
        record.merge(from_xml)
        record.merge({k: v for k, v in attributes.items() if k != "xml"})
        record.xml = raw.decode("utf-8")
        return errors
