"""The ASGI application: intake, status, schema, health, metrics."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from worker.bootstrap import Runtime
from worker.web import intake, orcid, routes
from worker.web.deps import problem
from worker.web.guard import UnsafeParameterGuard


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="pidsync",
        summary="DOIs at DataCite and Crossref, works on ORCID records, exactly once.",
        version="0.1.0",
    )
    app.state.runtime = runtime
    app.add_middleware(UnsafeParameterGuard)
    app.include_router(intake.router)
    app.include_router(routes.router)
    app.include_router(orcid.router)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return JSONResponse(problem("invalid request", problems), status_code=422)

    return app
