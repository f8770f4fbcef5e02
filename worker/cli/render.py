"""``pidsync render``: convert metadata between a Work, the agencies' formats and citations.

Stateless: imports nothing from the database or broker (the Crossref head's defaults come from
``worker.config``, which imports none either). The result goes to stdout alone; notes (what an
adapter could not represent, what ORCID's limits cut, which schema validated the output) to
stderr. Bad input or a Work lacking what the target needs: exit code 2 with a message naming
each problem (and a hint where an option helps: ``--url``, ``--draft``). Output that fails
``--validate``: exit code 1. A validation that could not run (the official schemas neither at
hand nor fetchable): exit code 3, saying why.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from worker.metadata.errors import MissingFields
    from worker.metadata.work import Work

FROM_FORMATS = ("work", "datacite-xml", "datacite-json", "csl", "crossref-json")
TO_FORMATS = ("work", "datacite-xml", "datacite-json", "crossref-xml", "orcid-json",
              "orcid-xml", "csl", "bibtex", "ris")  # fmt: skip
_SINGLE = ("datacite-xml", "datacite-json")


@click.command("render")
@click.option("--from", "source_format", type=click.Choice(FROM_FORMATS), default="work",
              show_default=True, help="Input format.")  # fmt: skip
@click.option("--to", "target", type=click.Choice(TO_FORMATS), required=True,
              help="Output format.")  # fmt: skip
@click.option("--source", default="cli", show_default=True,
              help="Event source, for the ORCID source-work-id '<source>:<id>'.")  # fmt: skip
@click.option("--id", "work_id", default=None,
              help="Work id when reading another format (default: the record's DOI).")  # fmt: skip
@click.option("--url", "landing_url", default=None,
              help="Landing page of the work read (DataCite XML carries none); replaces the "
                   "input's.")  # fmt: skip
@click.option("--draft", is_flag=True,
              help="With --to datacite-json: draft attributes, needing only the DOI.")  # fmt: skip
@click.option("--depositor-name", envvar="PIDSYNC_CROSSREF_DEPOSITOR_NAME", show_envvar=True,
              help="Crossref <depositor_name> (default: the first configured Crossref "
                   "account's, else 'pidsync').")  # fmt: skip
@click.option("--depositor-email", envvar="PIDSYNC_CROSSREF_DEPOSITOR_EMAIL", show_envvar=True,
              help="Crossref <email_address> (default: the first configured Crossref "
                   "account's, else 'pidsync@example.org').")  # fmt: skip
@click.option("--registrant", envvar="PIDSYNC_CROSSREF_REGISTRANT", show_envvar=True,
              help="Crossref <registrant> (default: the first configured Crossref account's, "
                   "else 'pidsync').")  # fmt: skip
@click.option("--doi-batch-id", default=None, help="Crossref <doi_batch_id> (default: derived).")
@click.option("--timestamp", type=int, default=None,
              help="Crossref <timestamp> (default: now, yyyymmddhhmmssSSS UTC).")  # fmt: skip
@click.option("--validate", is_flag=True,
              help="Check the output against the official schema (fetched from its official "
                   "URL into the data directory on first use); exit 3 when it cannot be "
                   "checked.")  # fmt: skip
@click.option("--schemas", "schema_dir", envvar="PIDSYNC_SCHEMA_DIR", show_envvar=True,
              type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of the official schemas for --validate (as laid out by "
                   "pidsync; missing ones are fetched into it).")  # fmt: skip
@click.argument("file", type=click.File("rb"), default="-")
@click.pass_context
def render(
    ctx: click.Context, /, source_format: str, target: str, file: Any, **options: Any
) -> None:
    """Render FILE (or stdin, '-') as TARGET. A JSON list of Works (or CSL items) makes one
    Crossref deposit, one ORCID bulk body, or several citations."""
    from worker.metadata.errors import MetadataError, MissingFields

    if options["draft"] and target != "datacite-json":
        raise click.UsageError("--draft applies to --to datacite-json only")
    raw = file.read()
    try:
        works, notes = read_works(source_format, raw, options["work_id"])
        if options["landing_url"]:
            works = _with_url(works, options["landing_url"])
        notes += _target_notes(works, target)
        for note in notes:
            click.echo(f"note: {note}", err=True)
        output = render_works(works, target, options)
    except MetadataError as exc:
        click.echo(f"error: {exc.args[0].split(':', 1)[0]}", err=True)
        for path, message in exc.problems:
            click.echo(f"  {path}: {message}" if path else f"  {message}", err=True)
        if isinstance(exc, MissingFields):
            for hint in _hints(exc, source_format, target):
                click.echo(f"hint: {hint}", err=True)
        ctx.exit(2)
    if options["validate"]:
        _validate(ctx, target, output, draft=options["draft"], schema_dir=options["schema_dir"])
    text = output if isinstance(output, str) else json.dumps(output, indent=2, ensure_ascii=False)
    click.echo(text.rstrip("\n"))


def _with_url(works: list[Work], url: str) -> list[Work]:
    from worker.metadata.errors import MetadataError
    from worker.metadata.work import validate_work, work_to_json

    if len(works) != 1:
        raise MetadataError("--url takes one work", [("", f"{len(works)} works read")])
    return [validate_work({**work_to_json(works[0]), "url": url})]


def _target_notes(works: list[Work], target: str) -> list[str]:
    """What the target will cut (ORCID's length and range limits) or leave out
    (``worker.metadata.losses``)."""
    from worker.metadata.losses import losses
    from worker.metadata.render.orcid_json import orcid_truncations

    notes = []
    for index, work in enumerate(works):
        prefix = f"[{index}] " if len(works) > 1 else ""
        if target in ("orcid-json", "orcid-xml"):
            notes += [f"{prefix}orcid: {note}" for note in orcid_truncations(work)]
        notes += [f"{prefix}{note}" for note in losses(work, target)]
    return notes


def _hints(exc: MissingFields, source_format: str, target: str) -> list[str]:
    hints = []
    if "url" in exc.fields and target == "datacite-json":
        hints.append("a draft DOI needs only its DOI: add --draft for draft DataCite JSON")
    if "url" in exc.fields and source_format == "datacite-xml":
        hints.append("DataCite XML carries no landing page: give it with --url")
    return hints


def read_works(source_format: str, raw: bytes, work_id: str | None) -> tuple[list[Work], list[str]]:
    """Works from ``raw`` in ``source_format``, and the adapters' notes."""
    from worker.metadata import adapters
    from worker.metadata.adapters.common import load_json
    from worker.metadata.errors import InputError, WorkValidationError
    from worker.metadata.work import validate_work

    if source_format == "datacite-xml":
        work, lost = adapters.datacite_xml_to_work(raw, work_id=work_id)
        return [work], lost
    data = load_json(raw, source_format)
    if source_format == "work":
        items = data if isinstance(data, list) else [data]
        works: list[Work] = []
        problems: list[tuple[str, str]] = []
        for index, item in enumerate(items):
            try:
                works.append(validate_work(item))
            except WorkValidationError as exc:
                prefix = f"[{index}]" if isinstance(data, list) else ""
                problems += [
                    (f"{prefix}{'.' if prefix and p else ''}{p}", m) for p, m in exc.problems
                ]
        if problems:
            raise WorkValidationError(problems)
        if not works:
            raise InputError("work", "an empty list")
        return works, []
    readers = {
        "datacite-json": lambda d: adapters.datacite_attributes_to_work(d, work_id=work_id),
        "csl": adapters.csl_to_work,
        "crossref-json": adapters.crossref_message_to_work,
    }
    items = data if source_format == "csl" and isinstance(data, list) else [data]
    if not items:
        raise InputError(source_format, "an empty list")
    works = []
    notes: list[str] = []
    for index, item in enumerate(items):
        work, found = readers[source_format](item)
        works.append(work)
        notes += [f"[{index}] {p}" if len(items) > 1 else p for p in found]
    return works, notes


def render_works(works: list[Work], target: str, options: dict[str, Any]) -> Any:
    """The output for ``target``: str for XML and citation text, JSON data otherwise."""
    from worker.metadata.errors import Unrepresentable
    from worker.metadata.render import (
        bibtex,
        csl,
        datacite_json,
        datacite_xml,
        orcid_json,
        orcid_xml,
        ris,
    )
    from worker.metadata.work import work_to_json

    if target in _SINGLE and len(works) > 1:
        raise Unrepresentable(target, [("", f"{len(works)} works given; {target} takes one")])
    source = options.get("source") or "cli"
    if target == "work":
        data = [work_to_json(w) for w in works]
        return data if len(data) > 1 else data[0]
    if target == "datacite-xml":
        return datacite_xml.render_datacite_xml(works[0])
    if target == "datacite-json":
        attributes = datacite_json.render_datacite_attributes(
            works[0], draft=bool(options.get("draft"))
        )
        return {"data": {"id": works[0].doi, "type": "dois", "attributes": attributes}}
    if target == "crossref-xml":
        return _crossref(works, options)
    if target == "orcid-json":
        if len(works) > 1:
            return orcid_json.render_orcid_bulk(works, source=source)
        return orcid_json.render_orcid_work(works[0], source=source)
    if target == "orcid-xml":
        if len(works) > 1:
            return orcid_xml.render_orcid_bulk_xml(works, source=source)
        return orcid_xml.render_orcid_xml(works[0], source=source)
    if target == "csl":
        return [csl.render_csl(w) for w in works]
    if target == "bibtex":
        return "\n".join(bibtex.render_bibtex(w) for w in works)
    return "\n".join(ris.render_ris(w) for w in works)


def _crossref(works: list[Work], options: dict[str, Any]) -> str:
    from worker.metadata.render.crossref_xml import render_crossref_deposit

    timestamp = options.get("timestamp") or int(
        dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")[:17]
    )
    head: dict[str, str] = {key: options[key] for key in CROSSREF_HEAD if options.get(key)}
    if len(head) < len(CROSSREF_HEAD):
        configured, note = crossref_defaults()
        if note:
            click.echo(f"note: {note}", err=True)
        head = configured | head
    return render_crossref_deposit(
        works,
        doi_batch_id=options.get("doi_batch_id") or f"pidsync-{timestamp}",
        timestamps=timestamp,
        depositor_name=head["depositor_name"],
        depositor_email=head["depositor_email"],
        registrant=head["registrant"],
    )


CROSSREF_HEAD = ("depositor_name", "depositor_email", "registrant")


def crossref_defaults() -> tuple[dict[str, str], str | None]:
    """The Crossref head from configuration: the first configured Crossref account's depositor
    name, email and registrant, else the PIDSYNC_CROSSREF_* settings (defaults 'pidsync',
    'pidsync@example.org', 'pidsync'); and a note when the configuration cannot be read.

    ``worker.config`` imports no database or broker code, so this keeps ``render`` stateless.
    """
    from worker.config import ConfigError, CrossrefAccount, Settings, load_settings

    try:
        settings = load_settings()
    except (ConfigError, ValueError) as exc:  # pydantic-settings' SettingsError is a ValueError
        fields = Settings.model_fields
        fallback = {key: str(fields[f"crossref_{key}"].default) for key in CROSSREF_HEAD}
        return fallback, f"{exc}; built-in Crossref defaults used"
    accounts = settings.crossref_account_list()
    source: Settings | CrossrefAccount = accounts[0] if accounts else settings
    if isinstance(source, CrossrefAccount):
        values = [source.depositor_name, source.depositor_email, source.registrant]
    else:
        values = [
            source.crossref_depositor_name,
            source.crossref_depositor_email,
            source.crossref_registrant,
        ]
    return dict(zip(CROSSREF_HEAD, values, strict=True)), None


#: Exit code of a validation that could not run.
CANNOT_VALIDATE = 3


def _schemas_at_hand(ctx: click.Context, schema_dir: Path | None) -> None:
    """Make the official schemas available: the named directory (fetched into when lacking),
    else a reference folder at hand, else the data directory (fetched into on first use).
    Exits 3 when they cannot be had."""
    from worker import reference
    from worker.reference_fetch import SchemaFetchError, fetch_schemas, missing_bundles

    if schema_dir is not None:
        directory = schema_dir
    elif reference.reference_dir() is not None:
        return
    else:
        directory = reference.data_schema_dir()
    if not missing_bundles(directory):
        return
    click.echo(f"note: fetching the official schemas into {directory}", err=True)
    try:
        fetched = fetch_schemas(directory)
    except (SchemaFetchError, OSError) as exc:
        click.echo(f"error: could not validate: the official schemas are not at hand and "
                   f"fetching them failed: {exc}", err=True)  # fmt: skip
        click.echo("hint: name a directory holding them with --schemas DIR "
                   "(PIDSYNC_SCHEMA_DIR)", err=True)  # fmt: skip
        ctx.exit(CANNOT_VALIDATE)
    click.echo(f"note: fetched {', '.join(fetched.bundles)}", err=True)


def _validate(
    ctx: click.Context,
    target: str,
    output: Any,
    *,
    draft: bool = False,
    schema_dir: Path | None = None,
) -> None:
    from worker.metadata.schemas import NO_SCHEMA, check_output

    before = os.environ.get("PIDSYNC_SCHEMA_DIR")
    if schema_dir is not None:
        os.environ["PIDSYNC_SCHEMA_DIR"] = str(schema_dir)  # read by worker.reference
    try:
        if target not in NO_SCHEMA:
            _schemas_at_hand(ctx, schema_dir)
        check = check_output(target, output)
    finally:
        if before is None:
            os.environ.pop("PIDSYNC_SCHEMA_DIR", None)
        else:
            os.environ["PIDSYNC_SCHEMA_DIR"] = before
    _report(ctx, check, target, draft=draft)


def _report(ctx: click.Context, check: Any, target: str, *, draft: bool) -> None:
    from worker.metadata.schemas import NO_SCHEMA

    via = f" ({check.note})" if check.note and check.schema else ""
    if check.errors and draft:
        # DataCite checks a draft's metadata only when it is registered or published.
        click.echo(f"note: a draft need not be valid until it is registered; against "
                   f"{check.schema}{via} it is not yet:", err=True)  # fmt: skip
        for error in check.errors:
            click.echo(f"  {error}", err=True)
        return
    if check.errors:
        click.echo(f"error: output is not valid against {check.schema}{via}:", err=True)
        for error in check.errors:
            click.echo(f"  {error}", err=True)
        ctx.exit(1)
    if check.schema is None and target in NO_SCHEMA:
        click.echo(f"note: not validated: {check.note}", err=True)
        return
    if check.schema is None:
        click.echo(f"error: could not validate: {check.note}", err=True)
        ctx.exit(CANNOT_VALIDATE)
    click.echo(f"note: valid against {check.schema}{via}", err=True)
