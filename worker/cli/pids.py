"""``pidsync resolve``, ``pidsync search`` and ``pidsync id check``: the PID toolkit.

The lead adds the command objects to the ``pidsync`` group: :data:`resolve` (``resolve``),
:data:`search` (``search``) and :data:`id_command` (the ``id`` group with ``check``).

Stateless: nothing from the database or broker stack is imported (the work happens in lazy
imports inside each command). The answer goes to stdout alone; notes, warnings and progress
to stderr. Exit codes: 0 done (a search with one registry down is still an answer, with a
warning), 1 a remote failure (no such DOI, format not offered, no metadata, timeout, every
registry down), 2 bad input (an invalid identifier, an unknown format, bad options) or bad
configuration. Every failure is one line on stderr.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TextIO

import click

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from worker.config import Settings
    from worker.pids.search import RegistrySearch, SearchHit, SearchQuery

#: Kept equal to ``worker.pids.negotiation.FORMAT_NAMES`` (a test checks); listed here so
#: that loading the CLI imports nothing but click.
FORMAT_NAMES = ("csl", "bibtex", "ris", "citation", "datacite-xml", "crossref-xml", "rdf",
                "turtle", "schemaorg", "work")  # fmt: skip
#: Kept equal to ``worker.metadata.types.WorkType`` values (a test checks).
WORK_TYPES = ("journal-article", "preprint", "book", "book-chapter", "edited-book",
              "conference-paper", "dataset", "software", "report", "dissertation",
              "working-paper", "poster", "presentation", "other", "reference-book",
              "peer-review", "component")  # fmt: skip
ID_KINDS = ("doi", "orcid", "ror", "issn", "isbn")


def _fail(command: str, message: str, code: int) -> NoReturn:
    click.echo(f"pidsync {command}: {message}", err=True)
    sys.exit(code)


def _settings(command: str) -> Settings:
    from worker.config import ConfigError, load_settings
    from worker.logging import configure_logging

    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(command, str(exc), 2)
    # Log lines (none below WARNING by default) go to stderr, never into the answer.
    configure_logging(settings.log_level, settings.log_renderer)
    return settings


# --- resolve -----------------------------------------------------------------------------------


@click.command("resolve")
@click.argument("doi")
@click.option(
    "--format",
    "format_name",
    default="csl",
    show_default=True,
    metavar="[" + "|".join(FORMAT_NAMES) + "]",
    help="What to ask for; 'work' converts the answer into a pidsync Work (JSON).",
)
@click.option("--style", default=None, help="Citation style for --format citation (default apa).")
@click.option("--locale", default=None, help="Citation locale for --format citation (en-US).")
@click.option(
    "--agency",
    "agency_only",
    is_flag=True,
    help="Only say which agency registered the DOI (doi.org's doiRA).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds to wait for an answer (default: PIDSYNC_HTTP_TIMEOUT_SECONDS).",
)
def resolve(
    doi: str,
    format_name: str,
    style: str | None,
    locale: str | None,
    agency_only: bool,
    timeout: float | None,
) -> None:
    """The metadata of DOI from doi.org by content negotiation (the DOI in any written form:
    10.x/y, doi:10.x/y, https://doi.org/10.x/y, https://dx.doi.org/10.x/y)."""
    from worker.metadata.errors import MetadataError
    from worker.pids.identifiers import InvalidIdentifier, normalize_doi
    from worker.pids.negotiation import Negotiator, ResolveError, UnknownFormat, accept_header

    try:
        normalized = normalize_doi(doi)
    except InvalidIdentifier as exc:
        _fail("resolve", str(exc), 2)
    if format_name not in FORMAT_NAMES:
        _fail(
            "resolve", f"unknown format {format_name!r} (choose from {', '.join(FORMAT_NAMES)})", 2
        )
    if format_name == "citation":
        try:
            accept_header(format_name, style, locale)
        except UnknownFormat as exc:
            _fail("resolve", str(exc), 2)
    elif (style or locale) and not agency_only:
        click.echo("note: --style and --locale apply to --format citation only", err=True)
    settings = _settings("resolve")
    negotiator = Negotiator.from_settings(settings, timeout=timeout)
    try:
        if agency_only:
            click.echo(negotiator.agency(normalized))
            return
        answer = negotiator.resolve(normalized, format_name, style=style, locale=locale)
    except ResolveError as exc:
        _fail("resolve", str(exc), 1)
    except MetadataError as exc:
        _fail("resolve", f"{normalized}: the agency's record cannot be read as a Work: {exc}", 1)
    for note in answer.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(answer.text, nl=not answer.text.endswith("\n"))


# --- search ------------------------------------------------------------------------------------

CSV_COLUMNS = ("doi", "title", "authors", "author_count", "year", "type", "registry_type",
               "container", "agency", "score", "rank")  # fmt: skip


@click.command("search")
@click.argument("query", required=False)
@click.option(
    "--registry",
    type=click.Choice(["crossref", "datacite", "all"]),
    default="all",
    show_default=True,
)
@click.option("--title", default=None, help="Words of the title.")
@click.option("--author", default=None, help="An author's name.")
@click.option("--year", type=click.IntRange(1000, 9999), default=None, help="Publication year.")
@click.option(
    "--type",
    "work_type",
    type=click.Choice(WORK_TYPES),
    default=None,
    help="A pidsync Work type (mapped to each registry's types).",
)
@click.option(
    "--rows",
    type=click.IntRange(1, 1000),
    default=None,
    help="How many results (default 20); with --all, the page size (default 100).",
)
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Every result, page by page with cursors (progress on a terminal).",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON array of results.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds to wait for each answer (default: PIDSYNC_HTTP_TIMEOUT_SECONDS).",
)
def search(
    query: str | None,
    registry: str,
    title: str | None,
    author: str | None,
    year: int | None,
    work_type: str | None,
    rows: int | None,
    everything: bool,
    as_json: bool,
    as_csv: bool,
    timeout: float | None,
) -> None:
    """Search Crossref and DataCite at once for QUERY (free text; DataCite reads it as an
    Elasticsearch query string) and/or --title/--author/--year/--type. Results are merged by
    rank, one DOI once. A table on a terminal, tab-separated when piped, or --json/--csv."""
    from worker.pids.search import REGISTRIES, RegistrySearch, SearchFailed, SearchQuery

    if as_json and as_csv:
        _fail("search", "choose one of --json and --csv", 2)
    search_query = SearchQuery(
        text=query.strip() if query and query.strip() else None,
        title=title or None,
        author=author or None,
        year=year,
        type=work_type,
    )
    if search_query.is_empty:
        _fail("search", "give a QUERY or one of --title, --author, --year, --type", 2)
    settings = _settings("search")
    registries = REGISTRIES if registry == "all" else (registry,)
    searcher = RegistrySearch.from_settings(settings, registries=registries, timeout=timeout)
    out = sys.stdout
    err = sys.stderr
    progress = _Progress(err) if everything and err.isatty() else None

    def warn(message: str) -> None:
        if progress is not None:
            progress.clear()
        click.echo(message, err=True)

    if everything:
        hits: Iterable[SearchHit] = searcher.stream(
            search_query,
            page_size=rows or 100,
            on_warning=warn,
            on_progress=progress.update if progress is not None else None,
        )
    else:
        hits = _LazyAnswer(searcher, search_query, rows or 20, warn)
    writer = _writer(out, as_json=as_json, as_csv=as_csv)
    try:
        for hit in hits:
            if progress is not None:
                progress.clear()  # redrawn after each page; never in the middle of a row
            writer.write(hit)
    except SearchFailed as exc:
        writer.close(complete=False)
        if progress is not None:
            progress.clear()
        _fail("search", f"no registry answered: {exc}", 2 if exc.bad_request else 1)
    except BrokenPipeError:
        _stdout_gone()
    finally:
        searcher.close()
    writer.close(complete=True)
    if progress is not None:
        progress.clear()


