"""``GET /dois``: query, filters, page-number and cursor paging (lupo's list answer shape)."""

from __future__ import annotations

import base64
import math
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from worker.sandbox.datacite.errors import bad_request
from worker.sandbox.querystring import QuerySyntaxError, compile_query, flatten

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from worker.sandbox.datacite.records import DoiRecord

DEFAULT_SIZE = 25
MAX_SIZE = 1000
MAX_PAGED_RECORDS = 10_000
DEFAULT_FIELDS = (
    "doi",
    "titles.title",
    "creators.name",
    "creators.givenName",
    "creators.familyName",
    "contributors.name",
    "publisher",
    "descriptions.description",
    "subjects.subject",
)
ALIASES = {
    "id": "doi",
    "uid": "doi",
    "title": "titles.title",
    "creator": "creators.name",
    "publication_year": "publicationYear",
    "resource_type_id": "types.resourceTypeGeneral",
    "client_id": "client",
    "aasm_state": "state",
}
_SORTS: dict[str, tuple[Callable[[DoiRecord], Any], bool]] = {
    "created": (lambda r: r.sequence, False),
    "-created": (lambda r: r.sequence, True),
    "updated": (lambda r: (r.updated, r.sequence), False),
    "-updated": (lambda r: (r.updated, r.sequence), True),
    "name": (lambda r: r.doi, False),
    "-name": (lambda r: r.doi, True),
    "published": (lambda r: (r.published or "", r.sequence), False),
    "-published": (lambda r: (r.published or "", r.sequence), True),
}


def document(record: DoiRecord) -> dict[str, list[str]]:
    doc = flatten(record.metadata)
    doc["doi"] = [record.doi]
    doc["prefix"] = [record.prefix]
    doc["client"] = [record.client.lower()]
    doc["state"] = [record.state]
    return doc


def encode_cursor(record: DoiRecord) -> str:
    raw = f"{record.sequence},{record.doi}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The sequence after which the page starts (0 = from the start)."""
    if cursor in {"", "1"}:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(raw.split(",", 1)[0])
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Invalid cursor") from None


def _int(params: Mapping[str, str], key: str, default: int) -> int:
    value = params.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{key} must be an integer") from None


def select(records: list[DoiRecord], params: Mapping[str, str]) -> list[DoiRecord]:
    """Filter by ``query`` and the filter parameters."""
    predicates: list[Callable[[dict[str, list[str]]], bool]] = []
    if query := params.get("query", "").strip():
        try:
            predicates.append(compile_query(query, DEFAULT_FIELDS, ALIASES))
        except QuerySyntaxError as exc:
            raise bad_request(f"Invalid query: {exc}") from None
    filters = {
        "client-id": "client",
        "prefix": "prefix",
        "state": "state",
        "resource-type-id": "types.resourceTypeGeneral",
    }
    for parameter, field in filters.items():
        if wanted := params.get(parameter):
            options = frozenset(option.strip().lower() for option in wanted.split(","))
            predicates.append(_one_of(field, options))
    return [r for r in records if all(p(document(r)) for p in predicates)]


def _one_of(field: str, options: frozenset[str]) -> Callable[[dict[str, list[str]]], bool]:
    def matches(doc: dict[str, list[str]]) -> bool:
        return any(value.lower() in options for value in doc.get(field, []))

    return matches


def answer(
    records: list[DoiRecord],
    params: Mapping[str, str],
    self_url: str,
    serialize: Callable[[DoiRecord], dict[str, Any]],
) -> dict[str, Any]:
    """The list answer for already visible ``records``."""
    size = min(max(_int(params, "page[size]", DEFAULT_SIZE), 0), MAX_SIZE)
    selected = select(records, params)
    total = len(selected)
    meta: dict[str, Any] = {"total": total, "totalPages": math.ceil(total / size) if size else 0}
    links: dict[str, str] = {"self": self_url}
    kept = {k: v for k, v in params.items() if k not in {"page[number]", "page[cursor]"}}
    if "page[cursor]" in params:
        after = decode_cursor(params["page[cursor]"])
        ordered = sorted(selected, key=lambda r: (r.sequence, r.doi))
        page = [r for r in ordered if r.sequence > after][:size]
        if size and len(page) == size:
            query = {**kept, "page[cursor]": encode_cursor(page[-1]), "page[size]": str(size)}
            links["next"] = f"{self_url.split('?', maxsplit=1)[0]}?{urlencode(query)}"
    else:
        number = max(_int(params, "page[number]", 1), 1)
        if number * size > MAX_PAGED_RECORDS:
            raise bad_request(
                "Page-based pagination is limited to 10,000 records; "
                "use cursor-based pagination (page[cursor]) instead."
            )
        sort_key, descending = _SORTS.get(params.get("sort", "-created"), _SORTS["-created"])
        ordered = sorted(selected, key=sort_key, reverse=descending)
        page = ordered[(number - 1) * size : number * size]
        meta["page"] = number
        if number < meta["totalPages"]:
            query = {**kept, "page[number]": str(number + 1), "page[size]": str(size)}
            links["next"] = f"{self_url.split('?', maxsplit=1)[0]}?{urlencode(query)}"
    meta["states"] = _facet(Counter(r.state for r in selected))
    meta["prefixes"] = _facet(Counter(r.prefix for r in selected))
    meta["clients"] = _facet(Counter(r.client.lower() for r in selected))
    return {"data": [serialize(r) for r in page], "meta": meta, "links": links}


def _facet(counts: Counter[str]) -> list[dict[str, Any]]:
    return [{"id": key, "title": key, "count": count} for key, count in counts.most_common()]
