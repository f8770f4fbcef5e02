"""Peer reviews' group ids: a journal's ``issn:<ISSN>`` is in ORCID's group-id registry before
its first review is placed, registered once per journal.

The registry is ORCID's, shared by every member: pidsync looks the group id up first (another
member, or another pidsync worker, may have registered it) and registers it only when it is
missing; a 409 from a registration that raced another is answered by reading it back. Found or
registered, the group id is remembered (``orcid_group_ids``) so later reviews call nothing.
Registry calls use the ORCID client's cached client-credentials token of scope
``/group-id-record/update``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from worker.logging import get_logger
from worker.metadata.render.orcid_peer_review import group_record
from worker.orcid.attempts import stale_client_token
from worker.orcid.client import OrcidError, RevokedToken
from worker.orcid.sections import client as api
from worker.orcid.sections import repository

if TYPE_CHECKING:
    from worker.metadata.orcid_items import Review
    from worker.orcid.deps import OrcidDeps

log = get_logger(__name__)
GROUP_SCOPE = "/group-id-record/update"


def ensure(session: Session, deps: OrcidDeps, client_id: str, review: Review) -> None:
    """Make sure the review's group id is in ORCID's registry (raises what the calls raise;
    a refused client token is transient: it was forgotten, the next try fetches another)."""
    group = review.group_id
    if repository.group_id(session, group) is not None:
        return
    oauth = deps.oauth(client_id)
    member = deps.member(client_id)
    try:
        token = oauth.client_token(GROUP_SCOPE)
        put_code = api.find_group(member, token, group)
        if put_code is None:
            try:
                put_code = api.register_group(member, token, group_record(review))
                log.info("orcid_group_id_registered", group_id=group, put_code=put_code)
            except OrcidError as exc:
                if exc.status != 409:
                    raise
                put_code = api.find_group(member, token, group)
                if put_code is None:
                    raise
    except RevokedToken as exc:
        oauth.forget(GROUP_SCOPE)
        raise stale_client_token(exc) from None
    repository.remember_group_id(session, group, put_code, client_id)
