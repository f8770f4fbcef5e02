"""Record search: ``/v3.0/search/``, ``/expanded-search/`` and ``/csv-search/`` (API_FACTS §1.10).

Served on the public API host (anonymous, or with a ``/read-public`` token) and the member API
host. ``q`` takes a subset of Solr's syntax over each record's public data, matched
case-insensitively (``worker.sandbox.querystring`` parses it): ``field:value``,
``field:"a phrase"``, free words (any field), ``AND``/``OR``/``NOT``, parentheses and ``*``
wildcards. Fields: ``orcid``, ``given-names``, ``family-name``, ``given-and-family-names``
(also without diacritics), ``credit-name``, ``email``, ``affiliation-org-name``,
``ror-org-id`` (the bare id or the quoted URL), ``work-titles``, ``digital-object-ids``,
``doi-self``, ``<type>-self``, ``<type>-part-of``, ``external-id-reference``, ``text``.
``rows`` 0 to 1000 (default 1000; else 400/9012); ``start`` ≤ 10,000 without credentials
(else 400/9043). Hits come in the order the records were created.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from typing import TYPE_CHECKING, Any

from aiohttp import web

from worker.sandbox.orcid import ids, render, xml
from worker.sandbox.orcid.api import Caller, endpoint, payload
from worker.sandbox.orcid.errors import api_error
from worker.sandbox.orcid.store import PUBLIC, Record
from worker.sandbox.querystring import QuerySyntaxError, compile_query

if TYPE_CHECKING:
    from worker.sandbox.orcid.service import OrcidService

MAX_ROWS = 1000
MAX_ANONYMOUS_START = 10_000
CSV_FIELDS = (
    "orcid",
    "email",
    "given-names",
    "family-name",
    "given-and-family-names",
    "current-institution-affiliation-name",
    "past-institution-affiliation-name",
    "credit-name",
    "other-names",
)
DEFAULT_FL = "orcid,given-names,family-name"
_FIELDS = (
    "orcid",
    "given-names",
    "family-name",
    "given-and-family-names",
    "credit-name",
    "other-names",
    "email",
    "affiliation-org-name",
    "ror-org-id",
    "work-titles",
    "digital-object-ids",
    "external-id-reference",
)


def fold(text: str) -> str:
    """``Gómez`` → ``Gomez``: Solr's ASCII folding for name fields."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _both(text: str | None) -> list[str]:
    if not text:
        return []
    folded = fold(text)
    return [text] if folded == text else [text, folded]


def document(record: Record) -> dict[str, list[str]]:
    """The record's public data as search fields."""
    doc: dict[str, list[str]] = {
        "orcid": [record.orcid],
        "given-names": _both(record.given_names),
        "family-name": _both(record.family_name),
        "given-and-family-names": _both(record.name),
        "email": [record.email] if record.email else [],
        "affiliation-org-name": [record.affiliation] if record.affiliation else [],
        "ror-org-id": [record.ror, record.ror.rstrip("/").rsplit("/", 1)[-1]] if record.ror else [],
    }
    for work in record.works.values():
        if work.visibility != PUBLIC:
            continue
        doc.setdefault("work-titles", []).append(work.title)
        for ext in work.external_ids():
            id_type = str(ext.get("external-id-type") or "").lower()
            value = ids.normalise_external_id(id_type, str(ext.get("external-id-value") or ""))
            relationship = ext.get("external-id-relationship") or "self"
            doc.setdefault(f"{id_type}-{relationship}", []).append(value)
            doc.setdefault("external-id-reference", []).append(value)
            if id_type == "doi":
                doc.setdefault("digital-object-ids", []).append(value)
    doc["text"] = [value for field in _FIELDS for value in doc.get(field, [])]
    return doc


def _integer(raw: str | None, default: int) -> int | None:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return None


class SearchApi:
    def __init__(self, service: OrcidService) -> None:
        self.service = service
        self.store = service.store

    def routes(self) -> list[web.RouteDef]:
        routes = []
        for host, member in (("/orcid-pub", False), ("/orcid-api", True)):
            wrap = endpoint(self.service, member=member)
            csv_wrap = endpoint(self.service, member=member, produced=("text/csv",))
            for name, handler in (("search", self.search), ("expanded-search", self.expanded)):
                routes.append(web.get(f"{host}/v3.0/{name}", wrap(handler)))
                routes.append(web.get(f"{host}/v3.0/{name}/", wrap(handler)))
            routes.append(web.get(f"{host}/v3.0/csv-search", csv_wrap(self.csv)))
            routes.append(web.get(f"{host}/v3.0/csv-search/", csv_wrap(self.csv)))
        return routes

    def hits(self, request: web.Request, caller: Caller) -> tuple[list[Record], int]:
        """The page of matching records, and how many match in all."""
        query = request.query
        rows = _integer(query.get("rows"), MAX_ROWS)
        if rows is None or not 0 <= rows <= MAX_ROWS:
            raise api_error(9012, f"The rows parameter must be an integer between 0 and {MAX_ROWS}")
        start = _integer(query.get("start"), 0)
        limit = MAX_ANONYMOUS_START if caller.token is None else None
        if start is None or start < 0 or (limit is not None and start > limit):
            raise api_error(9043)
        q = query.get("q", "").strip()
        if not q:
            raise api_error(9006, "The q parameter is required")
        try:
            predicate = compile_query(q, ("text",))
        except QuerySyntaxError as exc:
            raise api_error(9006, f"Cannot parse '{q}': {exc}") from None
        found = [r for r in self.store.records.values() if predicate(document(r))]
        return found[start : start + rows], len(found)

    async def search(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        page, total = self.hits(request, caller)
        host = self.service.settings.host
        data: dict[str, Any] = {
            "result": [{"orcid-identifier": render.orcid_identifier(r.orcid, host)} for r in page],
            "num-found": total,
        }
        return payload(caller, data, xml.search)

    async def expanded(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        page, total = self.hits(request, caller)
        results = [
            {
                "orcid-id": r.orcid,
                "given-names": r.given_names,
                "family-names": r.family_name,
                "credit-name": None,
                "other-name": [],
                "email": [r.email] if r.email else [],
                "institution-name": [r.affiliation] if r.affiliation else [],
            }
            for r in page
        ]
        data = {"expanded-result": results or None, "num-found": total}
        return payload(caller, data, xml.expanded_search)

    async def csv(self, request: web.Request, caller: Caller) -> web.StreamResponse:
        fields = [f.strip() for f in request.query.get("fl", DEFAULT_FL).split(",") if f.strip()]
        unknown = [f for f in fields if f not in CSV_FIELDS]
        if unknown:
            raise api_error(9006, f"Unknown fl field(s): {', '.join(unknown)}")
        page, _total = self.hits(request, caller)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for record in page:
            values = {
                "orcid": record.orcid,
                "email": record.email or "",
                "given-names": record.given_names or "",
                "family-name": record.family_name or "",
                "given-and-family-names": record.name or "",
                "current-institution-affiliation-name": record.affiliation or "",
            }
            writer.writerow([values.get(field, "") for field in fields])
        return web.Response(text=out.getvalue(), content_type="text/csv", charset="UTF-8")
