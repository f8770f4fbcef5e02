"""Crossref REST ``/members`` (+ ``/members/{id}``) and ``/journals`` (+ ``/journals/{issn}``),
derived from the works the sandbox knows (seeded and deposited), in Crossref's envelopes.

Shapes from CrossRef/rest-api-doc (``rest_api.md``: "members", "journals"; the list messages
``member-list``/``journal-list`` with ``items``, ``total-results``, ``items-per-page`` and
``query``; a single ``member``/``journal``; an unknown one is 404 ``Resource not found.``).
A member's works are those whose ``member`` is its id (every deposit here is member
``98765``, which also holds the sandbox roles' prefixes); a journal is a set of ISSNs with the
``container-title`` and publisher of its articles. Counts split current (this year and the two
before) from backfile, as Crossref does. Not simulated: coverage figures (all 0), ``flags``
beyond deposits, the ``/members/{id}/works`` and ``/journals/{issn}/works`` routes (use
``/works?filter=member:`` / ``issn:``), facets, ``sort``.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from aiohttp import web

from worker.sandbox.crossref.listing import failure, page_params

if TYPE_CHECKING:
    from collections.abc import Callable

    from worker.sandbox.crossref.rest import CrossrefRest

_ISSN = re.compile(r"\A\d{4}-?\d{3}[\dXx]\Z")
_WORD = re.compile(r"\w+", re.UNICODE)
_LIST_PARAMETERS = frozenset({"query", "rows", "offset", "mailto", "filter"})
_MEMBER_FILTERS = ("prefix",)
_CURRENT_YEARS = 3  # Crossref's "current": this year and the two before


def _issued_year(work: dict[str, Any]) -> int | None:
    parts = work.get("issued", {}).get("date-parts", [[None]])[0]
    return int(parts[0]) if parts and parts[0] is not None else None


def _counts(works: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, Any]]:
    """``counts`` and ``breakdowns`` of a set of works."""
    this_year = dt.datetime.now(dt.UTC).year
    years = [_issued_year(w) for w in works]
    current = sum(1 for y in years if y is not None and y > this_year - _CURRENT_YEARS)
    by_year = Counter(y for y in years if y is not None)
    counts = {
        "total-dois": len(works),
        "current-dois": current,
        "backfile-dois": len(works) - current,
    }
    breakdowns = {
        "dois-by-issued-year": [[year, n] for year, n in sorted(by_year.items(), reverse=True)]
    }
    return counts, breakdowns


def _coverage() -> dict[str, float]:
    names = ("affiliations", "abstracts", "orcids", "licenses", "references", "funders")
    return {f"{name}-{period}": 0.0 for name in names for period in ("current", "backfile")}


def _issn_key(value: str) -> str:
    """``12345678`` and ``1234-5678`` are the same ISSN."""
    compact = value.replace("-", "").upper()
    return f"{compact[:4]}-{compact[4:]}"


class Registry:
    """The member and journal routes of the sandbox's Crossref REST API."""

    def __init__(self, rest: CrossrefRest) -> None:
        self.rest = rest

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/crossref-api/members", self._guarded(self.list_members)),
            web.get("/crossref-api/members/{id}", self._guarded(self.one_member)),
            web.get("/crossref-api/journals", self._guarded(self.list_journals)),
            web.get("/crossref-api/journals/{issn}", self._guarded(self.one_journal)),
        ]

    def _guarded(
        self, handler: Callable[[web.Request], web.Response]
    ) -> Callable[[web.Request], Any]:
        """The works routes' rate limit and headers around ``handler``."""

        async def route(request: web.Request) -> web.StreamResponse:
            limited = self.rest.limited(request)
            return self.rest.with_headers(limited if limited is not None else handler(request))

        return route

    # -- members -------------------------------------------------------------------------------

    def members(self) -> list[dict[str, Any]]:
        works_by_member: dict[str, list[dict[str, Any]]] = {}
        for work in self.rest.works():
            works_by_member.setdefault(str(work.get("member", "")), []).append(work)
        roles = [p for a in self.rest.service.ctx.accounts.crossref for p in a.prefixes]
        members = []
        for member_id, works in sorted(works_by_member.items()):
            if not member_id.isdigit():
                continue
            publishers = Counter(w.get("publisher", "") for w in works if w.get("publisher"))
            name = publishers.most_common(1)[0][0] if publishers else f"Member {member_id}"
            prefixes = sorted({w.get("prefix", "") for w in works} | set(roles) - {""})
            members.append(self._member(int(member_id), name, prefixes, works))
        return members

    @staticmethod
    def _member(
        member_id: int, name: str, prefixes: list[str], works: list[dict[str, Any]]
    ) -> dict[str, Any]:
        counts, breakdowns = _counts(works)
        return {
            "last-status-check-time": int(time.time() * 1000),
            "primary-name": name,
            "counts": counts,
            "breakdowns": breakdowns,
            "prefixes": prefixes,
            "coverage": _coverage(),
            "prefix": [
                {
                    "value": prefix,
                    "name": name,
                    "public-references": False,
                    "reference-visibility": "limited",
                }
                for prefix in prefixes
            ],
            "id": member_id,
            "tokens": [word.lower() for word in _WORD.findall(name)],
            "flags": {
                "deposits": bool(works),
                "deposits-orcids-current": any(
                    p.get("ORCID") for w in works for p in w.get("author", [])
                ),
            },
            "location": "",
            "names": [name],
        }

    def list_members(self, request: web.Request) -> web.Response:
        checked = _list_request(request, _MEMBER_FILTERS)
        if isinstance(checked, web.Response):
            return checked
        words, filters, rows, offset = checked
        found = [
            m
            for m in self.members()
            if _matches(words, [m["primary-name"], *m["names"]])
            and all(value in m["prefixes"] for _name, value in filters)
        ]
        return _list("member-list", found, request, rows, offset)

    def one_member(self, request: web.Request) -> web.Response:
        wanted = request.match_info["id"]
        found = next((m for m in self.members() if str(m["id"]) == wanted), None)
        return _one("member", found)

    # -- journals ------------------------------------------------------------------------------

    def journals(self) -> list[dict[str, Any]]:
        groups: list[tuple[set[str], list[dict[str, Any]]]] = []
        for work in self.rest.works():
            issns = {_issn_key(i) for i in work.get("ISSN", []) if _ISSN.match(i)}
            if not issns or not work.get("container-title"):
                continue
            group = next((g for g in groups if g[0] & issns), None)
            if group is None:
                groups.append((issns, [work]))
            else:
                group[0].update(issns)
                group[1].append(work)
        return [self._journal(works) for _issns, works in groups]

    @staticmethod
    def _journal(works: list[dict[str, Any]]) -> dict[str, Any]:
        counts, breakdowns = _counts(works)
        issn_type: dict[str, str] = {}
        for work in works:
            for entry in work.get("issn-type", []):
                issn_type.setdefault(_issn_key(entry["value"]), entry.get("type", "print"))
            for issn in work.get("ISSN", []):
                issn_type.setdefault(_issn_key(issn), "print")
        first = works[0]
        return {
            "last-status-check-time": int(time.time() * 1000),
            "counts": counts,
            "breakdowns": breakdowns,
            "publisher": first.get("publisher", ""),
            "coverage": _coverage(),
            "title": first["container-title"][0],
            "subjects": [],
            "flags": {"deposits": True},
            "ISSN": sorted(issn_type),
            "issn-type": [{"value": v, "type": t} for v, t in sorted(issn_type.items())],
        }

    def list_journals(self, request: web.Request) -> web.Response:
        checked = _list_request(request, ())
        if isinstance(checked, web.Response):
            return checked
        words, _filters, rows, offset = checked
        found = [j for j in self.journals() if _matches(words, [j["title"], j["publisher"]])]
        return _list("journal-list", found, request, rows, offset)

    def one_journal(self, request: web.Request) -> web.Response:
        wanted = request.match_info["issn"]
        found = None
        if _ISSN.match(wanted):
            key = _issn_key(wanted)
            found = next((j for j in self.journals() if key in j["ISSN"]), None)
        return _one("journal", found)


