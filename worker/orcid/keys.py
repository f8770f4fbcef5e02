"""Key rotation for every stored token: grants (their tokens and webhook secret) and the
inbox's sealed authorisations.

``pidsync tokens rotate-keys``: put a new key first in ``PIDSYNC_TOKEN_KEYS`` (keep the old ones
after it), run this, then remove the old keys. Every ciphertext is re-encrypted under the
newest key; one that no configured key opens stops the run with an error naming the row, so a
key is never removed while something still needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.events.types import RESEARCHER_AUTHORIZED
from worker.models import OrcidGrant, ReceivedEvent
from worker.orcid.tokens import TokenCipher, TokenKeyError

SEALED_FIELDS = ("access_token_enc", "refresh_token_enc")


def _grants(session: Session) -> Iterator[OrcidGrant]:
    yield from session.execute(
        select(OrcidGrant).order_by(OrcidGrant.id).with_for_update()
    ).scalars()


def _sealed_events(session: Session) -> Iterator[ReceivedEvent]:
    yield from session.execute(
        select(ReceivedEvent)
        .where(ReceivedEvent.type == RESEARCHER_AUTHORIZED)
        .order_by(ReceivedEvent.id)
        .with_for_update()
    ).scalars()


def _rotate(cipher: TokenCipher, value: bytes, where: str) -> bytes:
    try:
        return cipher.rotate(value)
    except TokenKeyError:
        raise TokenKeyError(
            f"{where}: no configured key opens this token; put the key it was sealed with back "
            "into PIDSYNC_TOKEN_KEYS (after the new one) and run rotate-keys again"
        ) from None


def rotate_stored_tokens(session: Session, cipher: TokenCipher) -> dict[str, int]:
    """Re-encrypt every stored token under the newest key; counts of rows rewritten.

    The inbox first, then the grants: the order the event processor locks them in (it holds
    a researcher.authorized event while it copies the event's ciphertext into the grant). So
    a grant stored from an event in flight is committed before the grants are read here, and
    is rotated too; grants first would miss it (left sealed with the old key) and could
    deadlock with the processor."""
    grants = events = 0
    for event in _sealed_events(session):
        data: dict[str, Any] = dict(event.data)
        changed = False
        for name in SEALED_FIELDS:
            if data.get(name):
                where = f"inbox event {event.id}"
                data[name] = _rotate(cipher, str(data[name]).encode(), where).decode()
                changed = True
        if changed:
            event.data = data
            events += 1
    session.flush()
    for grant in _grants(session):
        where = f"grant {grant.id}"
        if grant.access_token_enc:
            grant.access_token_enc = _rotate(cipher, grant.access_token_enc, where)
            grants += 1
        if grant.refresh_token_enc:
            grant.refresh_token_enc = _rotate(cipher, grant.refresh_token_enc, where)
        if grant.webhook_secret_enc:  # sealed by the same cipher (orcid.webhooks)
            grant.webhook_secret_enc = _rotate(cipher, grant.webhook_secret_enc, where)
    session.flush()
    return {"grants": grants, "inbox_events": events}


def undecryptable(session: Session, cipher: TokenCipher) -> list[str]:
    """Rows holding a token no configured key opens (empty: every key still in use is there)."""
    problems = []
    for grant in _grants(session):
        for value in (grant.access_token_enc, grant.refresh_token_enc, grant.webhook_secret_enc):
            if value:
                try:
                    cipher.decrypt(value)
                except TokenKeyError:
                    problems.append(f"grant {grant.id}")
                    break
    for event in _sealed_events(session):
        for name in SEALED_FIELDS:
            if event.data.get(name):
                try:
                    cipher.decrypt(str(event.data[name]).encode())
                except TokenKeyError:
                    problems.append(f"inbox event {event.id}")
                    break
    return problems
