"""doi.org (``/doi``): redirects, content negotiation, handle API, doiRA; and the agencies'
content-negotiation services it redirects to (``/datacite-cn/{doi}`` for DataCite,
``/crossref-api/works/{doi}/transform`` for Crossref).

``Accept`` absent, ``text/html`` or ``*/*`` → 302 to the landing page. A type the DOI's
agency serves → 302 to that agency's service, which answers 200 with the rendering (the
service answers ``text/html`` with 303 to the landing page, as DataCite's does). Nothing
acceptable → 406; unknown DOI → 404. q-values are honoured; ties keep the header's order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from aiohttp import web

from worker.metadata.errors import MetadataError
from worker.sandbox import rendering
from worker.sandbox.rendering import SUPPORTED, Entry
from worker.sandbox.seeds import CROSSREF_WORKS, CROSSREF_XML, DATACITE_DOIS, SEED_TIMESTAMP

if TYPE_CHECKING:
    from worker.sandbox.crossref.service import CrossrefService
    from worker.sandbox.datacite.service import DataCiteService
    from worker.sandbox.service import SandboxContext

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "*/*", "text/*"})
_DOI_SAFE = "/:;()-._~*$=,!'@"
HTML = "html"


def parse_accept(header: str) -> list[tuple[str, dict[str, str], float]]:
    """Media ranges with their parameters and q, best first (ties in header order)."""
    entries: list[tuple[float, int, str, dict[str, str]]] = []
    for index, part in enumerate(header.split(",")):
        pieces = [piece.strip() for piece in part.split(";")]
        mime = pieces[0].lower()
        if not mime:
            continue
        params: dict[str, str] = {}
        quality = 1.0
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
            elif key:
                params[key] = value
        entries.append((-quality, index, mime, params))
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    return [(mime, params, -negative_q) for negative_q, _, mime, params in entries]


def choose(header: str | None, supported: tuple[str, ...]) -> tuple[str, dict[str, str]] | None:
    """``(HTML, {})`` for the landing page, a supported type, or None (406)."""
    if header is None or not header.strip():
        return HTML, {}
    for mime, params, quality in parse_accept(header):
        if quality <= 0:
            continue
        if mime in _HTML_TYPES:
            return HTML, {}
        if mime in supported:
            return mime, params
    return None


def doi_path(doi: str) -> str:
    return quote(doi, safe=_DOI_SAFE)


def _text(status: int, text: str, content_type: str = "text/plain") -> web.Response:
    return web.Response(status=status, text=text, content_type=content_type)


def _not_found_page(doi: str) -> web.Response:
    page = (
        "<html><head><title>Error: DOI Not Found</title></head><body>"
        f"<h1>DOI Not Found</h1><p>{doi}</p>"
        "<p>This DOI cannot be found in the DOI System.</p></body></html>"
    )
    return _text(404, page, "text/html")


class ResolverService:
    """doi.org, and the agencies' content negotiation, over every DOI the sandbox holds."""

    name = "doi"
    prefixes = ("/doi", "/datacite-cn")

    def __init__(
        self, ctx: SandboxContext, datacite: DataCiteService, crossref: CrossrefService
    ) -> None:
        self.ctx = ctx
        self.datacite = datacite
        self.crossref = crossref
        crossref.rest.agency_handler = self.crossref_agency
        crossref.rest.transform_handler = self.crossref_transform

    # -- the service protocol ------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/doi/api/handles/{doi:.+}", self.handle_api),
            web.get("/doi/doiRA/{doi:.+}", self.doi_ra),
            web.get("/doi/{doi:.+}", self.resolve),
            web.get("/datacite-cn/{path:.+}", self.datacite_service),
        ]

    def control_routes(self) -> list[web.RouteDef]:
        return []

    def snapshot(self) -> dict[str, Any]:
        seeded = [w["DOI"] for w in CROSSREF_WORKS] + list(DATACITE_DOIS)
        return {"seeded": seeded}

    def reset(self) -> None:
        return None

    def restore(self, snapshot: dict[str, Any]) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    # -- lookup --------------------------------------------------------------------------------

    def lookup(self, doi: str) -> Entry | None:
        """The registered DOI (DataCite drafts are not in the DOI system), or None."""
        key = doi.strip().lower()
        record = self.datacite.records.get(key)
        if record is not None and record.state != "draft":
            return Entry(
                key,
                "datacite",
                record.url or "",
                record.metadata,
                xml=record.xml,
                owner=record.client,
            )
        if key in DATACITE_DOIS:
            attributes = DATACITE_DOIS[key]
            return Entry(key, "datacite", attributes["url"], attributes, owner="seed")
        deposited = self.crossref.dois.get(key)
        if deposited is not None:
            return Entry(
                key,
                "crossref",
                deposited.url,
                message=deposited.message,
                xml=deposited.xml,
                owner=deposited.owner,
                timestamp=deposited.timestamp,
            )
        for message in CROSSREF_WORKS:
            if message["DOI"] == key:
                url = message["resource"]["primary"]["URL"]
                return Entry(
                    key,
                    "crossref",
                    url,
                    message=message,
                    xml=CROSSREF_XML[key],
                    owner="seed",
                    timestamp=SEED_TIMESTAMP,
                )
        return None

    # -- doi.org -------------------------------------------------------------------------------

    async def resolve(self, request: web.Request) -> web.StreamResponse:
        doi = unquote(request.match_info["doi"])
        entry = self.lookup(doi)
        if entry is None:
            return _not_found_page(doi)
        choice = choose(request.headers.get("Accept"), SUPPORTED[entry.agency])
        if choice is None:
            return _text(406, "Not Acceptable: no requested type is available for this DOI.")
        if choice[0] == HTML:
            raise web.HTTPFound(entry.url)
        if entry.agency == "datacite":
            raise web.HTTPFound(self.ctx.url(f"/datacite-cn/{doi_path(entry.doi)}"))
        raise web.HTTPFound(self.ctx.url(f"/crossref-api/works/{doi_path(entry.doi)}/transform"))

    async def handle_api(self, request: web.Request) -> web.Response:
        doi = unquote(request.match_info["doi"])
        entry = self.lookup(doi)
        if entry is None:
            return web.json_response({"responseCode": 100, "handle": doi}, status=404)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        prefix = entry.doi.split("/", 1)[0]
        values: list[dict[str, Any]] = [
            {
                "index": 1,
                "type": "URL",
                "data": {"format": "string", "value": entry.url},
                "ttl": 86400,
                "timestamp": stamp,
            },
            {
                "index": 100,
                "type": "HS_ADMIN",
                "data": {
                    "format": "admin",
                    "value": {
                        "handle": f"0.na/{prefix}",
                        "index": 200,
                        "permissions": "111111110010",
                    },
                },
                "ttl": 86400,
                "timestamp": stamp,
            },
        ]
        wanted = request.query.getall("type", [])
        if wanted:
            values = [value for value in values if value["type"] in wanted]
        if not values:
            return web.json_response({"responseCode": 200, "handle": doi, "values": []})
        return web.json_response({"responseCode": 1, "handle": doi, "values": values})

    async def doi_ra(self, request: web.Request) -> web.Response:
        answers = []
        for doi in unquote(request.match_info["doi"]).split(","):
            entry = self.lookup(doi)
            if entry is not None:
                answers.append({"DOI": doi, "RA": entry.agency_label})
            elif doi.startswith("10.") and "/" in doi:
                answers.append({"DOI": doi, "status": "DOI does not exist"})
            else:
                answers.append({"DOI": doi, "status": "Invalid DOI"})
        return web.json_response(answers)

    # -- the agencies' services ----------------------------------------------------------------

    def _serve(
        self, request: web.Request, entry: Entry, path_mime: str | None
    ) -> web.StreamResponse:
        header = path_mime or request.headers.get("Accept")
        choice = choose(header, SUPPORTED[entry.agency])
        if choice is None:
            return _text(406, "The content type is not recognized.")
        mime, params = choice
        if mime == HTML:
            raise web.HTTPSeeOther(entry.url)
        try:
            body, content_type = rendering.render(entry, mime, params)
        except MetadataError:
            return web.Response(status=204)  # "no metadata" for this format
        response = web.Response(status=200, text=body)
        response.headers["Content-Type"] = content_type
        response.headers["Link"] = f'<https://doi.org/{doi_path(entry.doi)}>; rel="canonical"'
        return response

    async def datacite_service(self, request: web.Request) -> web.StreamResponse:
        path = unquote(request.match_info["path"])
        mime: str | None = None
        if not path.startswith("10."):
            mime, _, path = path.partition("/10.")
            path = "10." + path
        entry = self.lookup(path)
        if entry is None or entry.agency != "datacite":
            return _text(404, "The resource you are looking for doesn't exist.")
        return self._serve(request, entry, mime)

    async def crossref_transform(
        self, request: web.Request, doi: str, mime: str
    ) -> web.StreamResponse:
        entry = self.lookup(unquote(doi))
        if entry is None or entry.agency != "crossref":
            return _text(404, "Resource not found.")
        return self._serve(request, entry, unquote(mime) or None)

    async def crossref_agency(self, request: web.Request, doi: str) -> web.StreamResponse:
        del request
        entry = self.lookup(unquote(doi))
        if entry is None:
            return _text(404, "Resource not found.")
        body = {
            "status": "ok",
            "message-type": "work-agency",
            "message-version": "1.0.0",
            "message": {
                "DOI": entry.doi,
                "agency": {"id": entry.agency, "label": entry.agency_label},
            },
        }
        return web.json_response(body)
