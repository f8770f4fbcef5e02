"""`GET /researchers/{orcid}/preview` (issue 15): what pidsync would add, update and remove on
a researcher's record for the signing client, computed from the database and one read of the
record. Nothing is written: the request's transaction is rolled back whatever happens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from worker.orcid.preview import RecordUnreadable, UnknownResearcher, preview
from worker.pids.identifiers import InvalidIdentifier, normalize_orcid
from worker.web.deps import problem, runtime, session, signed_reader

router = APIRouter()
SessionDep = Annotated[Session, Depends(session)]


@router.get("/researchers/{orcid}/preview", tags=["status"])
def get_preview(orcid: str, request: Request, s: SessionDep) -> JSONResponse:
    """Signed like `/works` (over `"<t>.GET <path>"`); scoped to the signing client: an iD
    none of its works, placements, affiliations, fundings, reviews or grants name answers 404,
    and ORCID is not read. Sections: works, affiliations, fundings, peer_reviews."""
    reader = signed_reader(request)
    if isinstance(reader, JSONResponse):
        return reader
    try:
        orcid_id = normalize_orcid(orcid)
    except InvalidIdentifier as exc:
        return JSONResponse(problem(f"orcid: {exc.reason}"), status_code=400)
    try:
        found = preview(s, runtime(request).orcid, orcid_id, reader.id)
    except UnknownResearcher:
        return JSONResponse(
            problem(f"nothing of client {reader.id!r} names {orcid_id}"), status_code=404
        )
    except RecordUnreadable as exc:
        return JSONResponse(problem(f"the ORCID record could not be read: {exc}"), status_code=503)
    finally:
        s.rollback()  # a preview writes nothing, whatever it touched on the way
    return JSONResponse(found.as_dict())