def _list_request(
    request: web.Request, filters_allowed: tuple[str, ...]
) -> tuple[set[str], list[tuple[str, str]], int, int] | web.Response:
    """The query words, filters, rows and offset of a list request, or Crossref's 400."""
    params = request.query
    for name in params:
        if name not in _LIST_PARAMETERS or (name == "filter" and not filters_allowed):
            return failure("parameter-not-allowed", name, f"This route does not support {name}")
    paging = page_params(params)
    if isinstance(paging, web.Response):
        return paging
    filters: list[tuple[str, str]] = []
    for clause in filter(None, params.get("filter", "").split(",")):
        name, _, value = clause.partition(":")
        if name not in filters_allowed:
            return failure(
                "filter-not-available",
                name,
                f"Filter {name} specified but there is no such filter for this route. "
                f"Valid filters for this route are: {', '.join(filters_allowed)}",
            )
        filters.append((name, value))
    words = {w.lower() for w in _WORD.findall(params.get("query", ""))}
    return words, filters, paging[0], paging[1]


def _matches(words: set[str], texts: list[str]) -> bool:
    """Every query word appears in the texts (no query: everything matches)."""
    have = {w.lower() for text in texts for w in _WORD.findall(text or "")}
    return words <= have


def _list(
    kind: str, found: list[dict[str, Any]], request: web.Request, rows: int, offset: int
) -> web.Response:
    message = {
        "items-per-page": rows,
        "query": {"start-index": offset, "search-terms": request.query.get("query")},
        "total-results": len(found),
        "items": found[offset : offset + rows],
    }
    body = {"status": "ok", "message-type": kind, "message-version": "1.0.0", "message": message}
    return web.json_response(body)


def _one(kind: str, found: dict[str, Any] | None) -> web.Response:
    if found is None:
        return web.Response(status=404, text="Resource not found.", content_type="text/plain")
    body = {"status": "ok", "message-type": kind, "message-version": "1.0.0", "message": found}
    return web.json_response(body)
