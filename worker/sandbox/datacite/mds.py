"""DataCite's MDS API (``/datacite-mds``), as lupo's ``Mds::`` controllers answer it.

Facts from datacite/lupo (``app/controllers/mds/*``, ``app/services/mds/*``) and datacite/poodle,
the MDS front end before it: every route needs Basic auth (401 ``Bad credentials`` with a
``WWW-Authenticate`` challenge); answers are text/plain, errors too.

- ``POST /metadata`` (DOI from the XML's ``<identifier>``), ``POST|PUT /metadata/{doi}`` (the
  path wins; a different DOI in the XML is 400 ``doi parameter does not match doi of
  resource``): stores the XML, validated against the XSD
  even for a draft (422), 201 ``OK (DOI)`` with ``Location``. Form bodies are 415.
- ``GET /metadata/{doi}``: the XML (204 when there is none); ``DELETE``: hides the DOI.
- ``POST /doi`` and ``PUT|POST /doi/{doi}`` with ``doi=...`` and ``url=...`` lines (or form
  fields): sets the URL and publishes, 201 ``OK``; ``GET /doi/{doi}``: the URL;
  ``GET /doi``: the account's DOIs; ``DELETE /doi/{doi}``: drafts only (405 otherwise).
- ``GET /media/{doi}``: ``type=url`` lines; ``POST /media/{doi}``: adds or replaces them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from aiohttp import web

from worker.sandbox.datacite import xml as xml_input
from worker.sandbox.datacite.errors import DataCiteError
from worker.sandbox.datacite.records import URL_PATTERN, now_iso

if TYPE_CHECKING:
    from worker.sandbox.accounts import DataCiteAccount
    from worker.sandbox.datacite.records import DoiRecord
    from worker.sandbox.datacite.service import DataCiteService

REALM = "mds.datacite.org"
UNKNOWN = "DOI is unknown to MDS"
NOT_FOUND = "DOI not found"
DENIED = "Access is denied"
MISMATCH = "doi parameter does not match doi of resource"
#: Bolognese's ``validate_doi``: a DOI, bare or as doi:/https://doi.org/ (lower-cased).
_DOI = re.compile(
    r"\A(?:https?://(?:dx\.)?(?:doi\.org|handle\.test\.datacite\.org)/)?(?:doi:)?"
    r"(10\.\d{4,5}/.+)\Z",
    re.IGNORECASE,
)
_MEDIA_TYPE = re.compile(r"\A[a-z\-]+/[\w\-.+]+\Z")
_UNAUTHORIZED = 401


class MdsError(Exception):
    """A plain-text MDS error answer."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


