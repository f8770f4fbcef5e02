"""Crossref REST ``/works`` over deposited and seeded works (CrossRef/rest-api-doc)."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from worker.sandbox.crossref.listing import failure, page_params
from worker.sandbox.seeds import CROSSREF_WORKS
from worker.sandbox.service import mark_rate_limited

if TYPE_CHECKING:
    from worker.sandbox.crossref.service import CrossrefService

AgencyHandler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
TransformHandler = Callable[[web.Request, str, str], Awaitable[web.StreamResponse]]

_PARAMETERS = frozenset(
    {
        "query",
        "filter",
        "rows",
        "offset",
        "cursor",
        "select",
        "sort",
        "order",
        "sample",
        "facet",
        "mailto",
    }
)
_FIELD_QUERIES = frozenset(
    {
        "query.bibliographic",
        "query.author",
        "query.container-title",
        "query.affiliation",
        "query.contributor",
        "query.editor",
        "query.publisher-name",
        "query.funder-name",
    }
)
_FILTERS = (
    "type",
    "prefix",
    "member",
    "doi",
    "orcid",
    "issn",
    "isbn",
    "has-orcid",
    "has-abstract",
    "has-funder",
    "from-pub-date",
    "until-pub-date",
    "container-title",
)
_WORD = re.compile(r"[\w]+", re.UNICODE)


def _words(values: list[Any]) -> set[str]:
    words: set[str] = set()
    for value in values:
        if value:
            words.update(_WORD.findall(str(value).lower()))
    return words


def _people(message: dict[str, Any], roles: tuple[str, ...]) -> list[Any]:
    values: list[Any] = []
    for role in roles:
        for person in message.get(role, []):
            values += [
                person.get("given"),
                person.get("family"),
                person.get("name"),
                person.get("ORCID"),
            ]
    return values


def _field_text(message: dict[str, Any], field: str) -> set[str]:
    issued = message.get("issued", {}).get("date-parts", [[None]])[0][0]
    bibliographic = (
        message.get("title", [])
        + message.get("subtitle", [])
        + message.get("container-title", [])
        + _people(message, ("author", "editor"))
        + [
            issued,
            message.get("DOI"),
            message.get("volume"),
            message.get("issue"),
            message.get("page"),
        ]
        + message.get("ISSN", [])
    )
    by_field: dict[str, list[Any]] = {
        "query": [*bibliographic, message.get("publisher"), message.get("abstract")],
        "query.bibliographic": bibliographic,
        "query.author": _people(message, ("author",)),
        "query.editor": _people(message, ("editor",)),
        "query.contributor": _people(message, ("author", "editor", "chair", "translator")),
        "query.container-title": message.get("container-title", []),
        "query.publisher-name": [message.get("publisher")],
        "query.funder-name": [f.get("name") for f in message.get("funder", [])],
        "query.affiliation": [
            a.get("name") for p in message.get("author", []) for a in p.get("affiliation", [])
        ],
    }
    return _words(by_field[field])


def _date_key(message: dict[str, Any]) -> str:
    parts = message.get("issued", {}).get("date-parts", [[None]])[0]
    if not parts or parts[0] is None:
        return ""
    return "-".join(f"{int(p):02d}" for p in parts)


def _matches_filter(message: dict[str, Any], name: str, value: str) -> bool:
    lowered = value.lower()
    checks: dict[str, Callable[[], bool]] = {
        "type": lambda: message.get("type") == value,
        "prefix": lambda: message.get("prefix") == value,
        "member": lambda: message.get("member") == value,
        "doi": lambda: message.get("DOI", "").lower() == lowered.removeprefix("https://doi.org/"),
        "orcid": lambda: any(
            lowered in (p.get("ORCID") or "").lower() for p in message.get("author", [])
        ),
        "issn": lambda: value in message.get("ISSN", []),
        "isbn": lambda: value in message.get("ISBN", []),
        "has-orcid": lambda: (
            any(p.get("ORCID") for p in message.get("author", [])) == (lowered == "true")
        ),
        "has-abstract": lambda: bool(message.get("abstract")) == (lowered == "true"),
        "has-funder": lambda: bool(message.get("funder")) == (lowered == "true"),
        "from-pub-date": lambda: _date_key(message)[: len(value)] >= value,
        "until-pub-date": lambda: "" < _date_key(message)[: len(value)] <= value,
        "container-title": lambda: (
            lowered in (t.lower() for t in message.get("container-title", []))
        ),
    }
    return checks[name]()


class CrossrefRest:
    """``GET /crossref-api/works`` (search) and ``/works/{doi}``."""

    def __init__(self, service: CrossrefService) -> None:
        self.service = service
        #: ``/works/{doi}/agency`` and ``/works/{doi}/transform[/{type}]``, set by the resolver.
        self.agency_handler: AgencyHandler | None = None
        self.transform_handler: TransformHandler | None = None

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/crossref-api/works", self.list_works),
            web.get("/crossref-api/works/{rest:.+}", self.one_work),
        ]

    def works(self) -> list[dict[str, Any]]:
        """Every work the REST API knows: seeded, then deposited (deposit order)."""
        deposited = sorted(self.service.dois.values(), key=lambda d: d.created)
        return [*CROSSREF_WORKS, *(d.message for d in deposited)]

    def work(self, doi: str) -> dict[str, Any] | None:
        key = doi.strip().lower()
        if key in self.service.dois:
            return self.service.dois[key].message
        return next((w for w in CROSSREF_WORKS if w["DOI"].lower() == key), None)

    def limited(self, request: web.Request) -> web.StreamResponse | None:
        key = request.query.get("mailto") or request.remote or "anonymous"
        decision = self.service.api_limiter.take(key)
        if decision.allowed:
            return None
        mark_rate_limited(request)
        response = web.Response(status=429, text="Too Many Requests", content_type="text/plain")
        response.headers["Retry-After"] = decision.retry_after_header
        return response

    def with_headers(self, response: web.StreamResponse) -> web.StreamResponse:
        spec = self.service.api_limiter.spec
        response.headers["X-Rate-Limit-Limit"] = str(spec.limit)
        response.headers["X-Rate-Limit-Interval"] = f"{spec.window_seconds:g}s"
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    async def one_work(self, request: web.Request) -> web.StreamResponse:
        limited = self.limited(request)
        if limited is not None:
            return self.with_headers(limited)
        rest = request.match_info["rest"]
        if rest.endswith("/agency") and self.agency_handler is not None:
            return self.with_headers(
                await self.agency_handler(request, rest.removesuffix("/agency"))
            )
        if "/transform" in rest and self.transform_handler is not None:
            doi, _, mime = rest.partition("/transform")
            return self.with_headers(await self.transform_handler(request, doi, mime.lstrip("/")))
        message = self.work(rest)
        if message is None:
            response = web.Response(
                status=404, text="Resource not found.", content_type="text/plain"
            )
            return self.with_headers(response)
        body = {
            "status": "ok",
            "message-type": "work",
            "message-version": "1.0.0",
            "message": message,
        }
        return self.with_headers(web.json_response(body))

    async def list_works(self, request: web.Request) -> web.StreamResponse:
        limited = self.limited(request)
        if limited is not None:
            return self.with_headers(limited)
        return self.with_headers(self._list(request))

    def _list(self, request: web.Request) -> web.Response:
        params = request.query
        for name in params:
            if name not in _PARAMETERS and name not in _FIELD_QUERIES:
                return failure("parameter-not-allowed", name, f"This route does not support {name}")
        paging = page_params(params)
        if isinstance(paging, web.Response):
            return paging
        rows, offset = paging
        filters: list[tuple[str, str]] = []
        for clause in filter(None, params.get("filter", "").split(",")):
            name, _, value = clause.partition(":")
            if name not in _FILTERS:
                return failure(
                    "filter-not-available",
                    name,
                    f"Filter {name} specified but there is no such filter for this route. "
                    f"Valid filters for this route are: {', '.join(_FILTERS)}",
                )
            filters.append((name, value))
        scored = self._search(params, filters)
        cursor = params.get("cursor")
        if cursor is not None:
            start = 0 if cursor == "*" else _decode_cursor(cursor)
            if start is None:
                return failure(
                    "cursor-not-valid", cursor, f"Cursor specified as {cursor} is not valid"
                )
        else:
            start = offset
        page = scored[start : start + rows]
        items = [self._select(copy.deepcopy(m), score, params.get("select")) for m, score in page]
        query_terms = params.get("query")
        message: dict[str, Any] = {
            "facets": {},
            "total-results": len(scored),
            "items": items,
            "items-per-page": rows,
            "query": {"start-index": start, "search-terms": query_terms},
        }
        if cursor is not None:
            message["next-cursor"] = _encode_cursor(start + len(page))
        body = {
            "status": "ok",
            "message-type": "work-list",
            "message-version": "1.0.0",
            "message": message,
        }
        return web.json_response(body)

    def _search(
        self, params: Any, filters: list[tuple[str, str]]
    ) -> list[tuple[dict[str, Any], float]]:
        queries = {
            k: v for k, v in params.items() if (k == "query" or k in _FIELD_QUERIES) and v.strip()
        }
        scored: list[tuple[dict[str, Any], float]] = []
        for message in self.works():
            if not all(_matches_filter(message, name, value) for name, value in filters):
                continue
            score = 1.0
            if queries:
                score = 0.0
                for field, text in queries.items():
                    wanted = _words([text])
                    score += len(wanted & _field_text(message, field))
                if score == 0:
                    continue
            scored.append((message, score))
        sort = params.get("sort", "score" if queries else "deposited")
        descending = params.get("order", "desc") == "desc"
        keys: dict[str, Callable[[tuple[dict[str, Any], float]], Any]] = {
            "score": lambda item: item[1],
            "relevance": lambda item: item[1],
            "deposited": lambda item: item[0].get("deposited", {}).get("timestamp", 0),
            "created": lambda item: item[0].get("created", {}).get("timestamp", 0),
            "updated": lambda item: item[0].get("deposited", {}).get("timestamp", 0),
            "indexed": lambda item: item[0].get("indexed", {}).get("timestamp", 0),
            "published": lambda item: _date_key(item[0]),
            "issued": lambda item: _date_key(item[0]),
            "is-referenced-by-count": lambda item: item[0].get("is-referenced-by-count", 0),
        }
        scored.sort(key=keys.get(sort, keys["score"]), reverse=descending)
        return scored

    @staticmethod
    def _select(message: dict[str, Any], score: float, select: str | None) -> dict[str, Any]:
        message["score"] = score
        if not select:
            return message
        wanted = {name.strip() for name in select.split(",")}
        return {key: value for key, value in message.items() if key in wanted}


def _encode_cursor(position: int) -> str:
    raw = json.dumps({"position": position}).encode()
    return "DnF1ZXJ5" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int | None:
    if not cursor.startswith("DnF1ZXJ5"):
        return None
    encoded = cursor[8:]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        position = json.loads(raw)["position"]
    except (ValueError, KeyError, TypeError):
        return None
    return position if isinstance(position, int) and position >= 0 else None
