"""Helpers shared by the ORCID simulator tests (imported by the other test_orcid_* modules)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import requests

from worker.sandbox.orcid import ids

JSON = "application/vnd.orcid+json"
XML = "application/vnd.orcid+xml"


def api(info: dict[str, Any]) -> str:
    return info["orcid_api_url"] + "/v3.0"


def pub(info: dict[str, Any]) -> str:
    return info["orcid_public_url"] + "/v3.0"


def token_url(info: dict[str, Any]) -> str:
    return info["orcid_oauth_url"] + "/oauth/token"


def headers(
    token: str | None = None, accept: str = JSON, content: str | None = JSON
) -> dict[str, str]:
    out = {"Accept": accept}
    if content:
        out["Content-Type"] = content
    if token:
        out["Authorization"] = f"Bearer {token}"
    return out


def researcher(sandbox, **fields: Any) -> str:
    return sandbox.add_researcher(**fields)


def member_token(sandbox, orcid: str, client_id: str | None = None, scope: str = "") -> str:
    return sandbox.issue_token(orcid, client_id=client_id, scope=scope)["access_token"]


def second_client(sandbox) -> tuple[str, str]:
    account = sandbox.ctx.accounts.orcid_clients[1]
    return account.client_id, account.client_secret


def first_client(sandbox) -> tuple[str, str]:
    account = sandbox.ctx.accounts.orcid_clients[0]
    return account.client_id, account.client_secret


def client_token(info: dict[str, Any], client: tuple[str, str], scope: str) -> str:
    answer = requests.post(
        token_url(info),
        data={
            "client_id": client[0],
            "client_secret": client[1],
            "grant_type": "client_credentials",
            "scope": scope,
        },
        headers={"Accept": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def work(
    doi: str = "10.5555/sandbox-1", title: str = "A sandbox work", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": {"title": {"value": title}},
        "type": "journal-article",
        "publication-date": {"year": {"value": "2024"}, "month": {"value": "05"}, "day": None},
        "external-ids": {
            "external-id": [
                {
                    "external-id-type": "doi",
                    "external-id-value": doi,
                    "external-id-url": {"value": f"https://doi.org/{doi}"},
                    "external-id-relationship": "self",
                }
            ]
        },
    }
    body.update(extra)
    return body


def post_work(
    info: dict[str, Any], orcid: str, token: str, body: Any, **kwargs: Any
) -> requests.Response:
    return requests.post(
        f"{api(info)}/{orcid}/work", json=body, headers=headers(token, **kwargs), timeout=5
    )


def put_code_of(response: requests.Response) -> int:
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def error_code(response: requests.Response) -> int:
    return response.json()["error-code"]


def valid_orcid(value: str) -> bool:
    return ids.is_valid_orcid(value)


class CallbackServer:
    """A local webhook receiver answering each POST with the next status of ``statuses``."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.calls: list[dict[str, Any]] = []
        self.received = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status = outer.statuses.pop(0) if outer.statuses else 200
                with outer.received:
                    outer.calls.append({"path": self.path, "body": body, "status": status})
                    outer.received.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        with self.received:
            self.received.wait_for(lambda: len(self.calls) >= count, timeout)
        return list(self.calls)


def dumps(value: Any) -> str:
    return json.dumps(value)
