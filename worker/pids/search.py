"""One search over the registries: Crossref REST ``/works`` and DataCite ``/dois``.

Public interface (``pidsync search`` and the duplicate guard use it; the DOI engineer wires the
guard into minting through :class:`RegistrySearch`):

- :class:`SearchQuery`: free text (passed as is: Crossref ``query``, DataCite's
  Elasticsearch query string), ``title``, ``author``, ``year``, ``type`` (a pidsync Work type).
- :class:`SearchHit`: the normalised result shape, the same for both registries: ``doi``,
  ``title``, ``authors`` (the first three, "Family, Given"), ``author_count``, ``year``,
  ``type`` (pidsync's Work type), ``registry_type`` (the registry's own), ``container``,
  ``agency`` (``crossref`` | ``datacite``), ``score`` (Crossref's relevance score; DataCite's
  API gives none, so None) and ``rank`` (position in its registry's answer, 1-based).
- :class:`RegistrySearch`: both registries in parallel (one thread each), answers merged by
  rank, alternating Crossref then DataCite (the two engines' scores are not comparable, so
  they are not mixed), de-duplicated by DOI (first seen wins), the same order for the same
  answers. :meth:`RegistrySearch.search` gives the top ``rows`` by relevance;
  :meth:`RegistrySearch.stream` walks every result with cursors on both sides (Crossref
  ``cursor=*`` → ``next-cursor``, stop on a short page; DataCite ``page[cursor]=1`` →
  ``links.next``). A registry that fails (down, 5xx, 429 beyond patience, refused query)
  leaves a partial answer and a warning naming it; only when every registry fails is
  :class:`SearchFailed` raised.

Pacing (also used by :mod:`worker.pids.negotiation`): each client waits on a
:class:`Throttle` before every request. :class:`LocalThrottle` is an in-process GCRA (the CLI
starts no Redis) that adopts the limit a service announces in ``X-Rate-Limit-Limit`` /
``X-Rate-Limit-Interval`` (Crossref: 50 per 1s) with a margin, and holds every caller back
after a 429/503 for the ``Retry-After`` it named. :class:`RedisThrottle` adapts
:class:`worker.ratelimit.RateLimiter` for worker-side calls shared by every process. Waits
beyond ``max_wait`` are not slept through: the error is raised (the CLI reports it, an actor
retries later).

Crossref's polite pool: ``mailto`` (``PIDSYNC_CROSSREF_MAILTO``) goes in the query and the
User-Agent; DataCite counts callers with an e-mail in the User-Agent as "identified" (1,000
rather than 500 requests per 5 minutes, API_FACTS.md §2.1).
"""

from __future__ import annotations

import contextlib
import html
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit

import requests

from worker.errors import PidsyncError
from worker.http import (
    USER_AGENT,
    ApiClient,
    HttpError,
    Recorder,
    RequestError,
    ServerError,
    retry_after_seconds,
)
from worker.metadata.types import FROM_CROSSREF_REST, FROM_DATACITE_GENERAL, TYPES, WorkType
from worker.pids.identifiers import InvalidIdentifier, normalize_doi

if TYPE_CHECKING:
    from worker.config import Settings
    from worker.ratelimit import Limit, RateLimiter

REGISTRIES = ("crossref", "datacite")
MAX_ROWS = 1000  # both registries cap a page at 1,000
FIRST_AUTHORS = 3

# --- pacing ------------------------------------------------------------------------------------


class Throttle(Protocol):
    """What a client calls around each request."""

    def acquire(self) -> None:
        """Wait for a slot (or raise when the wait is too long for the caller)."""

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn from an answer's headers (``X-Rate-Limit-*``)."""

    def pause(self, seconds: float) -> None:
        """Hold every caller back ``seconds`` (after a 429/503 with Retry-After)."""


_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate_limit(headers: Mapping[str, str]) -> tuple[int, float] | None:
    """``(limit, interval seconds)`` from ``X-Rate-Limit-Limit: 50`` and
    ``X-Rate-Limit-Interval: 1s``, or None when absent or unreadable."""
    limit_text = headers.get("X-Rate-Limit-Limit")
    interval_text = headers.get("X-Rate-Limit-Interval")
    if not limit_text or not interval_text:
        return None
    match = _INTERVAL.match(interval_text)
    try:
        limit = int(limit_text.strip())
    except ValueError:
        return None
    if match is None or limit <= 0:
        return None
    seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    return (limit, seconds) if seconds > 0 else None


