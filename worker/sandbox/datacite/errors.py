"""DataCite REST error answers (lupo ``application_controller.rb``, ``error_serializable.rb``)."""

from __future__ import annotations

import json

from aiohttp import web

JSONAPI = "application/vnd.api+json"

TITLES = {
    400: "You need to provide a payload following the JSONAPI spec",
    401: "Bad credentials.",
    403: "You are not authorized to access this resource.",
    404: "The resource you are looking for doesn't exist.",
    405: "Method not allowed",
    406: "The content type is not recognized.",
    409: "The resource already exists.",
    429: "Too many requests",
}
ALLOW_ON_405 = "HEAD, GET, POST, PATCH, PUT, OPTIONS"


class DataCiteError(Exception):
    """An error answer: ``{"errors":[...]}`` with a status."""

    def __init__(
        self,
        status: int,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors or [{"status": str(status), "title": TITLES[status]}]
        self.headers = headers or {}

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps({"errors": self.errors}),
            content_type=JSONAPI,
            headers=self.headers,
        )


def unprocessable(errors: list[dict[str, str]]) -> DataCiteError:
    return DataCiteError(422, errors)


def bad_request(title: str = TITLES[400]) -> DataCiteError:
    return DataCiteError(400, [{"status": "400", "title": title}])