def _text(status: int, text: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain", headers=headers)


def validate_doi(value: str | None) -> str | None:
    match = _DOI.match((value or "").strip())
    return match.group(1).lower() if match else None


def routes(service: DataCiteService) -> list[web.RouteDef]:
    mds = _Mds(service)
    doi, media = "/datacite-mds/doi", "/datacite-mds/media/{doi:.+}"
    metadata = "/datacite-mds/metadata"
    return [
        web.get(doi, mds.handle(mds.list_dois)),
        web.post(doi, mds.handle(mds.put_url)),
        web.get(doi + "/{doi:.+}", mds.handle(mds.get_url)),
        web.put(doi + "/{doi:.+}", mds.handle(mds.put_url)),
        web.post(doi + "/{doi:.+}", mds.handle(mds.put_url)),
        web.delete(doi + "/{doi:.+}", mds.handle(mds.delete_doi)),
        web.post(metadata, mds.handle(mds.put_metadata)),
        web.get(metadata + "/{doi:.+}", mds.handle(mds.get_metadata)),
        web.put(metadata + "/{doi:.+}", mds.handle(mds.put_metadata)),
        web.post(metadata + "/{doi:.+}", mds.handle(mds.put_metadata)),
        web.delete(metadata + "/{doi:.+}", mds.handle(mds.delete_metadata)),
        web.get(media, mds.handle(mds.get_media)),
        web.post(media, mds.handle(mds.post_media)),
    ]


class _Mds:
    def __init__(self, service: DataCiteService) -> None:
        self.service = service

    def handle(self, method: _Handler) -> _Route:
        """Authenticate (and rate-limit) the request, run ``method``, map errors to text."""

        async def route(request: web.Request) -> web.StreamResponse:
            try:
                self.service.limit(request)
                if not request.headers.get("Authorization"):
                    raise MdsError(
                        401, "An Authentication object was not found in the SecurityContext"
                    )
                account = self.service.account(request, required=True)
                assert account is not None
                return await method(request, account)
            except MdsError as exc:
                challenge = exc.status == _UNAUTHORIZED
                headers = {"WWW-Authenticate": f'Basic realm="{REALM}"'} if challenge else {}
                return _text(exc.status, exc.text, **headers)
            except DataCiteError as exc:
                return self._from_rest(exc)

        return route

    @staticmethod
    def _from_rest(error: DataCiteError) -> web.Response:
        texts = {401: "Bad credentials", 403: DENIED, 404: NOT_FOUND, 429: "Too many requests"}
        text = texts.get(error.status) or error.errors[0].get("title", "Unprocessable entity")
        headers = dict(error.headers)
        if error.status == _UNAUTHORIZED:
            headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
        return _text(error.status, text, **headers)

    def _owned(self, account: DataCiteAccount, raw: str, missing: str) -> DoiRecord:
        record = self.service.find(validate_doi(raw) or "")
        if record is None:
            raise MdsError(404, missing)
        if record.client != account.repository_id:
            raise MdsError(403, DENIED)
        return record

    # -- /doi ----------------------------------------------------------------------------------

    async def list_dois(self, _request: web.Request, account: DataCiteAccount) -> web.Response:
        owned = sorted(
            (r for r in self.service.records.values() if r.client == account.repository_id),
            key=lambda r: r.sequence,
        )
        if not owned:
            return web.Response(status=204)
        return _text(200, "\n".join(r.doi.upper() for r in owned))

    async def get_url(self, request: web.Request, account: DataCiteAccount) -> web.Response:
        record = self._owned(account, request.match_info["doi"], NOT_FOUND)
        return _text(200, record.url) if record.url else web.Response(status=204)

    async def put_url(self, request: web.Request, account: DataCiteAccount) -> web.Response:
        path = request.match_info.get("doi")
        doi, url = await _doi_and_url(request, validate_doi(path) if path else None)
        if not URL_PATTERN.match(url) or any(c.isspace() for c in url):
            raise MdsError(400, "Not a valid HTTP(S) or FTP URL")
        existing = self.service.find(doi)
        if existing is not None and existing.client != account.repository_id:
            raise MdsError(403, DENIED)
        self.service.write_attributes(account, doi, {"url": url, "event": "publish"})
        return _text(201, "OK")

    async def delete_doi(self, request: web.Request, account: DataCiteAccount) -> web.Response:
        record = self._owned(account, request.match_info["doi"], NOT_FOUND)
        if record.state != "draft":
            raise MdsError(405, "Method not allowed")
        del self.service.records[record.doi]
        return _text(200, "OK")

    # -- /metadata -----------------------------------------------------------------------------

    async def get_metadata(self, request: web.Request, account: DataCiteAccount) -> web.Response:
        record = self._owned(account, request.match_info["doi"], UNKNOWN)
        if not record.xml:
            return web.Response(status=204)
        return web.Response(text=record.xml, content_type="application/xml", charset="utf-8")

    async def put_metadata(self, request: web.Request, account: DataCiteAccount) -> web.Response:
        if request.content_type == "application/x-www-form-urlencoded":
            raise MdsError(415, "Content type application/x-www-form-urlencoded is not supported")
        raw = await request.read()
        if not raw.lstrip().startswith(b"<"):
            raise MdsError(415, "Metadata format not recognized")
        doi = _Mds._metadata_doi(request.match_info.get("doi"), raw)
        try:
            root = xml_input.parse(raw, doi)
        except xml_input.XmlInputError as exc:
            raise MdsError(422, exc.errors[0]["title"]) from None
        errors = xml_input.schema_errors(root, doi)
        if errors:
            raise MdsError(422, errors[0]["title"])
        existing = self.service.find(doi)
        if existing is not None and existing.client != account.repository_id:
            raise MdsError(403, DENIED)
        attributes = {"xml": raw.decode("utf-8", "replace"), "event": "show"}
        record = self.service.write_attributes(account, doi, attributes)
        location = self.service.ctx.url(f"/datacite-mds/metadata/{record.doi}")
        return _text(201, f"OK ({record.doi.upper()})", Location=location)

    @staticmethod
    def _metadata_doi(path: str | None, raw: bytes) -> str:
        """The DOI a metadata upload is for: the path's, else the XML's; 400 when they
        disagree, 404 when there is none. (lupo mints a random DOI for a bare prefix and writes
        it into the XML; the sandbox does not mint.)"""
        body_doi = validate_doi(_identifier(raw))
        path_doi = validate_doi(path)
        if path_doi is not None:
            if body_doi is not None and body_doi != path_doi:
                raise MdsError(400, MISMATCH)
            return path_doi
        if body_doi is not None:
            return body_doi
        raise MdsError(404, UNKNOWN)

    async def delete_metadata(self, request: web.Request, account: DataCiteAccount) -> web.Response:
        record = self._owned(account, request.match_info["doi"], UNKNOWN)
        record.apply_event("hide")
        record.updated = now_iso()
        return _text(200, "OK")

    # -- /media --------------------------------------------------------------------------------

    async def get_media(self, request: web.Request, account: DataCiteAccount) -> web.Response:
        record = self._owned(account, request.match_info["doi"], UNKNOWN)
        if not record.media:
            raise MdsError(404, "No media for the DOI")
        return _text(200, "\n".join(f"{kind}={url}" for kind, url in record.media))

    async def post_media(self, request: web.Request, account: DataCiteAccount) -> web.Response:
        record = self._owned(account, request.match_info["doi"], UNKNOWN)
        pairs = [line.strip() for line in (await request.text()).splitlines() if line.strip()]
        if not pairs:
            raise MdsError(400, "Media type and URL missing")
        added: list[tuple[str, str]] = []
        for pair in pairs:
            kind, _, url = pair.partition("=")
            if not _MEDIA_TYPE.match(kind.strip()):
                raise MdsError(422, "Media type is invalid")
            if not URL_PATTERN.match(url.strip()):
                raise MdsError(422, "Url is invalid")
            added.append((kind.strip(), url.strip()))
        kinds = {kind for kind, _ in added}
        record.media = [m for m in record.media if m[0] not in kinds] + added
        record.updated = now_iso()
        return _text(200, "OK")


async def _doi_and_url(request: web.Request, path_doi: str | None) -> tuple[str, str]:
    """``doi=`` and ``url=`` from form fields or ``key=value`` lines (lupo's extract_url)."""
    if request.content_type == "application/x-www-form-urlencoded":
        fields = {k: str(v) for k, v in (await request.post()).items()}
    else:
        lines = (await request.text()).split("\n")
        fields = {}
        for line in lines:
            key, _, value = line.partition("=")
            fields.setdefault(key.strip(), unquote_plus(value.strip()))
    if not fields.get("doi"):
        raise MdsError(400, "param 'doi' required")
    body_doi = fields["doi"].strip()
    if path_doi is not None and body_doi.lower() != path_doi:
        raise MdsError(400, MISMATCH)
    if not fields.get("url"):
        raise MdsError(400, "param 'url' required")
    doi = validate_doi(body_doi)
    if doi is None:
        raise MdsError(404, NOT_FOUND)
    return doi, fields["url"].strip()


def _identifier(raw: bytes) -> str | None:
    """The XML's ``<identifier identifierType="DOI">`` (None when absent or unparsable)."""
    try:
        root = xml_input.parse(raw, "")
    except xml_input.XmlInputError:
        return None
    element = root.find("{*}identifier")
    return (element.text or "").strip() if element is not None else None


if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    _Handler = Callable[[web.Request, DataCiteAccount], Awaitable[web.StreamResponse]]
    _Route = Callable[[web.Request], Awaitable[web.StreamResponse]]
