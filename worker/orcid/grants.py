"""Researchers' ORCID grants, stored with their tokens as ciphertext only.

Each grant has an owner: the intake client whose ``researcher.authorized`` stored it, or None
when the researcher consented through ``/orcid/connect``. A client's event never replaces an
active grant another client owns or one from the consent flow, and its token is proven with
ORCID (a read of the researcher's record with it) before it is stored (DESIGN.md §7).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from worker.clock import utcnow
from worker.errors import EffectRefused
from worker.models import GrantStatus, OrcidGrant, Researcher
from worker.orcid import repository
from worker.orcid.client import MemberClient, OrcidError, RevokedToken
from worker.orcid.oauth import WRITE_SCOPE
from worker.orcid.tokens import TokenCipher, TokenKeyError


def get_or_create_researcher(session: Session, orcid: str, name: str | None = None) -> Researcher:
    researcher = repository.ensure_researcher(session, orcid)
    if name and researcher.name != name:
        researcher.name = name
    return researcher


class GrantRefused(EffectRefused):
    """A grant may not be stored as asked; the message says why (the event's outcome)."""


def _holder(owner: str | None) -> str:
    return f"intake client {owner!r}" if owner else "the researcher's own consent (/orcid/connect)"


def check_replaceable(grant: OrcidGrant, owner: str | None) -> None:
    """Raise GrantRefused unless ``owner`` (None: the consent flow) may replace ``grant``: the
    consent flow always may (the researcher acts), a client only its own or a revoked grant."""
    if owner is None or grant.status != GrantStatus.ACTIVE or grant.owner == owner:
        return
    raise GrantRefused(
        f"the ORCID grant of {grant.researcher.orcid} for ORCID client {grant.client_id} is "
        f"held by {_holder(grant.owner)}; a researcher.authorized from {owner!r} cannot "
        "replace it"
    )


def verify_token(member: MemberClient, orcid: str, token: str) -> None:
    """Prove the token works for ``orcid``: read the record with it (ORCID has no token
    introspection; the record read checks the token is live and, for a token of one
    researcher, that it is this researcher's: 401/9017 otherwise). Raises GrantRefused when
    ORCID refuses it; transient failures propagate (the event is retried)."""
    try:
        record = member.record(orcid, token)
    except (RevokedToken, OrcidError) as exc:
        raise GrantRefused(
            f"ORCID refused the token of researcher.authorized for {orcid} "
            f"(HTTP {exc.status}): not stored"
        ) from None
    path = (record.get("orcid-identifier") or {}).get("path")
    if path is not None and path != orcid:
        raise GrantRefused(f"the token read the record of {path}, not {orcid}: not stored")


def store_grant(session: Session, data: dict[str, Any], *, owner: str | None = None) -> OrcidGrant:
    """Store (or replace) a grant from sealed token data (``*_enc`` fields hold ciphertext)
    for ``owner`` (the intake client; None: the consent flow). Raises GrantRefused when the
    grant in place is not ``owner``'s to replace."""
    researcher = get_or_create_researcher(session, data["orcid"], data.get("name"))
    grant = repository.grant_for_update(session, researcher.id, data["client_id"])
    if grant is None:
        grant = OrcidGrant(researcher_id=researcher.id, client_id=data["client_id"])
        session.add(grant)
    else:
        check_replaceable(grant, owner)
    grant.owner = owner
    grant.scope = data["scope"]
    grant.access_token_enc = data["access_token_enc"].encode()
    refresh = data.get("refresh_token_enc")
    grant.refresh_token_enc = refresh.encode() if refresh else None
    expires_in = data.get("expires_in")
    grant.expires_at = utcnow() + timedelta(seconds=expires_in) if expires_in is not None else None
    grant.status = GrantStatus.ACTIVE
    grant.revoked_at = None
    grant.revoked_reason = None
    session.flush()
    return grant


def can_write(grant: OrcidGrant) -> bool:
    return grant.status == GrantStatus.ACTIVE and WRITE_SCOPE in grant.scope.split()


def seal_token_response(
    cipher: TokenCipher, token: dict[str, Any], client_id: str
) -> dict[str, Any]:
    """ORCID's token JSON with the token values replaced by ciphertext (what store_grant takes)."""
    sealed: dict[str, Any] = {
        "orcid": token["orcid"],
        "name": token.get("name"),
        "scope": token.get("scope") or "",
        "expires_in": token.get("expires_in"),
        "client_id": client_id,
        "access_token_enc": cipher.encrypt(str(token["access_token"])).decode(),
    }
    if token.get("refresh_token"):
        sealed["refresh_token_enc"] = cipher.encrypt(str(token["refresh_token"])).decode()
    return sealed


def store_token_response(
    session: Session, cipher: TokenCipher, client_id: str, token: dict[str, Any]
) -> OrcidGrant:
    """Store a grant straight from ORCID's token answer (the OAuth callback)."""
    return store_grant(session, seal_token_response(cipher, token, client_id))


def access_token(cipher: TokenCipher, grant: OrcidGrant) -> str:
    """The grant's access token, decrypted for one call (raises TokenKeyError loudly when no
    configured key opens it)."""
    if not grant.access_token_enc:
        raise TokenKeyError(f"the grant of {grant.researcher.orcid} holds no token any more")
    return cipher.decrypt(grant.access_token_enc)


def mark_revoked(grant: OrcidGrant, reason: str) -> bool:
    """Mark the grant revoked; False when it already was."""
    if grant.status == GrantStatus.REVOKED:
        return False
    grant.status = GrantStatus.REVOKED
    grant.revoked_at = utcnow()
    grant.revoked_reason = reason
    return True


def wipe_tokens(grant: OrcidGrant) -> None:
    """Forget a revoked grant's tokens (ORCID no longer accepts them; nothing to keep)."""
    grant.access_token_enc = b""
    grant.refresh_token_enc = None
