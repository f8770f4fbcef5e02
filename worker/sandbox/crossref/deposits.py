"""Crossref deposit processing: submissions, per-record checks and diagnostics.

A submission goes queued → in_process → completed. Processing checks, for the whole file: XML
syntax and the 5.3.1 XSD (when at hand); then for each ``<doi_data>``: prefix ownership
("User not allowed to add records for prefix: ..."), one prefix per batch ("All prefixes in
a submission must match (DOI[...])"), a ``<timestamp>`` newer than the last accepted one for
that DOI ("Record not processed because submitted version: ..."), and forced outcomes set
through the control API.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from worker.reference import xsd
from worker.sandbox.crossref.message import record_xml, work_message
from worker.sandbox.crossref.notify import Endpoint

STATUSES = ("queued", "in_process", "completed")


@dataclass
class RecordDiagnostic:
    doi: str
    status: str  # Success | Warning | Failure
    msg: str

    def as_dict(self) -> dict[str, str]:
        return {"doi": self.doi, "status": self.status, "msg": self.msg}


@dataclass
class Submission:
    submission_id: int
    file_name: str
    login_id: str
    content: bytes
    status: str = "queued"
    received: float = field(default_factory=time.monotonic)
    received_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    started: float | None = None
    doi_batch_id: str = ""
    records: list[RecordDiagnostic] = field(default_factory=list)
    notify: Endpoint | None = None  # the callback the deposit itself named

    def counts(self) -> dict[str, int]:
        statuses = [r.status for r in self.records]
        return {
            "record_count": len(statuses),
            "success_count": statuses.count("Success"),
            "warning_count": statuses.count("Warning"),
            "failure_count": statuses.count("Failure"),
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "submission_id": self.submission_id,
            "file_name": self.file_name,
            "login_id": self.login_id,
            "status": self.status,
            "doi_batch_id": self.doi_batch_id,
            "received_at": self.received_at,
            "records": [r.as_dict() for r in self.records],
            "batch_data": self.counts(),
            "content": self.content.decode("utf-8", "replace"),
            "notify": None
            if self.notify is None
            else {"endpoint": self.notify.name, "url": self.notify.url},
        }


@dataclass
class DepositedDoi:
    """A DOI Crossref holds from deposits."""

    doi: str  # lower case
    owner: str  # login id
    timestamp: int
    url: str
    message: dict[str, Any]
    created: float = field(default_factory=time.time)
    deposits: int = 1
    xml: str = ""  # the content item's XML, for unixref

    def snapshot(self) -> dict[str, Any]:
        return {
            "doi": self.doi,
            "owner": self.owner,
            "timestamp": self.timestamp,
            "url": self.url,
            "deposits": self.deposits,
            "type": self.message.get("type"),
            "title": self.message.get("title", []),
            "message": self.message,
            "xml": self.xml,
        }


def _batch_failure(doi_datas: list[etree._Element], message: str) -> list[RecordDiagnostic]:
    dois = [(_doi_text(d) or "") for d in doi_datas]
    return [RecordDiagnostic(doi, "Failure", message) for doi in (dois or [""])]


def _doi_text(doi_data: etree._Element) -> str | None:
    element = doi_data.find("{*}doi")
    if element is None or not (element.text or "").strip():
        return None
    return (element.text or "").strip()


@dataclass
class Outcome:
    """Everything processing one submission decided (applied by the caller)."""

    records: list[RecordDiagnostic]
    accepted: list[DepositedDoi]
    doi_batch_id: str = ""


def process(
    submission: Submission,
    *,
    prefixes: tuple[str, ...],
    registrant_default: str,
    known: dict[str, DepositedDoi],
    forced: dict[str, tuple[str, str]],
) -> Outcome:
    """Check a deposit and decide each record (``forced`` entries used are removed)."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        root = etree.fromstring(submission.content, parser)
    except etree.XMLSyntaxError as exc:
        return Outcome([RecordDiagnostic("", "Failure", f"Error: {exc}")], [])
    batch_id = (root.findtext("{*}head/{*}doi_batch_id") or "").strip()
    doi_datas = list(root.iter("{*}doi_data"))
    schema = xsd("crossref")
    if schema is not None and not schema.validate(root):
        first = schema.error_log[0]
        message = f"Error: line {first.line}, column {first.column}: {first.message}"
        return Outcome(_batch_failure(doi_datas, message), [], batch_id)
    timestamp_text = (root.findtext("{*}head/{*}timestamp") or "").strip()
    if not timestamp_text.isdigit():
        return Outcome(
            _batch_failure(doi_datas, "Error: <timestamp> must be a number"), [], batch_id
        )
    timestamp = int(timestamp_text)
    registrant = (root.findtext("{*}head/{*}registrant") or "").strip() or registrant_default
    batch = _Batch(submission.login_id, timestamp, registrant, prefixes, dict(known), forced)
    for doi_data in doi_datas:
        batch.record(doi_data)
    if not doi_datas:
        batch.records.append(
            RecordDiagnostic("", "Failure", "Error: the submission holds no <doi_data>")
        )
    return Outcome(batch.records, batch.accepted, batch_id)


