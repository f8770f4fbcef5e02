"""Which redirects a read-only client may follow (content negotiation, enrichment): SSRF guard.

doi.org answers content negotiation with a redirect to the registration agency's service, so
the client must follow redirects, and a DOI's resolver entry (or a compromised agency) could
point it anywhere: at the cloud metadata service (169.254.169.254), at a database on the
worker's own loopback, at an intranet host. :class:`RedirectPolicy` is checked on every hop
*before* it is followed (a ``requests`` response hook, so nothing is sent to a refused
address):

- the target is ``https`` and its host is one of ``settings.redirect_hosts`` (doi.org and the
  agencies' services by default), compared as names, exactly;
- every address the host resolves to is public: no private, loopback, link-local, multicast,
  reserved or unspecified address (a public name pointed at 10.0.0.1 is refused too);
- the one exception is the sandbox: when the resolver itself is a loopback URL, a redirect to
  that same origin (scheme, host and port) is followed, and no other loopback port.

A refused hop raises :class:`UnsafeRedirect` (a :class:`requests.RequestException`, so
:class:`worker.http.ApiClient` reports it as a transport failure with it as the context).

What this cannot stop: a name that resolves to a public address when checked and to a private
one when ``requests`` connects a moment later (DNS rebinding within the resolver's TTL). The
allow-list of the agencies' own names is what bounds that.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from worker.config import is_loopback

#: host, port → the addresses it resolves to (socket.getaddrinfo by default).
AddressLookup = Callable[[str, int], list[str]]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeRedirect(requests.RequestException):
    """A redirect pidsync refuses to follow; the message names the target's host and why."""


def lookup_addresses(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def public_address(address: str) -> bool:
    """Whether ``address`` is a public unicast address (IPv4-mapped IPv6 judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port if parts.port is not None else _DEFAULT_PORTS.get(scheme)
    return scheme, (parts.hostname or "").rstrip(".").lower(), port


@dataclass(frozen=True)
class RedirectPolicy:
    """The hosts redirects may lead to (see the module docstring)."""

    hosts: frozenset[str]
    loopback_origin: tuple[str, str, int | None] | None = None
    lookup: AddressLookup = lookup_addresses

    @classmethod
    def for_resolver(
        cls, resolver_url: str, hosts: Iterable[str], lookup: AddressLookup | None = None
    ) -> RedirectPolicy:
        """The policy of a client whose base URL is ``resolver_url``: its own origin is
        accepted as well when it is loopback (the sandbox)."""
        origin = _origin(resolver_url) if is_loopback(resolver_url) else None
        names = frozenset(h.rstrip(".").lower() for h in hosts)
        return cls(names, origin, lookup or lookup_addresses)

    def problem(self, target: str) -> str | None:
        """Why ``target`` may not be followed, or None when it may."""
        try:
            scheme, host, port = _origin(target)
        except ValueError:
            return "a malformed redirect target"
        if self.loopback_origin is not None and (scheme, host, port) == self.loopback_origin:
            return None
        if scheme != "https":
            return f"a redirect to {scheme or 'a relative'}:// at {host or '?'} (https only)"
        if host not in self.hosts:
            return f"a redirect to {host or '?'}, which is not an allowed host"
        try:
            addresses = self.lookup(host, port or 443)
        except OSError:
            return f"a redirect to {host}, whose address could not be resolved"
        private = [a for a in addresses if not public_address(a)]
        if private or not addresses:
            return f"a redirect to {host}, which resolves to a non-public address"
        return None

    def check(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        """A ``requests`` response hook: raise :class:`UnsafeRedirect` before a refused hop."""
        if not response.is_redirect:
            return
        location = response.headers.get("Location", "")
        target = urljoin(response.url, location)
        why = self.problem(target)
        if why is not None:
            response.close()
            raise UnsafeRedirect(f"refused {why}", response=response)
