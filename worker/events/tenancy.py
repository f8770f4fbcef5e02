"""What an intake client (a tenant) may send and use (DESIGN.md §7 "Clients (tenants)").

A client owns its CloudEvent sources, the event types it may send, and the registrar accounts
and ORCID clients it may name. An event outside those is refused at the intake (403 naming the
reason) before anything is stored. A list the client's configuration leaves out allows every
value of its kind; a pattern ending in ``*`` is a prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from worker.config import IntakeClient, Settings
from worker.events.cloudevents import CloudEvent, Problem
from worker.events.types import ITEM_EVENTS, RESEARCHER_AUTHORIZED, RESEARCHER_REVOKED

DATACITE = "datacite"
CROSSREF = "crossref"


@dataclass(frozen=True)
class Installation:
    """The names a Work's ``registration`` resolves to when it names no account: each
    registrar's default (its first configured account); None when the registrar has none."""

    default_accounts: dict[str, str | None]

    @classmethod
    def of(cls, settings: Settings) -> Installation:
        datacite = settings.datacite_account_list()
        crossref = settings.crossref_account_list()
        return cls(
            {
                DATACITE: datacite[0].name if datacite else None,
                CROSSREF: crossref[0].name if crossref else None,
            }
        )


def matches(patterns: Sequence[str] | None, value: str) -> bool:
    """Whether ``value`` is one of ``patterns`` (None: everything); ``x*`` is a prefix."""
    if patterns is None:
        return True
    for pattern in patterns:
        if pattern.endswith("*"):
            if value.startswith(pattern[:-1]):
                return True
        elif value == pattern:
            return True
    return False


def _registration(data: dict[str, Any]) -> tuple[str, str | None] | None:
    registration = data.get("registration")
    if not isinstance(registration, dict):
        return None
    registrar = registration.get("registrar")
    if registrar not in (DATACITE, CROSSREF):
        return None
    account = registration.get("account")
    return str(registrar), account if isinstance(account, str) else None


def refusals(
    client: IntakeClient,
    event: CloudEvent,
    data: dict[str, Any],
    installation: Installation,
    path: str,
) -> list[Problem]:
    """Every reason ``client`` may not send ``event`` (its data already checked and
    normalised); empty when it may."""
    problems: list[Problem] = []
    if not matches(client.sources, event.source):
        problems.append(
            Problem(f"{path}.source", f"client {client.id!r} does not own source {event.source!r}")
        )
    if not matches(client.types, event.type):
        problems.append(
            Problem(f"{path}.type", f"client {client.id!r} may not send {event.type!r} events")
        )
    found = _registration(data)
    if found is not None:
        registrar, named = found
        account = named if named is not None else installation.default_accounts.get(registrar)
        allowed = client.datacite_accounts if registrar == DATACITE else client.crossref_accounts
        if account is not None and not matches(allowed, account):
            problems.append(
                Problem(
                    f"{path}.data.registration.account",
                    f"client {client.id!r} may not use {registrar} account {account!r}",
                )
            )
    if event.type in (RESEARCHER_AUTHORIZED, RESEARCHER_REVOKED):
        orcid_client = data.get("client_id")
        if isinstance(orcid_client, str) and not matches(client.orcid_clients, orcid_client):
            problems.append(
                Problem(
                    f"{path}.data.client_id",
                    f"client {client.id!r} may not use ORCID client {orcid_client!r}",
                )
            )
    problems += organization_refusals(client, event.type, data, path)
    return problems


def organization_refusals(
    client: IntakeClient, event_type: str, data: dict[str, Any], path: str
) -> list[Problem]:
    """An affiliation or peer review names its organisation, or takes the client's: one it
    names must be the client's own unless the client may name others (``other_organizations``);
    without one, the client must have one configured."""
    kind, withdrawn = ITEM_EVENTS.get(event_type, ("", True))
    if withdrawn or kind not in ("affiliation", "review"):
        return []
    named = data.get("organization")
    own = client.organization
    where = f"{path}.data.organization"
    if named is None:
        if own is None:
            return [
                Problem(
                    where,
                    f"required: client {client.id!r} has no organization configured to default to",
                )
            ]
        return []
    if client.other_organizations:
        return []
    if own is not None and named.get("ror") == own.ror:
        # The ROR id alone is not enough: ORCID shows the name, city and country as sent, so
        # its own id under another institution's name would still assert that institution.
        differs = [
            name
            for name in ("name", "city", "region", "country")
            if named.get(name) is not None and _folded(named[name]) != _folded(getattr(own, name))
        ]
        if not differs:
            return []
        return [
            Problem(
                where,
                f"client {client.id!r} may assert {kind}s with its own organization only: "
                f"{', '.join(differs)} differ from its configured organization (omit the "
                "organization to use it)",
            )
        ]
    return [
        Problem(
            where,
            f"client {client.id!r} may assert {kind}s with its own organization only "
            "(other_organizations is false)",
        )
    ]


def _folded(value: Any) -> str:
    return " ".join(str(value or "").split()).casefold()


def owns_source(client: IntakeClient, source: str) -> bool:
    return matches(client.sources, source)
