"""What the simulated ORCID holds: clients, records and their works, tokens, codes, webhooks.

One :class:`OrcidStore` per sandbox; works are kept in ORCID's v3.0 JSON spelling (a JSON or
XML body is read into that one shape by ``orcid.validation`` and ``orcid.xml``).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from worker.sandbox.orcid import ids

EXPIRES_IN = 631138518  # seconds, about 20 years: the value in every ORCID token example
PUBLIC, LIMITED, PRIVATE = "public", "limited", "private"
FIRST_PUT_CODE = 1000


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Client:
    """A registered API client. No ``redirect_uris`` means any loopback URI is accepted."""

    client_id: str
    secret: str
    name: str
    redirect_uris: tuple[str, ...] = ()
    member: bool = True
    premium: bool = True
    seeded: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "name": self.name,
            "redirect_uris": list(self.redirect_uris),
            "member": self.member,
            "premium": self.premium,
        }


@dataclass
class Work:
    put_code: int
    orcid: str
    source_client_id: str
    source_name: str
    body: dict[str, Any]  # the work's own fields, in ORCID's v3.0 JSON spelling
    visibility: str = PUBLIC
    created_ms: int = field(default_factory=now_ms)
    modified_ms: int = field(default_factory=now_ms)

    @property
    def title(self) -> str:
        return str(self.body["title"]["title"]["value"])

    def external_ids(self) -> list[dict[str, Any]]:
        holder = self.body.get("external-ids") or {}
        return list(holder.get("external-id") or [])

    # The keys of ``_keys_of`` (the body they were read from): every write compares them
    # against each work of the record, so they are read once per body, not once per write.
    _keys: frozenset[tuple[str, str, str]] = field(default=frozenset(), repr=False, compare=False)
    _keys_of: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def duplicate_keys(self) -> frozenset[tuple[str, str, str]]:
        if self._keys_of is not self.body:  # a PUT replaces the body: read its keys again
            self._keys = frozenset(ids.duplicate_keys(self.body))
            self._keys_of = self.body
        return self._keys


@dataclass
class Activity:
    """An affiliation, funding or peer review on a record (``section`` says which: one of
    ``sections.SECTIONS``), kept in ORCID's v3.0 JSON spelling like a work."""

    put_code: int
    orcid: str
    section: str
    source_client_id: str
    source_name: str
    body: dict[str, Any]
    visibility: str = PUBLIC
    created_ms: int = field(default_factory=now_ms)
    modified_ms: int = field(default_factory=now_ms)

    def external_ids(self) -> list[dict[str, Any]]:
        key = "review-identifiers" if self.section == "peer-review" else "external-ids"
        holder = self.body.get(key) or {}
        return list(holder.get("external-id") or [])


@dataclass
class GroupIdRecord:
    """An entry of ORCID's group-id registry (``/group-id-record``), e.g. a journal's ISSN."""

    put_code: int
    group_id: str
    name: str
    description: str
    type: str
    source_client_id: str


@dataclass
class Record:
    """A researcher's ORCID record."""

    orcid: str
    given_names: str | None = None
    family_name: str | None = None
    email: str | None = None
    affiliation: str | None = None
    ror: str | None = None
    opt_out_notifications: bool = False
    created_ms: int = field(default_factory=now_ms)
    modified_ms: int = field(default_factory=now_ms)
    works: dict[int, Work] = field(default_factory=dict)
    # Affiliations, fundings and peer reviews, by put-code (put-codes are shared with works).
    activities: dict[int, Activity] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        parts = [part for part in (self.given_names, self.family_name) if part]
        return " ".join(parts) or None


@dataclass
class Token:
    access_token: str
    refresh_token: str
    client_id: str
    orcid: str | None
    scopes: tuple[str, ...]
    name: str | None
    expires_in: int = EXPIRES_IN
    issued_at: float = field(default_factory=time.time)
    revoked: bool = False

    @property
    def expired(self) -> bool:
        return time.time() > self.issued_at + self.expires_in

    @property
    def usable(self) -> bool:
        return not self.revoked and not self.expired

    def response(self) -> dict[str, Any]:
        """ORCID's token JSON (API_FACTS §1.2); client-credentials tokens carry no name."""
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "bearer",
            "refresh_token": self.refresh_token,
            "expires_in": max(0, math.ceil(self.issued_at + self.expires_in - time.time())),
            "scope": " ".join(self.scopes),
        }
        if self.orcid is not None:
            body["name"] = self.name
        body["orcid"] = self.orcid
        return body


