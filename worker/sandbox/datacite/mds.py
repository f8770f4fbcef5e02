"""DataCite MDS basics (datacite/poodle): ``/metadata/{doi}`` and ``/doi/{doi}``, text/plain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from worker.sandbox.datacite.errors import DataCiteError
from worker.sandbox.datacite.records import now_iso

if TYPE_CHECKING:
    from worker.sandbox.accounts import DataCiteAccount
    from worker.sandbox.datacite.service import DataCiteService

_TEXTS = {
    401: "Bad credentials",
    403: "Access is denied",
    404: "DOI not found",
    429: "Too many requests",
}


def _text(status: int, text: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain", headers=headers)


def routes(service: DataCiteService) -> list[web.RouteDef]:
    handlers = _Mds(service)
    return [
        web.get("/datacite-mds/doi", handlers.list_dois),
        web.get("/datacite-mds/doi/{doi:.+}", handlers.get_url),
        web.put("/datacite-mds/doi/{doi:.+}", handlers.put_url),
        web.post("/datacite-mds/doi/{doi:.+}", handlers.put_url),
        web.get("/datacite-mds/metadata/{doi:.+}", handlers.get_metadata),
        web.put("/datacite-mds/metadata/{doi:.+}", handlers.put_metadata),
        web.post("/datacite-mds/metadata/{doi:.+}", handlers.put_metadata),
        web.delete("/datacite-mds/metadata/{doi:.+}", handlers.delete_metadata),
    ]


class _Mds:
    def __init__(self, service: DataCiteService) -> None:
        self.service = service

    def _account(self, request: web.Request) -> DataCiteAccount:
        self.service.limit(request)
        account = self.service.account(request, required=True)
        assert account is not None
        return account

    def _guard(self, error: DataCiteError) -> web.Response:
        headers = error.headers
        return _text(error.status, _TEXTS.get(error.status, error.errors[0]["title"]), **headers)

    async def list_dois(self, request: web.Request) -> web.Response:
        try:
            account = self._account(request)
        except DataCiteError as exc:
            return self._guard(exc)
        owned = [
            r.doi.upper()
            for r in self.service.records.values()
            if r.client == account.repository_id
        ]
        return _text(200 if owned else 204, "\n".join(owned))

    async def get_url(self, request: web.Request) -> web.Response:
        try:
            account = self._account(request)
        except DataCiteError as exc:
            return self._guard(exc)
        record = self.service.find(request.match_info["doi"])
        if record is None:
            return _text(404, _TEXTS[404])
        if record.client != account.repository_id:
            return _text(403, _TEXTS[403])
        return _text(200, record.url) if record.url else _text(204, "")

    async def put_url(self, request: web.Request) -> web.Response:
        try:
            account = self._account(request)
        except DataCiteError as exc:
            return self._guard(exc)
        doi = request.match_info["doi"].strip().lower()
        if request.content_type == "application/x-www-form-urlencoded":
            fields = {k: str(v) for k, v in (await request.post()).items()}
        else:
            lines = (await request.text()).splitlines()
            fields = dict(line.split("=", 1) for line in lines if "=" in line)
        url = fields.get("url", "").strip()
        if not url:
            return _text(400, "Parameter 'url' is required")
        record = self.service.find(doi)
        if record is None:
            return _text(404, _TEXTS[404])
        if record.client != account.repository_id:
            return _text(403, _TEXTS[403])
        try:
            self.service.write_attributes(account, record.doi, {"url": url, "event": "publish"})
        except DataCiteError as exc:
            return _text(422, "; ".join(error["title"] for error in exc.errors))
        return _text(201, "OK")

    async def get_metadata(self, request: web.Request) -> web.Response:
        try:
            account = self._account(request)
        except DataCiteError as exc:
            return self._guard(exc)
        record = self.service.find(request.match_info["doi"])
        if record is None or not record.xml:
            return _text(404, "DOI is unknown to MDS")
        if record.client != account.repository_id:
            return _text(403, _TEXTS[403])
        return web.Response(text=record.xml, content_type="application/xml", charset="utf-8")

    async def put_metadata(self, request: web.Request) -> web.Response:
        try:
            account = self._account(request)
        except DataCiteError as exc:
            return self._guard(exc)
        if request.content_type == "application/x-www-form-urlencoded":
            return _text(415, "Content type application/x-www-form-urlencoded is not supported")
        raw = await request.read()
        if not raw.lstrip().startswith(b"<"):
            return _text(415, "Metadata format not recognized")
        doi = request.match_info["doi"].strip().lower()
        existing = self.service.find(doi)
        if existing is not None and existing.client != account.repository_id:
            return _text(403, _TEXTS[403])
        try:
            record = self.service.write_attributes(account, doi, {"xml": raw.decode("utf-8")})
        except DataCiteError as exc:
            return _text(exc.status, "; ".join(e.get("title", "") for e in exc.errors))
        location = self.service.ctx.url(f"/datacite-mds/metadata/{record.doi}")
        return _text(201, f"OK ({record.doi.upper()})", Location=location)

    async def delete_metadata(self, request: web.Request) -> web.Response:
        try:
            account = self._account(request)
        except DataCiteError as exc:
            return self._guard(exc)
        record = self.service.find(request.match_info["doi"])
        if record is None:
            return _text(404, _TEXTS[404])
        if record.client != account.repository_id:
            return _text(403, _TEXTS[403])
        record.apply_event("hide")
        record.updated = now_iso()
        return _text(200, "OK")
