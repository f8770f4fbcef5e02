"""Which configured registrar account a Work names (DESIGN.md §7: the first is the default)."""

from __future__ import annotations

from worker.config import CrossrefAccount, DataCiteAccount, Settings
from worker.models import Registrar

Account = DataCiteAccount | CrossrefAccount


class UnknownAccount(LookupError):
    """The Work names a registrar or account this installation has no credentials for."""


def registrar_named(word: object) -> Registrar:
    """The registrar a Work's ``registration.registrar`` names (a JSON string);
    :class:`UnknownAccount` naming the known ones for any other word."""
    for registrar in Registrar:
        if word == registrar.value:
            return registrar
    known = ", ".join(r.value for r in Registrar)
    raise UnknownAccount(f"unknown registrar {word!r} (known: {known})")


def accounts(settings: Settings, registrar: Registrar) -> list[Account]:
    if registrar is Registrar.DATACITE:
        return list(settings.datacite_account_list())
    return list(settings.crossref_account_list())


def resolve(settings: Settings, registrar: Registrar, name: str | None) -> Account:
    """The account called ``name``, or the registrar's default (the first) when ``name`` is
    None; :class:`UnknownAccount` with a message naming what is configured otherwise."""
    configured = accounts(settings, registrar)
    if not configured:
        variables = (
            "PIDSYNC_DATACITE_REPOSITORY_ID/_PASSWORD/_PREFIX or PIDSYNC_DATACITE_ACCOUNTS"
            if registrar is Registrar.DATACITE
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
    account = resolve(settings, Registrar.DATACITE, name)
    assert isinstance(account, DataCiteAccount)  # noqa: S101 - narrows a type, holds by construction
    return account


def crossref_account(settings: Settings, name: str) -> CrossrefAccount:
    account = resolve(settings, Registrar.CROSSREF, name)
    assert isinstance(account, CrossrefAccount)  # noqa: S101 - narrows a type, holds by construction
    return account
