"""The status API of affiliations, fundings and peer reviews: ``GET /affiliations/{source}/{id}``,
``GET /fundings/{source}/{id}``, ``GET /reviews/{source}/{id}``, each signed like ``/works``
(over ``"<t>.GET <path>"``), ``source`` and ``id`` each percent-encoded as one segment; another
client's item answers 404, as an unknown one does. The answer: the item as asserted, and each
researcher's ORCID item (section, ORCID client, state, put-code, tries, last error)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from worker.models import OrcidItemKind
from worker.orcid.sections.status import item_status
from worker.web.deps import problem, signed_reader
from worker.web.routes import SessionDep, _segment_problem, _segments

router = APIRouter()


def _status(request: Request, s: SessionDep, kind: OrcidItemKind, plural: str) -> JSONResponse:
    reader = signed_reader(request)
    if isinstance(reader, JSONResponse):
        return reader
    segments = _segments(request, f"/{plural}/")
    if len(segments) != 2:
        return JSONResponse(
            problem(f"expected /{plural}/{{source}}/{{id}}, each percent-encoded as one segment"),
            status_code=404,
        )
    source, item_id = segments
    for name, value in (("source", source), ("id", item_id)):
        why = _segment_problem(name, value)
        if why is not None:
            return JSONResponse(problem(why), status_code=400)
    status = item_status(s, kind, source, item_id, owner=reader.id)
    if status is None:
        return JSONResponse(
            problem(f"no {kind.value} {item_id!r} from source {source!r}"), status_code=404
        )
    return JSONResponse(status)


@router.get("/affiliations/{rest:path}", tags=["status"])
def get_affiliation(rest: str, request: Request, s: SessionDep) -> JSONResponse:  # noqa: ARG001
    """An affiliation's status and its ORCID item."""
    return _status(request, s, OrcidItemKind.AFFILIATION, "affiliations")


@router.get("/fundings/{rest:path}", tags=["status"])
def get_funding(rest: str, request: Request, s: SessionDep) -> JSONResponse:  # noqa: ARG001
    """A funding's status and its ORCID item on each contributor's record."""
    return _status(request, s, OrcidItemKind.FUNDING, "fundings")


@router.get("/reviews/{rest:path}", tags=["status"])
def get_review(rest: str, request: Request, s: SessionDep) -> JSONResponse:  # noqa: ARG001
    """A peer review's status and its ORCID item."""
    return _status(request, s, OrcidItemKind.REVIEW, "reviews")
