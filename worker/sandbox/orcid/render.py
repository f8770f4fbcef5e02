"""Works as ORCID's v3.0 JSON: the full work, its summary, the grouped ``/works`` answer.

Dates are epoch milliseconds in ``{"value": ms}`` holders, as in ORCID's JSON
(``record-full-3.0.json``); the XML forms are built from these dicts by ``orcid.xml``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worker.sandbox.orcid import ids

if TYPE_CHECKING:
    from collections.abc import Iterable

    from worker.sandbox.orcid.store import Work

DEFAULT_HOST = "orcid.org"


def _ms(value: int | None) -> dict[str, int] | None:
    return None if value is None else {"value": value}


def source(work: Work, host: str = DEFAULT_HOST) -> dict[str, Any]:
    return {
        "source-orcid": None,
        "source-client-id": {
            "uri": f"https://{host}/client/{work.source_client_id}",
            "path": work.source_client_id,
            "host": host,
        },
        "source-name": {"value": work.source_name},
        "assertion-origin-orcid": None,
        "assertion-origin-client-id": None,
        "assertion-origin-name": None,
    }


def orcid_identifier(orcid: str, host: str = DEFAULT_HOST) -> dict[str, str]:
    return {"uri": f"https://{host}/{orcid}", "path": orcid, "host": host}


def full_work(work: Work, host: str = DEFAULT_HOST) -> dict[str, Any]:
    """``GET /v3.0/{orcid}/work/{put-code}``: every field, ``null`` for what is absent."""
    body = work.body
    contributors = [
        {**con, "contributor-email": None} for con in body["contributors"]["contributor"]
    ]
    return {
        "created-date": _ms(work.created_ms),
        "last-modified-date": _ms(work.modified_ms),
        "source": source(work, host),
        "put-code": work.put_code,
        "path": f"/{work.orcid}/work/{work.put_code}",
        "title": body["title"],
        "journal-title": body["journal-title"],
        "short-description": body["short-description"],
        "citation": body["citation"],
        "type": body["type"],
        "publication-date": _date(body["publication-date"]),
        "external-ids": body["external-ids"],
        "url": body["url"],
        "contributors": {"contributor": contributors},
        "language-code": body["language-code"],
        "country": body["country"],
        "visibility": work.visibility,
    }


def _date(date: dict[str, Any] | None) -> dict[str, Any] | None:
    if date is None:
        return None
    return {part: date.get(part) for part in ("year", "month", "day")}


def summary(work: Work, host: str = DEFAULT_HOST) -> dict[str, Any]:
    """One ``work-summary`` (API_FACTS §1.4, from ``record-full-3.0.json``)."""
    body = work.body
    return {
        "put-code": work.put_code,
        "created-date": _ms(work.created_ms),
        "last-modified-date": _ms(work.modified_ms),
        "source": source(work, host),
        "title": body["title"],
        "external-ids": body["external-ids"],
        "url": body["url"],
        "type": body["type"],
        "publication-date": _date(body["publication-date"]),
        "journal-title": body["journal-title"],
        "visibility": work.visibility,
        "path": f"/{work.orcid}/work/{work.put_code}",
        "display-index": "0",
    }


def _grouping_ids(work: Work) -> list[tuple[tuple[str, str], dict[str, Any]]]:
    """External ids that group works: all but ``part-of`` and ``funded-by`` ones."""
    found = []
    for ext in work.external_ids():
        if ext.get("external-id-relationship") in ("part-of", "funded-by"):
            continue
        id_type = str(ext.get("external-id-type") or "").lower()
        key = (id_type, ids.normalise_external_id(id_type, str(ext.get("external-id-value"))))
        found.append((key, ext))
    return found


def group_works(works: Iterable[Work]) -> list[list[Work]]:
    """Works sharing a grouping external id, transitively, form one group (by first put-code)."""
    ordered = sorted(works, key=lambda w: w.put_code)
    parent = list(range(len(ordered)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[str, str], int] = {}
    for index, work in enumerate(ordered):
        for key, _ext in _grouping_ids(work):
            if key in owner:
                parent[find(index)] = find(owner[key])
            else:
                owner[key] = index
    groups: dict[int, list[Work]] = {}
    for index, work in enumerate(ordered):
        groups.setdefault(find(index), []).append(work)
    return [groups[root] for root in sorted(groups)]


def works_summary(orcid: str, works: Iterable[Work], host: str = DEFAULT_HOST) -> dict[str, Any]:
    """``GET /v3.0/{orcid}/works``: summaries grouped by external id."""
    groups = []
    latest: int | None = None
    for members in group_works(works):
        seen: set[tuple[str, str]] = set()
        group_ids = []
        for work in members:
            for key, ext in _grouping_ids(work):
                if key not in seen:
                    seen.add(key)
                    group_ids.append(ext)
        modified = max(work.modified_ms for work in members)
        latest = modified if latest is None else max(latest, modified)
        groups.append(
            {
                "last-modified-date": _ms(modified),
                "external-ids": {"external-id": group_ids},
                "work-summary": [summary(work, host) for work in members],
            }
        )
    return {"last-modified-date": _ms(latest), "group": groups, "path": f"/{orcid}/works"}
