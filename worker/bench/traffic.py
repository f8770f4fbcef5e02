"""What the scenarios send: signed CloudEvents over HTTP, as an emitting system does."""

from __future__ import annotations

import json
from typing import Any

import requests

from worker.bench.stack import CLIENT, SECRET, SOURCE
from worker.events.signature import sign


def work(key: str, *, orcids: tuple[str, ...] = (), datacite: bool = False) -> dict[str, Any]:
    """A dataset (with a DataCite DOI when ``datacite``) by Ada, plus one contributor per ORCID."""
    contributors: list[dict[str, Any]] = [{"given": "Ada", "family": "Lovelace"}]
    contributors += [
        {"given": "Researcher", "family": f"R{n}", "orcid": orcid} for n, orcid in enumerate(orcids)
    ]
    data: dict[str, Any] = {
        "id": key,
        "type": "dataset",
        "title": f"Benchmark dataset {key}",
        "publisher": "Bench University",
        "publication_date": "2026-01-15",
        "url": f"https://repo.bench.example.edu/{key}",
        "contributors": contributors,
    }
    if datacite:
        data["registration"] = {"registrar": "datacite"}
    return data


def event(event_type: str, event_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": event_type,
        "datacontenttype": "application/json",
        "data": data,
    }


def post(
    http: requests.Session, url: str, events: list[dict[str, Any]], secret: str = SECRET
) -> requests.Response:
    """One signed batch (or a single event when there is one); raises on a non-2xx answer."""
    single = len(events) == 1
    body = json.dumps(events[0] if single else events).encode()
    kind = "cloudevents+json" if single else "cloudevents-batch+json"
    answer = http.post(
        f"{url}/events",
        data=body,
        headers={
            "Content-Type": f"application/{kind}",
            "Pidsync-Client": CLIENT,
            "Pidsync-Signature": sign(secret, body),
        },
        timeout=120,
    )
    answer.raise_for_status()
    return answer


def authorize(http: requests.Session, url: str, sandbox: Any, orcid: str, event_id: str) -> None:
    """The researcher consents: ORCID's token for them, sent as ``researcher.authorized``."""
    token = sandbox.issue_token(orcid)
    post(http, url, [event("researcher.authorized", event_id, token)])
