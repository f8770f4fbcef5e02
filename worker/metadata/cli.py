"""``pidsync render``: convert metadata between a Work, the agencies' formats and citations.

Stateless: imports nothing from the database or broker. The result goes to stdout alone;
notes (what an adapter could not represent, which schema validated the output) to stderr. Bad
input or a Work lacking what the target needs: exit code 2 with a message naming each problem.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
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
@click.option("--depositor-name", envvar="PIDSYNC_CROSSREF_DEPOSITOR_NAME", default="pidsync",
              show_default=True, help="Crossref <depositor_name>.")  # fmt: skip
@click.option("--depositor-email", envvar="PIDSYNC_CROSSREF_DEPOSITOR_EMAIL",
              default="pidsync@localhost", show_default=True,
              help="Crossref <email_address>.")  # fmt: skip
@click.option("--registrant", envvar="PIDSYNC_CROSSREF_REGISTRANT", default=None,
              help="Crossref <registrant> (default: publisher, else depositor name).")  # fmt: skip
@click.option("--doi-batch-id", default=None, help="Crossref <doi_batch_id> (default: derived).")
@click.option("--timestamp", type=int, default=None,
              help="Crossref <timestamp> (default: now, yyyymmddhhmmssSSS UTC).")  # fmt: skip
@click.option("--validate", is_flag=True,
              help="Check the output against the official schema when it is at hand.")  # fmt: skip
@click.argument("file", type=click.File("rb"), default="-")
@click.pass_context
def render(
    ctx: click.Context, /, source_format: str, target: str, file: Any, **options: Any
) -> None:
    """Render FILE (or stdin, '-') as TARGET. A JSON list of Works (or CSL items) makes one
    Crossref deposit, one ORCID bulk body, or several citations."""
    from worker.metadata.errors import MetadataError

    raw = file.read()
    try:
        works, notes = read_works(source_format, raw, options["work_id"])
        for note in notes:
            click.echo(f"note: {note}", err=True)
        output = render_works(works, target, options)
    except MetadataError as exc:
        click.echo(f"error: {exc.args[0].split(':', 1)[0]}", err=True)
        for path, message in exc.problems:
            click.echo(f"  {path}: {message}" if path else f"  {message}", err=True)
        ctx.exit(2)
    if options["validate"]:
        _validate(ctx, target, output)
    text = output if isinstance(output, str) else json.dumps(output, indent=2, ensure_ascii=False)
    click.echo(text.rstrip("\n"))


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
        attributes = datacite_json.render_datacite_attributes(works[0])
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
    name = options.get("depositor_name") or "pidsync"
    return render_crossref_deposit(
        works,
        doi_batch_id=options.get("doi_batch_id") or f"pidsync-{timestamp}",
        timestamps=timestamp,
        depositor_name=name,
        depositor_email=options.get("depositor_email") or "pidsync@localhost",
        registrant=options.get("registrant") or works[0].publisher or name,
    )


def _validate(ctx: click.Context, target: str, output: Any) -> None:
    from worker.metadata.schemas import check_output

    check = check_output(target, output)
    if check.schema is None:
        click.echo(f"note: not validated: {check.note}", err=True)
        return
    via = f" ({check.note})" if check.note else ""
    if check.valid:
        click.echo(f"note: valid against {check.schema}{via}", err=True)
        return
    click.echo(f"error: output is not valid against {check.schema}{via}:", err=True)
    for error in check.errors:
        click.echo(f"  {error}", err=True)
    ctx.exit(1)
