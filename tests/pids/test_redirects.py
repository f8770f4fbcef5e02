"""SSRF: content negotiation and enrichment follow redirects only over https to the agencies'
public hosts, or to the sandbox's own loopback origin; never to private, link-local or loopback
addresses. The hostile resolver here is a real HTTP server on loopback that answers every GET
with the redirect under test; a second server counts whatever reaches it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from worker.config import DEFAULT_REDIRECT_HOSTS, load_settings
from worker.pids.enrich import enrich_work
from worker.pids.negotiation import Negotiator, ResolveFailed
from worker.pids.redirects import RedirectPolicy, public_address

DOI = "10.5555/12345678"


class Server:
    """A loopback HTTP server answering a GET with ``location`` (302), or 200 with CSL-JSON
    when no location is set or the path is under ``/agency/`` (its own agency service)."""

    def __init__(self) -> None:
        self.location: str | None = None
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(self.path)
                if outer.location is not None and not self.path.startswith("/agency/"):
                    self.send_response(302)
                    self.send_header("Location", outer.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b'{"type": "article-journal", "title": "reached"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.citationstyles.csl+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def resolver() -> Iterator[Server]:
    server = Server()
    yield server
    server.close()


@pytest.fixture
def bystander() -> Iterator[Server]:
    """Another service on this machine's loopback (a database console, an admin port)."""
    server = Server()
    yield server
    server.close()


@pytest.mark.parametrize(
    ("location", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/", "https only"),
        ("https://169.254.169.254/latest/meta-data/", "not an allowed host"),
        ("http://api.crossref.org/v1/works/10.5555/12345678/transform", "https only"),
        ("https://evil.example/steal", "not an allowed host"),
        ("https://doi.org.evil.example/x", "not an allowed host"),
        ("https://[::1]/x", "not an allowed host"),
        ("ftp://doi.org/x", "https only"),
        ("file:///etc/passwd", "https only"),
    ],
)
def test_a_redirect_off_the_agencies_https_hosts_is_refused(resolver, location, why):
    # Given a resolver that redirects content negotiation somewhere else
    resolver.location = location
    negotiator = Negotiator(resolver.url, timeout=3)
    # When a DOI is resolved, Then the redirect is refused, in one line naming why
    with pytest.raises(ResolveFailed) as refused:
        negotiator.resolve(DOI, "csl")
    assert why in str(refused.value)
    assert "\n" not in str(refused.value)
    assert resolver.hits == ["/" + DOI]  # asked once: a refusal is not retried


def test_a_redirect_to_another_loopback_port_is_refused_and_never_sent(resolver, bystander):
    # Given the loopback resolver (the sandbox's place) redirecting to another local service
    resolver.location = f"{bystander.url}/admin/drop"
    negotiator = Negotiator(resolver.url, timeout=3)
    # When a DOI is resolved, Then it is refused and the other port never saw a request
    with pytest.raises(ResolveFailed) as refused:
        negotiator.resolve(DOI, "csl")
    assert bystander.hits == []
    assert "https only" in str(refused.value)


@pytest.mark.parametrize("location", ["/agency/10.5555/12345678", "{origin}/agency/10.5555/x"])
def test_the_resolvers_own_loopback_origin_is_followed(resolver, location):
    # Given the sandbox's layout: doi.org and the agencies' services on one loopback origin
    resolver.location = location.format(origin=resolver.url)
    negotiator = Negotiator(resolver.url, timeout=3)
    # When a DOI is resolved, Then the hop to the same origin is followed
    answer = negotiator.resolve(DOI, "csl")
    assert answer.json()["title"] == "reached"
    assert resolver.hits[0] == "/" + DOI and resolver.hits[1].startswith("/agency/")


def test_an_allowed_name_that_resolves_to_a_private_address_is_refused():
    # Given doi.org's name pointed at private, loopback, link-local or mapped addresses
    for addresses in (
        ["10.0.0.7"],
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["::ffff:10.1.2.3"],
        ["192.0.43.8", "192.168.1.1"],
        ["fe80::1"],
        ["0.0.0.0"],
        [],
    ):
        policy = RedirectPolicy(frozenset({"doi.org"}), lookup=lambda _h, _p, a=addresses: a)
        why = policy.problem("https://doi.org/10.5555/x")
        assert why is not None and "non-public address" in why, addresses
    public = RedirectPolicy(frozenset({"doi.org"}), lookup=lambda _h, _p: ["192.0.43.8"])
    assert public.problem("https://doi.org/10.5555/x") is None
    assert public.problem("https://DOI.ORG./10.5555/x") is None


def test_public_address():
    assert public_address("192.0.43.8")
    assert public_address("2001:4860:4860::8888")
    for address in (
        "10.0.0.1",
        "172.16.5.4",
        "192.168.0.1",
        "127.0.0.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
        "not an address",
    ):
        assert not public_address(address), address


def test_enrichment_follows_the_same_rule(resolver):
    # Given the resolver redirecting enrichment's CSL request to the metadata service
    resolver.location = "http://169.254.169.254/latest/meta-data/"
    negotiator = Negotiator(resolver.url, timeout=3)
    # Then enriching a work is refused, nothing is fetched from that address
    with pytest.raises(ResolveFailed):
        enrich_work({"id": "w", "title": "T", "doi": DOI}, negotiator)


def test_settings_carry_the_allow_list(monkeypatch):
    assert load_settings(_env_file=None).redirect_hosts == list(DEFAULT_REDIRECT_HOSTS)
    monkeypatch.setenv("PIDSYNC_REDIRECT_HOSTS", "doi.org, Data.Crosscite.org.")
    settings = load_settings(_env_file=None)
    assert settings.redirect_hosts == ["doi.org", "data.crosscite.org"]
    negotiator = Negotiator.from_settings(settings)
    assert negotiator.redirects is not None
    assert negotiator.redirects.hosts == frozenset({"doi.org", "data.crosscite.org"})
    # The Crossref REST reads behind to_work follow the same rule
    assert negotiator.crossref is not None and negotiator.crossref.redirects is not None
    assert negotiator.crossref.redirects.hosts == negotiator.redirects.hosts
    monkeypatch.setenv("PIDSYNC_REDIRECT_HOSTS", "https://doi.org/")
    with pytest.raises(Exception, match="PIDSYNC_REDIRECT_HOSTS"):
        load_settings(_env_file=None)