@dataclass
class AuthCode:
    code: str
    client_id: str
    orcid: str
    scopes: tuple[str, ...]
    redirect_uri: str | None
    used: bool = False


@dataclass
class Webhook:
    orcid: str
    url: str
    client_id: str
    registered_ms: int = field(default_factory=now_ms)


@dataclass
class Notification:
    put_code: int
    orcid: str
    client_id: str
    source_name: str
    body: dict[str, Any]
    created_ms: int = field(default_factory=now_ms)
    read_ms: int | None = None
    archived_ms: int | None = None


class OrcidStore:
    """Everything the simulated ORCID holds.

    Used from the sandbox's event loop only (the server runs every handler and control call
    there), so it needs no locking.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.dice = random.Random(seed)
        self.clients: dict[str, Client] = {}
        self.records: dict[str, Record] = {}
        self.tokens: dict[str, Token] = {}  # by access token
        self.refresh: dict[str, Token] = {}  # by refresh token
        self.codes: dict[str, AuthCode] = {}
        self.webhooks: dict[tuple[str, str], Webhook] = {}  # (orcid, url)
        self.webhook_calls: list[dict[str, Any]] = []
        self.notifications: dict[int, Notification] = {}
        self.group_ids: dict[int, GroupIdRecord] = {}
        self.next_put_code = FIRST_PUT_CODE
        self.next_notification_code = 0

    # --- clients and records ------------------------------------------------------------------

    def add_client(self, client: Client) -> Client:
        self.clients[client.client_id] = client
        return client

    def create_record(self, **fields: Any) -> Record:
        orcid = ids.new_orcid(self.dice, frozenset(self.records))
        record = Record(orcid=orcid, **fields)
        self.records[orcid] = record
        return record

    def take_put_code(self) -> int:
        """Put-codes are increasing integers, unique across all records (as ORCID's are)."""
        self.next_put_code += 1
        return self.next_put_code

    def take_notification_code(self) -> int:
        self.next_notification_code += 1
        return self.next_notification_code

    # --- tokens -------------------------------------------------------------------------------

    def issue_token(
        self,
        client_id: str,
        orcid: str | None,
        scopes: tuple[str, ...],
        expires_in: int | None = None,
    ) -> Token:
        record = self.records.get(orcid) if orcid else None
        token = Token(
            access_token=ids.new_token(),
            refresh_token=ids.new_token(),
            client_id=client_id,
            orcid=orcid,
            scopes=scopes,
            name=record.name if record else None,
            expires_in=EXPIRES_IN if expires_in is None else expires_in,
        )
        self.add_token(token)
        return token

    def add_token(self, token: Token) -> None:
        self.tokens[token.access_token] = token
        if not token.revoked:
            self.refresh[token.refresh_token] = token

    def revoke_token(self, token: Token) -> None:
        """Revoking an access token also removes its refresh token (API_FACTS §1.2)."""
        token.revoked = True
        self.refresh.pop(token.refresh_token, None)

    def revoke_researcher_tokens(self, orcid: str, client_id: str | None = None) -> int:
        revoked = 0
        for token in list(self.tokens.values()):
            mine = client_id is None or token.client_id == client_id
            if token.orcid == orcid and not token.revoked and mine:
                self.revoke_token(token)
                revoked += 1
        return revoked

    def reset(self) -> None:
        """Forget everything except the seeded clients."""
        self.clients = {cid: c for cid, c in self.clients.items() if c.seeded}
        self.records.clear()
        self.tokens.clear()
        self.refresh.clear()
        self.codes.clear()
        self.webhooks.clear()
        self.webhook_calls.clear()
        self.notifications.clear()
        self.group_ids.clear()
        self.next_put_code = FIRST_PUT_CODE
        self.next_notification_code = 0
