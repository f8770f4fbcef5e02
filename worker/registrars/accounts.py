"""Which configured registrar account a Work names (DESIGN.md §7: the first is the default)."""

from __future__ import annotations

from worker.config import CrossrefAccount, DataCiteAccount, Settings

DATACITE = "datacite"
CROSSREF = "crossref"
REGISTRARS = (DATACITE, CROSSREF)

Account = DataCiteAccount | CrossrefAccount


class UnknownAccount(LookupError):
    """The Work names a registrar or account this installation has no credentials for."""


def accounts(settings: Settings, registrar: str) -> list[Account]:
    if registrar == DATACITE:
        return list(settings.datacite_account_list())
    if registrar == CROSSREF:
        return list(settings.crossref_account_list())
    raise UnknownAccount(f"unknown registrar {registrar!r} (known: datacite, crossref)")


def resolve(settings: Settings, registrar: str, name: str | None) -> Account:
    """The account called ``name``, or the registrar's default (the first) when ``name`` is
    None; :class:`UnknownAccount` with a message naming what is configured otherwise."""
    configured = accounts(settings, registrar)
    if not configured:
        variables = (
            "PIDSYNC_DATACITE_REPOSITORY_ID/_PASSWORD/_PREFIX or PIDSYNC_DATACITE_ACCOUNTS"
            if registrar == DATACITE
            else "PIDSYNC_CROSSREF_LOGIN_ID/_PASSWORD/_PREFIX or PIDSYNC_CROSSREF_ACCOUNTS"
        )
        raise UnknownAccount(f"no {registrar} account is configured ({variables})")
    if name is None:
        return configured[0]
    for account in configured:
        if account.name == name:
            return account
    known = ", ".join(repr(a.name) for a in configured)
    raise UnknownAccount(f"unknown {registrar} account {name!r} (configured: {known})")


def datacite_account(settings: Settings, name: str) -> DataCiteAccount:
    account = resolve(settings, DATACITE, name)
    assert isinstance(account, DataCiteAccount)  # noqa: S101 - narrows a type, holds by construction
    return account


def crossref_account(settings: Settings, name: str) -> CrossrefAccount:
    account = resolve(settings, CROSSREF, name)
    assert isinstance(account, CrossrefAccount)  # noqa: S101 - narrows a type, holds by construction
    return account
