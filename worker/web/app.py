"""The ASGI application: intake, status, schema, health, metrics."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from worker.bootstrap import Runtime
from worker.web import crossref, intake, items, ops, ops_access, orcid, preview, routes
from worker.web.dashboard import pages as dashboard
from worker.web.deps import problem
from worker.web.guard import UnsafeParameterGuard
from worker.web.openapi import openapi_document


def create_app(runtime: Runtime) -> FastAPI:
    production = runtime.settings.env == "production"
    app = FastAPI(
        title="pidsync",
        summary="DOIs at DataCite and Crossref, works on ORCID records, exactly once.",
        description="The integrator's guide (docs/ in the repository, `mkdocs serve`) explains "
        "each operation with working examples in curl, Python, Java and PHP.",
        version="0.1.0",
        # In production the docs are served behind the ops credential (worker.web.ops_access).
        docs_url=None,  # ours below: Swagger UI from pidsync's own files, not a CDN
        redoc_url=None,  # likewise, Redoc from pidsync's own files
        openapi_url=None if production else "/openapi.json",
    )
    app.state.runtime = runtime
    # The document completed with what the routes cannot say (worker.web.openapi).
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    app.add_middleware(UnsafeParameterGuard)
    ops_access.install_docs_assets(app)
    if production:
        ops_access.guarded_docs(app, runtime.settings)
    else:
        app.get("/docs", include_in_schema=False)(ops_access.swagger_page)
        app.get("/redoc", include_in_schema=False)(ops_access.redoc_page)
    app.include_router(intake.router)
    app.include_router(routes.router)
    app.include_router(items.router)
    app.include_router(orcid.router)
    app.include_router(crossref.router)
    app.include_router(ops.router)
    dashboard.install(app, runtime)
    app.include_router(preview.router)  # issue 15

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return JSONResponse(problem("invalid request", problems), status_code=422)

    return app