def announced_rate(announced: tuple[int, float], share: float) -> float:
    """The steady rate that stays under "``limit`` per ``interval``" whatever the window's
    alignment: one request of slack in each interval, and ``share`` of the rest (50 per 1s →
    44.1/s; 5 per 1s → 3.6/s)."""
    limit, seconds = announced
    return max(limit - 1, 1) * share / seconds


class LocalThrottle:
    """An in-process GCRA limiter: ``rate`` requests/s on average, bursts of ``burst``.

    Thread-safe: a caller reserves its slot under the lock, then sleeps outside it. An
    announced limit (``X-Rate-Limit-*``) replaces the configured rate (:func:`announced_rate`)
    and bursts, so no interval of the announced length holds more than the limit.
    """

    def __init__(
        self,
        name: str,
        rate: float,
        burst: int = 1,
        *,
        share: float = 0.9,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.name = name
        self.rate = rate
        self.burst = burst
        self.share = share
        self.announced: tuple[int, float] | None = None
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat = 0.0  # theoretical arrival time of the next request
        self._last = float("-inf")  # when the latest slot was granted
        self.waited = 0.0  # total seconds slept, for reporting and tests

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            interval = 1.0 / self.rate
            tat = max(self._tat, now)
            wait = max(0.0, tat - (self.burst - 1) * interval - now)
            self._tat = tat + interval
            self._last = now + wait
        if wait > 0:
            self.waited += wait
            self._sleep(wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        announced = parse_rate_limit(headers)
        if announced is None or announced == self.announced:
            return
        with self._lock:
            self.announced = announced
            self.rate = max(announced_rate(announced, self.share), 1e-3)
            self.burst = 1
            # The slot already reserved at the old rate must respect the new one.
            self._tat = max(self._tat, self._last + 1.0 / self.rate)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._tat = max(self._tat, self._clock() + max(0.0, seconds))


class RedisThrottle:
    """Worker-side pacing shared by every process (:class:`worker.ratelimit.RateLimiter`).

    ``acquire`` sleeps through short waits and raises :class:`worker.errors.Postpone` for long
    ones; an announced limit lower than ``limit`` replaces it (at ``share`` of it).
    """

    def __init__(
        self,
        limiter: RateLimiter,
        limit: Limit,
        *,
        key: str = "",
        share: float = 0.9,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limiter = limiter
        self.limit = limit
        self.key = key
        self.share = share
        self._sleep = sleep

    def acquire(self) -> None:
        self.limiter.acquire(self.limit, self.key)

    def observe(self, headers: Mapping[str, str]) -> None:
        announced = parse_rate_limit(headers)
        if announced is None:
            return
        rate = announced_rate(announced, self.share)
        if rate < self.limit.rate:
            self.limit = type(self.limit)(self.limit.name, rate=rate, burst=1)

    def pause(self, seconds: float) -> None:
        # Only short waits get here (PacedClient raises beyond its max_wait, and the actor's
        # retry honours the error's retry_after); this process waits them out.
        self._sleep(max(0.0, seconds))


def polite_user_agent(mailto: str | None) -> str:
    """pidsync's User-Agent, with ``mailto:`` for Crossref's polite pool when configured."""
    if not mailto:
        return USER_AGENT
    return f"{USER_AGENT.removesuffix(')')}; mailto:{mailto})"


class PacedClient(ApiClient):
    """An :class:`ApiClient` whose GETs wait on a :class:`Throttle` and retry a 429 or 5xx
    after the ``Retry-After`` the service named (or a short backoff), up to ``retries`` times
    and only when the wait is at most ``max_wait`` seconds; otherwise :class:`ServerError`."""

    def __init__(
        self,
        base_url: str,
        *,
        throttle: Throttle,
        retries: int = 3,
        max_wait: float = 10.0,
        backoff: float = 0.5,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        recorder: Recorder | None = None,
    ) -> None:
        super().__init__(base_url, session=session, timeout=timeout, recorder=recorder)
        self.throttle = throttle
        self.retries = retries
        self.max_wait = max_wait
        self.backoff = backoff

    def paced_get(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        statuses: Sequence[int] = (),
    ) -> requests.Response:
        """GET with pacing and retries; ``statuses`` lists further answers the caller reads
        itself (besides 2xx/3xx)."""
        ok = {*range(200, 400), 429, *statuses}
        attempt = 0
        while True:
            self.throttle.acquire()
            try:
                response = self.request(
                    "GET", path, ok=ok, params=dict(params or {}), headers=dict(headers or {})
                )
            except ServerError as exc:
                wait = exc.retry_after
                if wait is None:
                    wait = self.backoff * 2**attempt
                if attempt >= self.retries or wait > self.max_wait:
                    raise
                attempt += 1
                self.throttle.pause(wait)
                continue
            self.throttle.observe(response.headers)
            if response.status_code != 429 or 429 in statuses:
                return response
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            if wait is None:
                wait = self.backoff * 2**attempt
            if attempt >= self.retries or wait > self.max_wait:
                raise ServerError(
                    f"{self.service} GET {self.url(path)} answered 429 (rate limited; "
                    f"Retry-After {wait:g}s)",
                    retry_after=wait,
                    service=self.service,
                    status=429,
                    text=response.text[:200],
                )
            attempt += 1
            self.throttle.pause(wait)


# --- the query and the normalised result ---------------------------------------------------------


@dataclass(frozen=True)
class SearchQuery:
    """What to look for. ``any_title_words`` makes DataCite match any significant word of the
    title (the duplicate guard ranks candidates itself) instead of all of them."""

    text: str | None = None
    title: str | None = None
    author: str | None = None
    year: int | None = None
    type: str | None = None  # a pidsync WorkType value
    any_title_words: bool = False

    def __post_init__(self) -> None:
        if self.type is not None and self.type not in {t.value for t in WorkType}:
            raise ValueError(f"unknown work type {self.type!r}")

    @property
    def is_empty(self) -> bool:
        return not any((self.text, self.title, self.author, self.year, self.type))


@dataclass
class SearchHit:
    """One record, in the same shape whichever registry answered."""

    doi: str
    title: str | None
    authors: list[str]
    author_count: int
    year: int | None
    type: str
    registry_type: str | None
    container: str | None
    agency: str
    score: float | None
    rank: int
    author_families: list[str] = field(default_factory=list, repr=False)
    subtitle: str | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["author_families"], data["subtitle"]
        return data


@dataclass
class Page:
    hits: list[SearchHit]
    next_cursor: str | None  # None: no further page
    total: int | None


#: pidsync Work type → the Crossref REST ``type`` filter value (None: Crossref has no such type).
CROSSREF_TYPE_FILTER: dict[str, str | None] = {
    WorkType.JOURNAL_ARTICLE: "journal-article",
    WorkType.PREPRINT: "posted-content",
    WorkType.BOOK: "book",
    WorkType.BOOK_CHAPTER: "book-chapter",
    WorkType.EDITED_BOOK: "edited-book",
    WorkType.CONFERENCE_PAPER: "proceedings-article",
    WorkType.DATASET: "dataset",
    WorkType.SOFTWARE: None,
    WorkType.REPORT: "report",
    WorkType.DISSERTATION: "dissertation",
    WorkType.WORKING_PAPER: "posted-content",
    WorkType.POSTER: "posted-content",
    WorkType.PRESENTATION: "posted-content",
    WorkType.OTHER: "other",
}
_CROSSREF_SUBTYPES = {
    "preprint": WorkType.PREPRINT,
    "working_paper": WorkType.WORKING_PAPER,
    "working-paper": WorkType.WORKING_PAPER,
    "report": WorkType.REPORT,
    "dissertation": WorkType.DISSERTATION,
    "other": WorkType.OTHER,
}
_WORD = re.compile(r"\w+", re.UNICODE)
_TAG = re.compile(r"<[^>]+>")
_STOPWORDS = frozenset(
    ("a", "an", "and", "are", "as", "at", "be", "by", "de", "der", "die", "for", "from", "in",
     "into", "is", "la", "le", "of", "on", "or", "the", "to", "und", "with"),
)  # fmt: skip


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if isinstance(value, str) and value.strip():
        return " ".join(html.unescape(_TAG.sub("", value)).split())
    return None


def _person(family: Any, given: Any, name: Any) -> tuple[str, str] | None:
    """(display "Family, Given", family or name) of one creator, or None."""
    if isinstance(family, str) and family.strip():
        family = family.strip()
        shown = f"{family}, {given.strip()}" if isinstance(given, str) and given.strip() else family
        return shown, family
    if isinstance(name, str) and name.strip():
        return name.strip(), name.split(",")[0].strip()
    return None


def _year(value: Any) -> int | None:
    try:
        year = int(str(value)[:4])
    except (TypeError, ValueError):
        return None
    return year if 1000 <= year <= 9999 else None


def _clean_doi(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return normalize_doi(value)
    except InvalidIdentifier:
        return None


def crossref_hit(item: Mapping[str, Any], rank: int) -> SearchHit | None:
    """A Crossref REST work item as a :class:`SearchHit` (None without a usable DOI)."""
    doi = _clean_doi(item.get("DOI"))
    if doi is None:
        return None
    people = [
        _person(a.get("family"), a.get("given"), a.get("name"))
        for a in item.get("author") or []
        if isinstance(a, dict)
    ]
    names = [p for p in people if p is not None]
    year = None
    for key in ("issued", "published", "published-print", "published-online", "created"):
        parts = (item.get(key) or {}).get("date-parts") or [[None]]
        year = _year(parts[0][0] if parts and parts[0] else None)
        if year is not None:
            break
    kind = item.get("type")
    work_type: WorkType = WorkType.OTHER
    if kind == "posted-content" and item.get("subtype") in _CROSSREF_SUBTYPES:
        work_type = _CROSSREF_SUBTYPES[item["subtype"]]
    elif kind in FROM_CROSSREF_REST:
        work_type = FROM_CROSSREF_REST[kind]
    score = item.get("score")
    return SearchHit(
        doi=doi,
        title=_first(item.get("title")),
        authors=[shown for shown, _ in names[:FIRST_AUTHORS]],
        author_count=len(names),
        year=year,
        type=work_type.value,
        registry_type=kind if isinstance(kind, str) else None,
        container=_first(item.get("container-title")),
        agency="crossref",
        score=float(score) if isinstance(score, int | float) else None,
        rank=rank,
        author_families=[family for _, family in names],
        subtitle=_first(item.get("subtitle")),
    )


def datacite_hit(item: Mapping[str, Any], rank: int) -> SearchHit | None:
    """A DataCite ``/dois`` data item as a :class:`SearchHit` (None without a usable DOI)."""
    attributes = item.get("attributes") or {}
    doi = _clean_doi(attributes.get("doi") or item.get("id"))
    if doi is None:
        return None
    people = [
        _person(c.get("familyName"), c.get("givenName"), c.get("name"))
        for c in attributes.get("creators") or []
        if isinstance(c, dict)
    ]
    names = [p for p in people if p is not None]
    titles = [t for t in attributes.get("titles") or [] if isinstance(t, dict)]
    main = [t.get("title") for t in titles if not t.get("titleType")]
    subtitles = [t.get("title") for t in titles if t.get("titleType") == "Subtitle"]
    types = attributes.get("types") or {}
    general = types.get("resourceTypeGeneral")
    specific = str(types.get("resourceType") or "").strip().lower()
    work_type = next(
        (
            wt
            for wt, row in TYPES.items()
            if row.datacite_general == general and row.datacite_type.lower() == specific
        ),
        FROM_DATACITE_GENERAL.get(general, WorkType.OTHER) if general else WorkType.OTHER,
    )
    container = attributes.get("container") or {}
    return SearchHit(
        doi=doi,
        title=_first(main or [t.get("title") for t in titles]),
        authors=[shown for shown, _ in names[:FIRST_AUTHORS]],
        author_count=len(names),
        year=_year(attributes.get("publicationYear")),
        type=work_type.value,
        registry_type=general if isinstance(general, str) else None,
        container=_first(container.get("title")) if isinstance(container, dict) else None,
        agency="datacite",
        score=None,
        rank=rank,
        author_families=[family for _, family in names],
        subtitle=_first(subtitles),
    )


def significant_words(text: str) -> list[str]:
    """The words of ``text`` worth searching for (no stopwords, no single letters), in order."""
    seen: list[str] = []
    for word in _WORD.findall(_TAG.sub(" ", text).lower()):
        if len(word) > 1 and word not in _STOPWORDS and word not in seen:
            seen.append(word)
    return seen


# --- the clients -------------------------------------------------------------------------------


class RegistryClient(Protocol):
    name: str

    def page(
        self, query: SearchQuery, rows: int, cursor: str | None, *, relevance: bool
    ) -> Page: ...

    def skip_reason(self, query: SearchQuery) -> str | None: ...


class CrossrefSearchClient(PacedClient):
    """Crossref REST ``GET /works`` (HTTP only)."""

    service = "crossref"
    name = "crossref"
    #: ``select``: only what a hit needs (full records carry reference lists); every name is
    #: one Crossref's select accepts (a name it does not know is a 400).
    FIELDS = (
        "DOI,title,subtitle,author,issued,published-print,published-online,type,"
        "container-title,score"
    )

    def __init__(
        self,
        base_url: str,
        *,
        mailto: str | None = None,
        throttle: Throttle | None = None,
        **kwargs: Any,
    ) -> None:
        # Crossref announces its limit in every answer; start under the documented 50/s.
        super().__init__(base_url, throttle=throttle or LocalThrottle("crossref", 10.0), **kwargs)
        self.mailto = mailto
        self.http.headers["User-Agent"] = polite_user_agent(mailto)

    def skip_reason(self, query: SearchQuery) -> str | None:
        if query.type is not None and CROSSREF_TYPE_FILTER[query.type] is None:
            return f"crossref has no {query.type} type; searched datacite only"
        return None

    def params(self, query: SearchQuery, rows: int, cursor: str | None) -> dict[str, str]:
        params = {"rows": str(rows), "select": self.FIELDS}
        if cursor is not None:
            params["cursor"] = cursor
        if query.text:
            params["query"] = query.text
        if query.title:
            params["query.bibliographic"] = query.title
        if query.author:
            params["query.author"] = query.author
        filters = []
        if query.type is not None:
            kind = CROSSREF_TYPE_FILTER[query.type]
            if kind is not None:
                filters.append(f"type:{kind}")
        if query.year is not None:
            filters += [f"from-pub-date:{query.year}", f"until-pub-date:{query.year}"]
        if filters:
            params["filter"] = ",".join(filters)
        if self.mailto:
            params["mailto"] = self.mailto
        return params

    def work_message(self, doi: str) -> dict[str, Any] | None:
        """``GET /works/{doi}``: the REST envelope of one work, or None when Crossref has none."""
        from worker.pids.negotiation import doi_path

        params = {"mailto": self.mailto} if self.mailto else {}
        response = self.paced_get(f"/works/{doi_path(doi)}", params=params, statuses=(404,))
        if response.status_code == 404:
            return None
        return _json(response, self.service)

    def page(
        self, query: SearchQuery, rows: int, cursor: str | None, *, relevance: bool = False
    ) -> Page:
        """One page; ``cursor`` None = a plain first page (relevance order, no cursor)."""
        del relevance  # Crossref ranks by relevance whenever there is a query
        params = self.params(query, rows, _registry_cursor(cursor))
        message = _json(self.paced_get("/works", params=params), self.service).get("message")
        message = message if isinstance(message, dict) else {}
        items = [i for i in message.get("items") or [] if isinstance(i, dict)]
        start = _offset(cursor)
        hits = [h for i, item in enumerate(items) if (h := crossref_hit(item, start + i + 1))]
        found = message.get("next-cursor")
        next_cursor = None
        # Crossref: follow next-cursor until a page comes back short.
        if cursor is not None and isinstance(found, str) and found and len(items) >= rows:
            next_cursor = _with_offset(found, start + len(items))
        total = message.get("total-results")
        return Page(hits, next_cursor, total if isinstance(total, int) else None)


class DataCiteSearchClient(PacedClient):
    """DataCite REST ``GET /dois`` (HTTP only; anonymous: findable DOIs)."""

    service = "datacite"
    name = "datacite"

    def __init__(
        self,
        base_url: str,
        *,
        mailto: str | None = None,
        throttle: Throttle | None = None,
        **kwargs: Any,
    ) -> None:
        # 1,000 requests per 5 minutes when identified by an e-mail, 500 when not (§2.1);
        # a burst of 20 lets a short search run at once, the average stays under the rule.
        per_window = 1000 if mailto else 500
        throttle = throttle or LocalThrottle("datacite", per_window * 0.95 / 300, burst=20)
        super().__init__(base_url, throttle=throttle, **kwargs)
        self.http.headers["User-Agent"] = polite_user_agent(mailto)

    def skip_reason(self, query: SearchQuery) -> str | None:
        del query
        return None

    @staticmethod
    def query_string(query: SearchQuery) -> str | None:
        """The Elasticsearch query string: the free text as given, field clauses ANDed."""
        clauses = []
        if query.text:
            clauses.append(f"({query.text})")
        if query.title:
            words = significant_words(query.title) or _WORD.findall(query.title.lower())
            joiner = " OR " if query.any_title_words else " AND "
            if words:
                clauses.append(f"titles.title:({joiner.join(words)})")
        if query.author:
            words = _WORD.findall(query.author.lower())
            if words:
                clauses.append(f"creators.name:({' AND '.join(words)})")
        if query.year is not None:
            clauses.append(f"publicationYear:{query.year}")
        return " AND ".join(clauses) or None

    def params(
        self, query: SearchQuery, rows: int, cursor: str | None, *, relevance: bool
    ) -> dict[str, str]:
        params = {"page[size]": str(rows)}
        text = self.query_string(query)
        if text:
            params["query"] = text
        if query.type is not None:
            params["resource-type-id"] = TYPES[WorkType(query.type)].datacite_general
        if cursor is not None:
            params["page[cursor]"] = cursor
        elif relevance and text:
            params["sort"] = "relevance"
        return params

    def page(
        self, query: SearchQuery, rows: int, cursor: str | None, *, relevance: bool = False
    ) -> Page:
        """One page; ``cursor`` "1" starts cursor paging, None asks for the first page only
        (by relevance when ``relevance``)."""
        params = self.params(query, rows, _registry_cursor(cursor), relevance=relevance)
        response = self.paced_get("/dois", params=params)
        body = _json(response, self.service)
        items = [i for i in body.get("data") or [] if isinstance(i, dict)]
        start = _offset(cursor)
        hits = [h for i, item in enumerate(items) if (h := datacite_hit(item, start + i + 1))]
        next_cursor = None
        next_link = (body.get("links") or {}).get("next")
        if cursor is not None and isinstance(next_link, str) and items:
            found = parse_qs(urlsplit(next_link).query).get("page[cursor]")
            next_cursor = _with_offset(found[0], start + len(items)) if found else None
        total = (body.get("meta") or {}).get("total")
        return Page(hits, next_cursor, total if isinstance(total, int) else None)


# Cursors carry the running offset after a "~" so ranks keep counting across pages; the part
# before it is the registry's own cursor, sent back unchanged.
def _with_offset(cursor: str, offset: int) -> str:
    return f"{cursor}~{offset}"


def _offset(cursor: str | None) -> int:
    if cursor is None or "~" not in cursor:
        return 0
    try:
        return int(cursor.rsplit("~", 1)[1])
    except ValueError:
        return 0


def _registry_cursor(cursor: str | None) -> str | None:
    if cursor is None or "~" not in cursor:
        return cursor
    return cursor.rsplit("~", 1)[0]


def _json(response: requests.Response, service: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise HttpError(
            f"{service} answered {response.status_code} with a body that is not JSON",
            service=service,
            status=response.status_code,
            text=response.text[:200],
        ) from None
    if not isinstance(body, dict):
        raise HttpError(f"{service} answered JSON that is not an object", service=service)
    return body


# --- the merged search -------------------------------------------------------------------------


class SearchFailed(PidsyncError):
    """Every registry asked failed; the message names each and why (one line)."""

    def __init__(self, failures: Mapping[str, str], *, bad_request: bool = False) -> None:
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in failures.items()))
        self.failures = dict(failures)
        self.bad_request = bad_request


@dataclass
class SearchAnswer:
    hits: list[SearchHit]
    warnings: list[str]
    totals: dict[str, int | None]
    failed: dict[str, str]


def describe_failure(exc: Exception) -> str:
    """One line on why a registry call failed."""
    if isinstance(exc, ServerError) and exc.status == 429:
        return f"rate limited (429, retry after {exc.retry_after or 0:g}s)"
    if isinstance(exc, ServerError) and exc.status is not None:
        after = f", retry after {exc.retry_after:g}s" if exc.retry_after else ""
        return f"unavailable (HTTP {exc.status}{after})"
    if isinstance(exc, RequestError):
        detail = _error_detail(exc.body) or (exc.text or "")[:120]
        return f"refused the query (HTTP {exc.status}{': ' + detail if detail else ''})"
    context = exc.__context__
    if isinstance(context, requests.Timeout):
        return "timed out"
    if isinstance(context, requests.ConnectionError):
        return "unreachable (connection failed)"
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _error_detail(body: Any) -> str | None:
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("title") or "") or None
        message = body.get("message")
        if isinstance(message, list) and message and isinstance(message[0], dict):
            return str(message[0].get("message") or "").strip() or None
    return None


class SearchRun:
    """An iteration over merged hits; ``warnings``, ``totals`` and ``failed`` fill as it goes."""

    def __init__(
        self,
        search: RegistrySearch,
        query: SearchQuery,
        *,
        page_size: int,
        limit: int | None,
        cursors: bool,
        on_warning: Callable[[str], None] | None,
        on_progress: Callable[[int, int | None], None] | None,
    ) -> None:
        self.search = search
        self.query = query
        self.page_size = max(1, min(page_size, MAX_ROWS))
        self.limit = limit
        self.cursors = cursors
        self.on_warning = on_warning
        self.on_progress = on_progress
        self.warnings: list[str] = []
        self.totals: dict[str, int | None] = {}
        self.failed: dict[str, str] = {}
        self.fetched: dict[str, int] = {}  # hits each registry answered (before de-duplication)
        self.count = 0

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if self.on_warning is not None:
            self.on_warning(message)

    def __iter__(self) -> Iterator[SearchHit]:
        clients = self.search.clients
        live: dict[str, str | None] = {}
        for name, client in clients.items():
            reason = client.skip_reason(self.query)
            if reason is None:
                live[name] = "*" if name == "crossref" else "1"
            else:
                self.warn(reason)
        if not self.cursors:
            live = dict.fromkeys(live)
        seen: set[str] = set()
        asked = set(live)
        with ThreadPoolExecutor(max_workers=max(1, len(live)), thread_name_prefix="search") as pool:
            first = True
            while live:
                futures = {
                    name: pool.submit(
                        clients[name].page,
                        self.query,
                        self.page_size,
                        cursor,
                        relevance=not self.cursors,
                    )
                    for name, cursor in live.items()
                }
                pages: dict[str, Page] = {}
                failed_now: list[str] = []
                for name, future in futures.items():  # registry order: stable merging
                    try:
                        pages[name] = future.result()
                    except (HttpError, ValueError) as exc:
                        self.failed[name] = describe_failure(exc)
                        failed_now.append(name)
                        del live[name]
                if self.failed.keys() >= asked:
                    break  # nothing left to answer: SearchFailed below, no warnings first
                for name in failed_now:
                    self.warn(self._partial_warning(name, self.failed[name], first=first))
                for name, page in pages.items():
                    self.fetched[name] = self.fetched.get(name, 0) + len(page.hits)
                    if first:
                        self.totals[name] = page.total
                    if page.next_cursor is None or not self.cursors:
                        live.pop(name, None)
                    else:
                        live[name] = page.next_cursor
                first = False
                for hit in _interleave([pages[name].hits for name in clients if name in pages]):
                    if hit.doi in seen:
                        continue
                    seen.add(hit.doi)
                    self.count += 1
                    yield hit
                    if self.limit is not None and self.count >= self.limit:
                        return
                if self.on_progress is not None:
                    known = [t for t in self.totals.values() if t is not None]
                    self.on_progress(self.count, sum(known) if known else None)
        if asked and self.failed.keys() >= asked:
            bad = all(reason.startswith("refused") for reason in self.failed.values())
            raise SearchFailed(self.failed, bad_request=bad)

    def _partial_warning(self, name: str, reason: str, *, first: bool) -> str:
        others = [n for n in self.search.clients if n != name and n not in self.failed]
        only = f" from {', '.join(others)} only" if others else ""
        if first:
            return f"warning: {name} {reason}: results are{only}"
        got = self.fetched.get(name, 0)
        return f"warning: {name} {reason} after {got} of its results: the rest are{only}"


def _interleave(pages: Sequence[Sequence[SearchHit]]) -> Iterator[SearchHit]:
    for index in range(max((len(p) for p in pages), default=0)):
        for page in pages:
            if index < len(page):
                yield page[index]


class RegistrySearch:
    """Crossref and DataCite behind one call (see the module docstring)."""

    def __init__(self, clients: Mapping[str, RegistryClient]) -> None:
        unknown = set(clients) - set(REGISTRIES)
        if unknown:
            raise ValueError(f"unknown registries: {', '.join(sorted(unknown))}")
        # Fixed order (Crossref, then DataCite) whatever the mapping's order: stable merging.
        self.clients = {name: clients[name] for name in REGISTRIES if name in clients}
        if not self.clients:
            raise ValueError("no registry to search")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        registries: Sequence[str] = REGISTRIES,
        timeout: float | None = None,
        max_wait: float = 10.0,
        recorder: Recorder | None = None,
        throttles: Mapping[str, Throttle] | None = None,
    ) -> RegistrySearch:
        """Clients for the configured ``crossref_api_url`` and ``datacite_url``; ``throttles``
        by registry name (e.g. :class:`RedisThrottle` in workers), else in-process ones."""
        common: dict[str, Any] = {
            "timeout": timeout or settings.http_timeout_seconds,
            "max_wait": max_wait,
            "recorder": recorder,
        }
        paced = throttles or {}
        clients: dict[str, RegistryClient] = {}
        if "crossref" in registries:
            clients["crossref"] = CrossrefSearchClient(
                settings.crossref_api_url,
                mailto=settings.crossref_mailto,
                throttle=paced.get("crossref"),
                **common,
            )
        if "datacite" in registries:
            clients["datacite"] = DataCiteSearchClient(
                settings.datacite_url,
                mailto=settings.crossref_mailto,
                throttle=paced.get("datacite"),
                **common,
            )
        return cls(clients)

    def search(
        self,
        query: SearchQuery,
        *,
        rows: int = 20,
        on_warning: Callable[[str], None] | None = None,
    ) -> SearchAnswer:
        """The top ``rows`` (≤ 1,000) by relevance: one page from each registry, merged."""
        run = SearchRun(
            self,
            query,
            page_size=rows,
            limit=rows,
            cursors=False,
            on_warning=on_warning,
            on_progress=None,
        )
        hits = list(run)
        return SearchAnswer(hits, run.warnings, run.totals, run.failed)

    def stream(
        self,
        query: SearchQuery,
        *,
        page_size: int = 100,
        limit: int | None = None,
        on_warning: Callable[[str], None] | None = None,
        on_progress: Callable[[int, int | None], None] | None = None,
    ) -> SearchRun:
        """Every result, page by page with cursors on both sides (``limit`` stops early)."""
        return SearchRun(
            self,
            query,
            page_size=page_size,
            limit=limit,
            cursors=True,
            on_warning=on_warning,
            on_progress=on_progress,
        )

    def close(self) -> None:
        for client in self.clients.values():
            if isinstance(client, ApiClient):
                with contextlib.suppress(Exception):
                    client.http.close()