class _Writer(Protocol):
    def write(self, hit: SearchHit) -> None: ...

    def close(self, *, complete: bool) -> None: ...


def _writer(out: TextIO, *, as_json: bool, as_csv: bool) -> _Writer:
    if as_json:
        return _JsonWriter(out)
    if as_csv:
        return _CsvWriter(out)
    return _TableWriter(out) if out.isatty() else _TsvWriter(out)


def _stdout_gone() -> NoReturn:
    """The reader of stdout left (``pidsync search ... | head``): stop quietly."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush cannot fail
    sys.exit(0)


class _LazyAnswer:
    """The top results, fetched when iterated (so that one code path prints both modes)."""

    def __init__(
        self,
        searcher: RegistrySearch,
        query: SearchQuery,
        rows: int,
        warn: Callable[[str], None],
    ) -> None:
        self.searcher, self.query, self.rows, self.warn = searcher, query, rows, warn

    def __iter__(self) -> Iterator[SearchHit]:
        answer = self.searcher.search(self.query, rows=self.rows, on_warning=self.warn)
        return iter(answer.hits)


class _Progress:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False

    def update(self, count: int, total: int | None) -> None:
        of = f" of about {total}" if total is not None else ""
        self.stream.write(f"\r{count}{of} results")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def _hit_row(hit: SearchHit) -> dict[str, Any]:
    row = hit.to_json()
    row["authors"] = "; ".join(hit.authors)
    return row


class _JsonWriter:
    """A JSON array, written item by item (valid JSON once closed)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0

    def write(self, hit: SearchHit) -> None:
        import json

        self.out.write(("[\n  " if self.count == 0 else ",\n  ") + json.dumps(hit.to_json()))
        self.out.flush()
        self.count += 1

    def close(self, *, complete: bool) -> None:
        del complete  # the array is closed either way: what was printed stays valid JSON
        self.out.write("[]\n" if self.count == 0 else "\n]\n")
        self.out.flush()


class _CsvWriter:
    def __init__(self, out: TextIO) -> None:
        import csv

        self.out = out
        self.writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        self.writer.writeheader()

    def write(self, hit: SearchHit) -> None:
        self.writer.writerow(_hit_row(hit))
        self.out.flush()

    def close(self, *, complete: bool) -> None:
        del complete
        self.out.flush()


