"""The member API calls of the other sections and of the group-id registry: HTTP only.

They go through :class:`~worker.orcid.client.MemberClient`'s plumbing (the shared rate limiter,
ORCID's typed errors, call recording, the token only in the header).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from worker.http import TransportError, read_json, reading
from worker.orcid.client import WRITE_HEADERS, MemberClient, OrcidError, self_ids

GROUP_IDS = "/v3.0/group-id-record"


@dataclass(frozen=True)
class ItemSummary:
    """One item of a section as the plural read shows it."""

    put_code: int
    source_client_id: str | None
    self_ids: frozenset[tuple[str, str]]


def _put_code(location: str, what: str, api: MemberClient, status: int) -> int:
    tail = location.rstrip("/").rsplit("/", 1)[-1]
    if not tail.isdigit():
        # It may exist: the caller treats this like a lost answer and reads first.
        raise TransportError(
            f"orcid POST {what} answered {status} without a put-code in Location",
            service=api.service,
        )
    return int(tail)


def add(api: MemberClient, orcid: str, token: str, section: str, body: dict[str, Any]) -> int:
    """POST an item; its new put-code (from ``Location``)."""
    path = f"/v3.0/{orcid}/{section}"
    response = api.request(
        "POST", path, data=json.dumps(body), headers=api.bearer(token, WRITE_HEADERS)
    )
    return _put_code(response.headers.get("Location", ""), path, api, response.status_code)


def update(
    api: MemberClient, orcid: str, token: str, section: str, put_code: int, body: dict[str, Any]
) -> None:
    api.request(
        "PUT",
        f"/v3.0/{orcid}/{section}/{put_code}",
        data=json.dumps({**body, "put-code": put_code}),
        headers=api.bearer(token, WRITE_HEADERS),
    )


def delete(api: MemberClient, orcid: str, token: str, section: str, put_code: int) -> None:
    api.request("DELETE", f"/v3.0/{orcid}/{section}/{put_code}", headers=api.bearer(token))


def _summaries(data: Any, key: str) -> Iterator[dict[str, Any]]:
    """Every ``<section>-summary`` however the plural answer groups them (affiliation groups,
    funding groups, peer-review groups within groups)."""
    if isinstance(data, list):
        for entry in data:
            yield from _summaries(entry, key)
    elif isinstance(data, dict):
        for name, value in data.items():
            if name == key:
                yield from value if isinstance(value, list) else [value]
            else:
                yield from _summaries(value, key)


def summaries(api: MemberClient, orcid: str, token: str, section: str) -> list[ItemSummary]:
    """The section's items this token may see (ours include private ones)."""
    response = api.request("GET", f"/v3.0/{orcid}/{section}s", headers=api.bearer(token))
    return parse_summaries(read_json(response, api.service), section)


def parse_summaries(data: Any, section: str) -> list[ItemSummary]:
    """The items of ``section`` in its plural answer (``GET /<section>s``, or that section's
    entry in a whole record's ``activities-summary``)."""
    found = []
    with reading("orcid", f"a {section} list"):
        for item in _summaries(data, f"{section}-summary"):
            source = (item.get("source") or {}).get("source-client-id") or {}
            ext = (item.get("external-ids") or {}).get("external-id") or []
            found.append(
                ItemSummary(
                    put_code=int(item["put-code"]), source_client_id=source.get("path"),
                    self_ids=self_ids(ext),
                )
            )  # fmt: skip
    return found


def find_group(api: MemberClient, token: str, group_id: str) -> int | None:
    """The registry's put-code of ``group_id``; None when it is not registered (404)."""
    try:
        response = api.request(
            "GET", GROUP_IDS, params={"group-id": group_id}, headers=api.bearer(token)
        )
    except OrcidError as exc:
        if exc.status == 404:
            return None
        raise
    with reading(api.service, "a group-id record"):
        return int(read_json(response, api.service)["put-code"])


def register_group(api: MemberClient, token: str, record: dict[str, Any]) -> int:
    """POST a group-id record (a client-credentials token of scope /group-id-record/update)."""
    response = api.request(
        "POST", GROUP_IDS, data=json.dumps(record), headers=api.bearer(token, WRITE_HEADERS)
    )
    return _put_code(response.headers.get("Location", ""), GROUP_IDS, api, response.status_code)
