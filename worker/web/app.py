"""The ASGI application: intake, status, schema, health, metrics."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from worker.bootstrap import Runtime
from worker.web import crossref, intake, ops, ops_access, orcid, preview, routes
from worker.web.deps import problem
from worker.web.guard import UnsafeParameterGuard


def create_app(runtime: Runtime) -> FastAPI:
    production = runtime.settings.env == "production"
    app = FastAPI(
        title="pidsync",
        summary="DOIs at DataCite and Crossref, works on ORCID records, exactly once.",
        version="0.1.0",
        # In production the docs are served behind the ops credential (worker.web.ops_access).
        docs_url=None if production else "/docs",
        redoc_url=None if production else "/redoc",
        openapi_url=None if production else "/openapi.json",
    )
    app.state.runtime = runtime
    app.add_middleware(UnsafeParameterGuard)
    if production:
        ops_access.guarded_docs(app, runtime.settings)
    app.include_router(intake.router)
    app.include_router(routes.router)
    app.include_router(orcid.router)
    app.include_router(crossref.router)
    app.include_router(ops.router)
    app.include_router(preview.router)  # issue 15

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return JSONResponse(problem("invalid request", problems), status_code=422)

    return app