class _TsvWriter:
    """Piped without --json/--csv: one tab-separated line per result, nothing truncated:
    doi, year, type, agency, authors, title, container."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, hit: SearchHit) -> None:
        cells = [hit.doi, hit.year, hit.type, hit.agency, "; ".join(hit.authors), hit.title,
                 hit.container]  # fmt: skip
        line = "\t".join("" if c is None else str(c).replace("\t", " ") for c in cells)
        self.out.write(line + "\n")
        self.out.flush()

    def close(self, *, complete: bool) -> None:
        del complete
        self.out.flush()


class _TableWriter:
    """Plain aligned columns on a terminal, fixed widths so that --all can stream."""

    def __init__(self, out: TextIO) -> None:
        import shutil

        self.out = out
        self.width = max(80, shutil.get_terminal_size((120, 24)).columns)
        self.count = 0

    @staticmethod
    def _cell(value: Any, width: int) -> str:
        text = "" if value is None else " ".join(str(value).split())
        return text if len(text) <= width else text[: width - 1] + "…"

    def _line(self, doi: Any, year: Any, kind: Any, agency: Any, authors: Any, title: Any) -> str:
        fixed = (
            f"{self._cell(doi, 34):<34}  {self._cell(year, 4):<4}  {self._cell(kind, 16):<16}  "
            f"{self._cell(agency, 8):<8}  {self._cell(authors, 22):<22}  "
        )
        return fixed + self._cell(title, max(10, self.width - len(fixed)))

    def write(self, hit: SearchHit) -> None:
        if self.count == 0:
            self.out.write(self._line("DOI", "YEAR", "TYPE", "AGENCY", "FIRST AUTHOR", "TITLE"))
            self.out.write("\n")
        first = hit.authors[0] if hit.authors else ""
        if hit.author_count > 1:
            first += " et al."
        self.out.write(self._line(hit.doi, hit.year, hit.type, hit.agency, first, hit.title))
        self.out.write("\n")
        self.out.flush()
        self.count += 1

    def close(self, *, complete: bool) -> None:
        if self.count == 0 and complete:
            click.echo("no results", err=True)
        self.out.flush()


# --- id ------------------------------------------------------------------------------------------


@click.group("id")
def id_command() -> None:
    """Identifier hygiene: DOI, ORCID iD, ROR, ISSN, ISBN."""


_ORCID_LIKE = re.compile(r"^(?:\d[\s-]?){15}[\dXx]$")


def guess_kind(value: str) -> str | None:
    """The kind an (invalid) value was most likely meant to be, for a useful reason."""
    text = value.strip().lower()
    compact = re.sub(r"[\s-]", "", text)
    if "doi" in text or text.startswith("10."):
        return "doi"
    if "orcid" in text or _ORCID_LIKE.match(text):
        return "orcid"
    if "ror.org" in text or re.fullmatch(r"0[0-9a-z]{8}", text):
        return "ror"
    if "issn" in text or re.fullmatch(r"\d{7}[\dx]", compact):
        return "issn"
    if "isbn" in text or re.fullmatch(r"\d{9}[\dx]|\d{13}", compact):
        return "isbn"
    return None


def check_identifier(value: str, kind: str | None = None) -> dict[str, Any]:
    """``{"value", "valid", "kind", "normalized", "url"}`` or ``{..., "reason"}``."""
    from worker.pids import identifiers as ids

    if kind is None:
        found = ids.detect(value)
        if found is not None:
            kind = found[0]
        else:
            kind = guess_kind(value)
            if kind is None:
                return {"value": value, "valid": False, "kind": None,
                        "reason": "not a DOI, ORCID iD, ROR id, ISSN or ISBN"}  # fmt: skip
    try:
        normalized = ids.normalize(kind, value)  # type: ignore[arg-type]
    except ids.InvalidIdentifier as exc:
        return {"value": value, "valid": False, "kind": kind, "reason": exc.reason}
    url = ids.url(kind, normalized)  # type: ignore[arg-type]
    return {"value": value, "valid": True, "kind": kind, "normalized": normalized, "url": url}


@id_command.command("check")
@click.argument("values", nargs=-1, required=True)
@click.option(
    "--kind",
    type=click.Choice(ID_KINDS),
    default=None,
    help="Check as this kind only (default: recognise the kind).",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON array, invalid values included.")
def id_check(values: tuple[str, ...], kind: str | None, as_json: bool) -> None:
    """Validate and normalise each VALUE: its kind, normalised form and URL (tab-separated),
    or why it is invalid (stderr). Exit code 2 if any is invalid."""
    import json

    results = [check_identifier(value, kind) for value in values]
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
    for result in results:
        if result["valid"] and not as_json:
            cells = (result["value"], result["kind"], result["normalized"], result["url"])
            click.echo("\t".join(cells))
        elif not result["valid"]:
            what = f"invalid {result['kind']}" if result["kind"] else "not recognised"
            click.echo(
                f"pidsync id check: {result['value']!r}: {what}: {result['reason']}", err=True
            )
    if not all(result["valid"] for result in results):
        sys.exit(2)
