"""DOI content negotiation through doi.org (API_FACTS.md §4), and who registered a DOI.

Public interface:

- :func:`resolve` ``(doi, format="csl", style=None, locale=None, *, negotiator=None)`` →
  :class:`Resolved` (the agency's answer: ``text``, ``content_type``, final ``url``,
  ``redirects``). ``doi`` in any common written form (``10.x/y``, ``doi:10.x/y``,
  ``https://doi.org/10.x/y``, ``https://dx.doi.org/...``); ``format`` one of :data:`FORMATS`.
- :func:`agency` ``(doi, *, negotiator=None)`` → ``"Crossref"``, ``"DataCite"``, ... via
  ``{resolver}/doiRA/{doi}``.
- :class:`Negotiator`: the client behind both (one per process, shared by its threads),
  plus :meth:`Negotiator.to_work` (the DOI's metadata as pidsync's Work: DataCite XML for
  DataCite DOIs, the Crossref REST message for Crossref DOIs when a Crossref API URL is
  configured, CSL-JSON otherwise, each through its adapter in :mod:`worker.metadata.adapters`).
  :mod:`worker.pids.enrich` takes a Negotiator.

Errors, each one line naming the DOI: :class:`DoiNotFound` (404: no such DOI),
:class:`FormatNotOffered` (406, or a landing page instead of metadata: names the agency and the
formats it does offer, from the support matrix :data:`OFFERED`), :class:`NoMetadata` (204),
:class:`ResolverTimeout`, :class:`ResolverUnavailable` (5xx, 429 beyond patience, network).
The first three are :class:`~worker.errors.PermanentError`, the last two
:class:`~worker.errors.TransientError`. A malformed DOI raises
:class:`~worker.pids.identifiers.InvalidIdentifier`, an unknown format :class:`UnknownFormat`
(both ValueErrors: bad input).

The DOI goes into the URL path with every ``/`` kept (prefix/suffix and within the suffix, as
doi.org expects) and everything else outside RFC 3986's unreserved characters and
``:()!*$,=@'`` percent-encoded: ``#`` → ``%23`` (else it starts a fragment), ``?`` → ``%3F``,
``%`` → ``%25``, ``<`` ``>`` → ``%3C`` ``%3E``, ``;`` → ``%3B`` (a path parameter to some
servers), ``+`` → ``%2B``, space → ``%20`` (DOI Handbook 2.5.2.4).

Retries and pacing (:mod:`worker.pids.readonly`): a 429/5xx is asked again by the session
(honouring a short Retry-After), a 404/406 never; each resolve or doiRA lookup takes one slot of
the shared limiter (``settings.search.resolver_limit``: doi.org allows about 1,000 requests per
5 minutes per client, API_FACTS.md §2.1) when the process has one. The composition root builds
one Negotiator per process with the shared limiter; ``pidsync resolve`` runs without one.

Redirects (:mod:`worker.pids.redirects`): each hop is checked before it is followed: https to a
host of ``settings.redirect_hosts`` whose every address is public, or the resolver's own origin
when it is loopback (the sandbox). A refused hop is :class:`ResolveFailed` naming the host and
why; nothing is sent to it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from worker.config import DEFAULT_REDIRECT_HOSTS
from worker.errors import PermanentError, PidsyncError, TransientError
from worker.http import HttpError, Recorder, RequestError, ServerError, TransportError
from worker.pids.client import CrossrefRestClient
from worker.pids.identifiers import doi_path, normalize_doi
from worker.pids.readonly import ReadClient
from worker.pids.redirects import RedirectPolicy, UnsafeRedirect

if TYPE_CHECKING:
    from worker.config import SearchSettings, Settings
    from worker.metadata.work import Work
    from worker.ratelimit import Limit, RateLimiter

#: Format name → the Accept header sent (alternatives with a lower q where the agencies
#: register another name for the same thing).
FORMATS: dict[str, str] = {
    "csl": "application/vnd.citationstyles.csl+json",
    "bibtex": "application/x-bibtex",
    "ris": "application/x-research-info-systems",
    "citation": "text/x-bibliography",
    "datacite-xml": "application/vnd.datacite.datacite+xml",
    "crossref-xml": "application/vnd.crossref.unixref+xml",
    "rdf": "application/rdf+xml",
    # DataCite's service registers application/x-turtle, not text/turtle (API_FACTS.md §4).
    "turtle": "text/turtle, application/x-turtle;q=0.9",
    "schemaorg": "application/vnd.schemaorg.ld+json, application/ld+json;q=0.9",
}
#: Every ``--format`` of ``pidsync resolve``: the media types above, and ``work``.
FORMAT_NAMES: tuple[str, ...] = (*FORMATS, "work")

#: Which formats each agency's service offers (API_FACTS.md §4 support matrix), by the
#: lower-cased name doiRA gives.
OFFERED: dict[str, tuple[str, ...]] = {
    "crossref": ("csl", "bibtex", "ris", "citation", "crossref-xml", "rdf", "turtle"),
    "datacite": ("csl", "bibtex", "ris", "citation", "datacite-xml", "rdf", "turtle", "schemaorg"),
    "medra": ("csl", "bibtex", "citation", "rdf", "turtle"),
}

_STYLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_HTML = ("text/html", "application/xhtml+xml")


# --- errors -------------------------------------------------------------------------------------


class UnknownFormat(ValueError):
    """A format name that is not one of :data:`FORMAT_NAMES`, or a bad style/locale."""


class ResolveError(PidsyncError):
    """Content negotiation failed; the message is one line that names the DOI."""

    doi: str = ""


class DoiNotFound(ResolveError, PermanentError):
    def __init__(self, doi: str, detail: str = "doi.org answered 404") -> None:
        super().__init__(f"no such DOI: {doi} ({detail})")
        self.doi = doi


class FormatNotOffered(ResolveError, PermanentError):
    def __init__(
        self, doi: str, format_name: str, agency: str | None, *, landing_page: bool = False
    ) -> None:
        self.doi = doi
        self.format = format_name
        self.agency = agency
        self.offered = OFFERED.get((agency or "").lower(), ())
        who = agency or "its registration agency"
        how = "answered with its landing page" if landing_page else "answered 406"
        if self.offered:
            offers = f"it offers: {', '.join(self.offered)}"
        elif agency:
            offers = f"pidsync knows no content-negotiation formats for {agency}"
        else:
            offers = "the agency could not be determined"
        super().__init__(f"{doi}: {who} does not offer {format_name} ({how}); {offers}")


class NoMetadata(ResolveError, PermanentError):
    def __init__(self, doi: str, format_name: str) -> None:
        super().__init__(
            f"{doi}: the DOI exists but its agency has no {format_name} metadata for it (204)"
        )
        self.doi = doi


class ResolveFailed(ResolveError, PermanentError):
    """Another refusal (a 4xx other than 404/406)."""


class ResolverTimeout(ResolveError, TransientError):
    pass


class ResolverUnavailable(ResolveError, TransientError):
    pass


# --- the answer ---------------------------------------------------------------------------------


@dataclass
class Resolved:
    doi: str
    format: str
    accept: str
    content_type: str
    text: str
    url: str  # where the answer finally came from (the agency's service)
    redirects: list[str] = field(default_factory=list)  # each URL that redirected, in order
    work: Work | None = None  # format "work": the Work (``text`` is its JSON)
    notes: list[str] = field(default_factory=list)  # format "work": what the adapter dropped

    def json(self) -> Any:
        return json.loads(self.text)


def accept_header(format_name: str, style: str | None = None, locale: str | None = None) -> str:
    """The Accept header for a format (``citation``: ``style`` and ``locale``, default apa and
    en-US). Raises :class:`UnknownFormat` for an unknown format or a malformed style/locale."""
    if format_name not in FORMATS:
        if format_name == "work":
            raise UnknownFormat("format 'work' is not a media type (use Negotiator.to_work)")
        raise UnknownFormat(
            f"unknown format {format_name!r} (choose from {', '.join(FORMAT_NAMES)})"
        )
    if format_name != "citation":
        return FORMATS[format_name]
    style = style or "apa"
    locale = locale or "en-US"
    if not _STYLE.match(style):
        raise UnknownFormat(f"invalid citation style {style!r} (a CSL style name, e.g. apa)")
    if not _LOCALE.match(locale):
        raise UnknownFormat(f"invalid locale {locale!r} (a language tag, e.g. en-US)")
    return f"text/x-bibliography; style={style}; locale={locale}"


# --- the client ---------------------------------------------------------------------------------


class Negotiator(ReadClient):
    """doi.org: content negotiation (following redirects to the agency) and doiRA."""

    service = "doi.org"

    def __init__(
        self,
        resolver_url: str = "https://doi.org",
        *,
        crossref: CrossrefRestClient | None = None,
        mailto: str | None = None,
        limiter: RateLimiter | None = None,
        limit: Limit | None = None,
        reads: SearchSettings | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        recorder: Recorder | None = None,
        redirect_hosts: tuple[str, ...] | list[str] = DEFAULT_REDIRECT_HOSTS,
        redirects: RedirectPolicy | None = None,
    ) -> None:
        super().__init__(
            resolver_url,
            mailto=mailto,
            limiter=limiter,
            limit=limit,
            reads=reads,
            session=session,
            timeout=timeout,
            recorder=recorder,
            redirects=redirects or RedirectPolicy.for_resolver(resolver_url, redirect_hosts),
        )
        self.http.max_redirects = 10
        self.crossref = crossref

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        limiter: RateLimiter | None = None,
        timeout: float | None = None,
        recorder: Recorder | None = None,
    ) -> Negotiator:
        """The configured resolver and Crossref REST API, paced by ``limiter`` (the process's
        shared one; None in the stateless CLI)."""
        crossref = CrossrefRestClient.from_settings(
            settings, limiter=limiter, timeout=timeout, recorder=recorder
        )
        # Its reads feed to_work (and so enrichment): the same redirect rule as doi.org's.
        crossref.redirects = RedirectPolicy.for_resolver(
            settings.crossref_api_url, settings.redirect_hosts
        )
        return cls(
            settings.doi_resolver_url,
            crossref=crossref,
            mailto=settings.crossref_mailto,
            limiter=limiter,
            limit=settings.search.resolver_limit,
            reads=settings.search,
            timeout=timeout or settings.http_timeout_seconds,
            recorder=recorder,
            redirect_hosts=settings.redirect_hosts,
        )

    def resolve(
        self,
        doi: str,
        format_name: str = "csl",
        *,
        style: str | None = None,
        locale: str | None = None,
    ) -> Resolved:
        """The DOI's metadata as ``format_name`` (see the module docstring for the errors);
        ``work`` gives the Work's JSON as ``text`` and the Work itself (see :meth:`to_work`)."""
        if format_name == "work":
            return self._work(doi)
        accept = accept_header(format_name, style, locale)
        normalized = normalize_doi(doi)
        response = self._get(normalized, "/" + doi_path(normalized), {"Accept": accept})
        status = response.status_code
        redirects = [r.url for r in response.history]
        if status == 404:
            detail = "doi.org answered 404"
            if redirects:
                detail = f"the agency's service at {_host(response.url)} has no record of it"
            raise DoiNotFound(normalized, detail)
        if status == 406:
            raise FormatNotOffered(normalized, format_name, self._agency_or_none(normalized))
        if status == 204:
            raise NoMetadata(normalized, format_name)
        if status >= 300:
            raise ResolveFailed(f"{normalized}: doi.org answered {status} for {format_name}")
        content_type = response.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() in _HTML:
            raise FormatNotOffered(
                normalized, format_name, self._agency_or_none(normalized), landing_page=True
            )
        if "charset" not in content_type.lower():
            response.encoding = "utf-8"  # content negotiation answers are UTF-8
        return Resolved(
            doi=normalized,
            format=format_name,
            accept=accept,
            content_type=content_type,
            text=response.text,
            url=response.url,
            redirects=redirects,
        )

    def agency(self, doi: str) -> str:
        """Who registered the DOI (doiRA's ``RA``: ``Crossref``, ``DataCite``, ``mEDRA``...)."""
        normalized = normalize_doi(doi)
        response = self._get(normalized, "/doiRA/" + doi_path(normalized), {})
        if response.status_code == 404:
            raise DoiNotFound(normalized)
        try:
            answers = response.json()
        except (ValueError, RecursionError):  # no JSON, or nested past the stack
            raise ResolveFailed(
                f"{normalized}: doiRA answered something that is not JSON"
            ) from None
        answer = answers[0] if isinstance(answers, list) and answers else {}
        agency = answer.get("RA") if isinstance(answer, dict) else None
        if isinstance(agency, str) and agency:
            return agency
        status = answer.get("status") if isinstance(answer, dict) else None
        if status == "DOI does not exist":
            raise DoiNotFound(normalized, "doiRA: DOI does not exist")
        raise ResolveFailed(f"{normalized}: doiRA gave no agency ({status or 'no answer'})")

    def to_work(self, doi: str) -> tuple[Work, list[str]]:
        """The DOI's metadata as a Work and the adapter's notes (what it could not carry).

        DataCite DOIs: DataCite XML; Crossref DOIs: the Crossref REST work message (when a
        ``crossref`` client is given; richer than CSL: funders, licences, affiliations);
        others: CSL-JSON. Raises the errors of :meth:`resolve`, or
        :class:`~worker.metadata.errors.MetadataError` when the answer cannot become a Work.
        """
        from worker.metadata import adapters

        normalized = normalize_doi(doi)
        agency = self.agency(normalized).lower()
        if agency == "datacite":
            answer = self.resolve(normalized, "datacite-xml")
            work, notes = adapters.datacite_xml_to_work(answer.text.encode("utf-8"))
            return work, [f"from DataCite XML: {note}" for note in notes]
        if agency == "crossref" and self.crossref is not None:
            message = self._crossref_message(normalized)
            work, notes = adapters.crossref_message_to_work(message)
            return work, [f"from the Crossref REST message: {note}" for note in notes]
        answer = self.resolve(normalized, "csl")
        work, notes = adapters.csl_to_work(answer.text)  # not JSON: InputError
        return work, [f"from CSL-JSON: {note}" for note in notes]

    def _work(self, doi: str) -> Resolved:
        from worker.metadata.work import work_to_json

        normalized = normalize_doi(doi)
        work, notes = self.to_work(normalized)
        text = json.dumps(work_to_json(work), indent=2, ensure_ascii=False) + "\n"
        return Resolved(
            doi=normalized,
            format="work",
            accept="",
            content_type="application/json",
            text=text,
            url=self.url("/" + doi_path(normalized)),
            work=work,
            notes=notes,
        )

    def _crossref_message(self, doi: str) -> dict[str, Any]:
        if self.crossref is None:  # to_work asks only when there is a client
            raise ResolveFailed(f"{doi}: no Crossref REST API is configured")
        try:
            message = self.crossref.work(doi)
        except TransportError as exc:
            raise ResolverUnavailable(f"{doi}: Crossref REST API: {exc}") from None
        except ServerError as exc:
            raise ResolverUnavailable(
                f"{doi}: Crossref REST API is unavailable (HTTP {exc.status})",
                retry_after=exc.retry_after,
            ) from None
        except HttpError as exc:
            raise ResolveFailed(f"{doi}: Crossref REST API: {exc}") from None
        if message is None:
            raise DoiNotFound(doi, "the Crossref REST API has no record of it")
        return message

    # -- plumbing ----------------------------------------------------------------------------

    def _get(self, doi: str, path: str, headers: dict[str, str]) -> requests.Response:
        try:
            return self.get(path, headers=headers, ok=(404, 406))
        except TransportError as exc:
            context = exc.__context__
            if isinstance(context, requests.Timeout):
                raise ResolverTimeout(
                    f"{doi}: no answer from {_host(self.url(path))} within {self.timeout:g}s"
                ) from None
            if isinstance(context, UnsafeRedirect):
                raise ResolveFailed(f"{doi}: {_host(self.url(path))}: {context}") from None
            if isinstance(context, requests.TooManyRedirects):
                raise ResolveFailed(
                    f"{doi}: too many redirects from {_host(self.url(path))}"
                ) from None
            raise ResolverUnavailable(
                f"{doi}: cannot reach {_host(self.url(path))} ({_reason(context)})"
            ) from None
        except ServerError as exc:
            after = f", retry after {exc.retry_after:g}s" if exc.retry_after else ""
            what = "rate limited" if exc.status == 429 else "unavailable"
            raise ResolverUnavailable(
                f"{doi}: {_host(self.url(path))} is {what} (HTTP {exc.status}{after})",
                retry_after=exc.retry_after,
            ) from None
        except RequestError as exc:
            raise ResolveFailed(
                f"{doi}: {_host(self.url(path))} refused the request (HTTP {exc.status})"
            ) from None
        except HttpError as exc:
            raise ResolverUnavailable(f"{doi}: {exc}") from None

    def _agency_or_none(self, doi: str) -> str | None:
        try:
            return self.agency(doi)
        except ResolveError:
            return None


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__ if exc is not None else "network error"


# --- module-level conveniences ------------------------------------------------------------------


def default_negotiator() -> Negotiator:
    """A Negotiator from the configuration (``PIDSYNC_DOI_RESOLVER_URL`` and friends)."""
    from worker.config import load_settings

    return Negotiator.from_settings(load_settings())


def resolve(
    doi: str,
    format: str = "csl",  # noqa: A002 - the name the CLI and the issue use
    style: str | None = None,
    locale: str | None = None,
    *,
    negotiator: Negotiator | None = None,
) -> Resolved:
    """The DOI's metadata in ``format`` from the configured resolver (see :class:`Negotiator`)."""
    return (negotiator or default_negotiator()).resolve(doi, format, style=style, locale=locale)


def agency(doi: str, *, negotiator: Negotiator | None = None) -> str:
    """Who registered the DOI (``Crossref``, ``DataCite``, ...), via doiRA."""
    return (negotiator or default_negotiator()).agency(doi)