@dataclass
class _Batch:
    """Per-record decisions of one submission, in file order."""

    login_id: str
    timestamp: int
    registrant: str
    prefixes: tuple[str, ...]
    known: dict[str, DepositedDoi]  # updated as records are accepted
    forced: dict[str, tuple[str, str]]
    prefix: str | None = None
    records: list[RecordDiagnostic] = field(default_factory=list)
    accepted: list[DepositedDoi] = field(default_factory=list)

    def refusal(self, doi: str, prefix: str, previous: DepositedDoi | None) -> str | None:
        if prefix != self.prefix:
            return f"All prefixes in a submission must match (DOI[{doi}])"
        if prefix not in self.prefixes:
            return f"User not allowed to add records for prefix: {prefix}"
        if previous is not None and self.timestamp <= previous.timestamp:
            return (
                f"Record not processed because submitted version: {self.timestamp} is less or "
                "equal to previously submitted version (DOI match)"
            )
        if self.forced.get(doi.lower(), ("", ""))[0] == "Failure":
            return self.forced.pop(doi.lower())[1]
        return None

    def record(self, doi_data: etree._Element) -> None:
        doi = _doi_text(doi_data)
        if doi is None:
            self.records.append(RecordDiagnostic("", "Failure", "Error: <doi> is empty"))
            return
        key = doi.lower()
        prefix = key.split("/", 1)[0]
        self.prefix = self.prefix or prefix
        previous = self.known.get(key)
        refusal = self.refusal(doi, prefix, previous)
        if refusal is not None:
            self.records.append(RecordDiagnostic(doi, "Failure", refusal))
            return
        status, msg = self.forced.pop(key, ("Success", ""))
        if not msg:
            msg = "Successfully updated" if previous is not None else "Successfully added"
        self.records.append(RecordDiagnostic(doi, status, msg))
        created = previous.created if previous is not None else time.time()
        deposited = DepositedDoi(
            doi=key,
            owner=self.login_id,
            timestamp=self.timestamp,
            url=(doi_data.findtext("{*}resource") or "").strip(),
            message=work_message(doi_data, publisher=self.registrant, created=created),
            created=created,
            deposits=(previous.deposits + 1) if previous is not None else 1,
            xml=_item_xml(doi_data),
        )
        self.known[key] = deposited
        self.accepted.append(deposited)


def _item_xml(doi_data: etree._Element) -> str:
    return record_xml(doi_data)


def diagnostic_xml(submission: Submission) -> str:
    """``<doi_batch_diagnostic>`` exactly in Crossref's shape for the submission's status."""
    if submission.status != "completed":
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<doi_batch_diagnostic status="{submission.status}">\n'
            f"  <submission_id>{submission.submission_id}</submission_id>\n"
            "  <batch_id />\n"
            "</doi_batch_diagnostic>\n"
        )
    root = etree.Element("doi_batch_diagnostic", status="completed", sp="sandbox.crossref.org")
    etree.SubElement(root, "submission_id").text = str(submission.submission_id)
    etree.SubElement(root, "batch_id").text = submission.doi_batch_id
    for record in submission.records:
        element = etree.SubElement(root, "record_diagnostic", status=record.status)
        etree.SubElement(element, "doi").text = record.doi
        etree.SubElement(element, "msg").text = record.msg
    batch_data = etree.SubElement(root, "batch_data")
    for key, value in submission.counts().items():
        etree.SubElement(batch_data, key).text = str(value)
    body = etree.tostring(root, encoding="unicode", pretty_print=True)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body


def unknown_submission_xml() -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<doi_batch_diagnostic status="unknown_submission">\n'
        "  <submission_id />\n"
        "  <batch_id />\n"
        "</doi_batch_diagnostic>\n"
    )
