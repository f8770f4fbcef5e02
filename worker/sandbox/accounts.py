"""The accounts the sandbox is seeded with: fixed, so scripts and docs can rely on them.

The secrets below are public test values of a local simulator, never real credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OrcidClientAccount:
    """A registered ORCID member API client."""

    client_id: str
    client_secret: str
    name: str
    #: Redirect URIs registered for the client. An empty tuple means "any loopback URI".
    redirect_uris: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataCiteAccount:
    """A DataCite repository account (Basic auth ``repository_id:password``)."""

    repository_id: str
    password: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class CrossrefAccount:
    """A Crossref role login for deposits."""

    login_id: str
    password: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class Accounts:
    """Every seeded account. The first of each kind is the one ``info()`` reports."""

    orcid_clients: tuple[OrcidClientAccount, ...] = field(
        default_factory=lambda: (
            OrcidClientAccount(
                client_id="APP-SANDBOXCLIENT001",
                client_secret="5f1c3d0e-8a27-4c1b-9e52-0b7d6a4f2c19",  # noqa: S106 - public test value
                name="pidsync sandbox institution",
            ),
            OrcidClientAccount(
                client_id="APP-SANDBOXCLIENT002",
                client_secret="c2a9e7b4-31d6-4f08-a5e1-7d94b0c3e862",  # noqa: S106 - public test value
                name="Another member organisation",
            ),
        )
    )
    datacite: tuple[DataCiteAccount, ...] = field(
        default_factory=lambda: (
            DataCiteAccount("SANDBOX.REPO", "sandbox-datacite-password", ("10.5072",)),
            DataCiteAccount("OTHER.REPO", "other-datacite-password", ("10.80001",)),
        )
    )
    crossref: tuple[CrossrefAccount, ...] = field(
        default_factory=lambda: (
            CrossrefAccount("sandbox-role", "sandbox-crossref-password", ("10.32013",)),
            CrossrefAccount("other-role", "other-crossref-password", ("10.80002",)),
        )
    )

    @property
    def orcid_client(self) -> OrcidClientAccount:
        return self.orcid_clients[0]

    @property
    def datacite_account(self) -> DataCiteAccount:
        return self.datacite[0]

    @property
    def crossref_account(self) -> CrossrefAccount:
        return self.crossref[0]
