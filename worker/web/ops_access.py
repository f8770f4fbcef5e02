"""The operators' routes (``/docs``, ``/redoc``, ``/openapi.json``, ``/metrics``) in production.

Outside production they are open, as they always were. With ``PIDSYNC_ENV=production`` they are
off (404, as if absent) unless ``PIDSYNC_OPS_CREDENTIAL`` is set; then each needs it:

- a bearer token: ``Authorization: Bearer <token>`` (scripts, Prometheus' ``authorization``);
- ``user:<sha256 hex of the password>``: HTTP basic auth with that user and password (a
  browser asks for it, and sends it again for the OpenAPI document the docs page loads).

A request without the credential, or with a wrong one, gets 401 and ``WWW-Authenticate``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from hmac import compare_digest

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response

from worker.config import Settings

DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")
#: Swagger UI's and Redoc's files, served by pidsync itself (the fastapi-standalone-docs
#: package's copies; only its files are used, not its patching of FastAPI): /docs and /redoc
#: work offline and load nothing from a CDN.
DOCS_ASSETS = "/docs-assets"


def install_docs_assets(app: FastAPI) -> None:
    from pathlib import Path

    import fastapi_standalone_docs
    from fastapi.staticfiles import StaticFiles

    static = Path(fastapi_standalone_docs.__path__[0]) / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=static), name="docs-assets")


def swagger_page() -> HTMLResponse:
    page: HTMLResponse = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="pidsync",
        swagger_js_url=f"{DOCS_ASSETS}/swagger/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/fastapi/favicon.png",
    )
    return page


def redoc_page() -> HTMLResponse:
    page: HTMLResponse = get_redoc_html(
        openapi_url="/openapi.json",
        title="pidsync",
        redoc_js_url=f"{DOCS_ASSETS}/redoc/redoc.standalone.js",
        redoc_favicon_url=f"{DOCS_ASSETS}/fastapi/favicon.png",
        with_google_fonts=False,
    )
    return page


def credential_matches(settings: Settings, authorization: str | None) -> bool:
    """Whether the ``Authorization`` header carries the configured ops credential."""
    if settings.ops_credential is None or not authorization:
        return False
    configured = settings.ops_credential.get_secret_value()
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    user, colon, digest = configured.partition(":")
    if not colon:
        return scheme.lower() == "bearer" and compare_digest(
            value.encode("utf-8", "surrogatepass"), configured.encode("utf-8")
        )
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    given_user, sep, password = decoded.partition(":")
    offered = hashlib.sha256(password.encode("utf-8")).hexdigest()
    return (
        bool(sep)
        & compare_digest(given_user.encode(), user.encode())
        & compare_digest(offered, digest.lower())
    )


def refusal(settings: Settings, request: Request) -> Response | None:
    """None when the request may see an ops route; else the answer (404 off, 401 refused)."""
    if settings.env != "production":
        return None
    if settings.ops_credential is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    if credential_matches(settings, request.headers.get("Authorization")):
        return None
    basic = ":" in settings.ops_credential.get_secret_value()
    challenge = 'Basic realm="pidsync ops"' if basic else 'Bearer realm="pidsync ops"'
    return JSONResponse(
        {"error": "the ops credential is required"},
        status_code=401,
        headers={"WWW-Authenticate": challenge},
    )


def guarded_docs(app: FastAPI, settings: Settings) -> None:
    """Serve the OpenAPI document and both docs pages behind :func:`refusal` (the app is
    created with FastAPI's own docs routes off in production)."""

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> Response:
        return refusal(settings, request) or JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        return refusal(settings, request) or swagger_page()

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> Response:
        return refusal(settings, request) or redoc_page()
