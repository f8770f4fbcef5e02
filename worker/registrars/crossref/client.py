"""Crossref deposit servlet (``doMDUpload``, ``submissionDownload``): HTTP only. (The REST
API's client is :class:`worker.pids.client.CrossrefRestClient`.)

The deposit answers 200 with an HTML "SUCCESS" page as soon as the file is queued; the outcome
comes later from ``submissionDownload?type=result`` as a ``<doi_batch_diagnostic>``.
Credentials travel in form fields and query strings: the call recorder and the log redact
``login_passwd`` and ``pwd``, and the password is registered as a known secret besides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlencode, urlsplit

import requests
from lxml import etree

from worker.config import CrossrefAccount
from worker.http import ApiClient, Recorder, RequestError, TransportError
from worker.logging import redact_text, register_secret
from worker.models import RecordOutcome

ACCEPTED = "successfully received"
WRONG_CREDENTIALS = "wrong credentials"
NOT_NEWER = "less or equal to previously submitted version"


class SubmissionStatus(StrEnum):
    """Where Crossref is with a submission (``<doi_batch_diagnostic status>``)."""

    QUEUED = "queued"
    IN_PROCESS = "in_process"
    COMPLETED = "completed"
    UNKNOWN_SUBMISSION = "unknown_submission"  # not (yet) known under this file name


@dataclass(frozen=True)
class Notify:
    """Crossref's notification callback for a deposit: the registered endpoint's name and the
    URL it calls (which holds a secret: never logged)."""

    endpoint: str
    url: str

    @property
    def secret(self) -> str:
        return urlsplit(self.url).path.rstrip("/").rpartition("/")[2]


@dataclass(frozen=True)
class RecordResult:
    doi: str
    status: RecordOutcome
    message: str

    @property
    def timestamp_not_newer(self) -> bool:
        return self.status is RecordOutcome.FAILURE and NOT_NEWER in self.message


@dataclass(frozen=True)
class SubmissionResult:
    """What ``submissionDownload?type=result`` says about one submission. ``status`` is None
    for a word Crossref does not document: the submission is polled again on schedule."""

    status: SubmissionStatus | None
    submission_id: str | None = None
    batch_id: str | None = None
    records: list[RecordResult] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return self.status is SubmissionStatus.COMPLETED


class CrossrefClient(ApiClient):
    service = "crossref"

    def __init__(
        self,
        account: CrossrefAccount,
        *,
        session: requests.Session | None = None,
        timeout: float = 60.0,
        recorder: Recorder | None = None,
    ) -> None:
        super().__init__(account.deposit_url, session=session, timeout=timeout, recorder=recorder)
        self._password = account.password.get_secret_value()
        register_secret(self._password)
        self.account = account

    def deposit(self, file_name: str, content: bytes, *, notify: Notify | None = None) -> None:
        """Upload one deposit file; returns once Crossref has queued it. With ``notify``, the
        deposit names the notification callback Crossref calls when its log is ready."""
        fields = {
            "operation": "doMDUpload",
            "login_id": self.account.login_id,
            "login_passwd": self._password,
        }
        if notify is not None:
            register_secret(notify.secret)
            fields |= {"notify_endpoint": notify.endpoint, "notify_url": notify.url}
        response = self.request(
            "POST",
            "/servlet/deposit",
            data=fields,
            files={"fname": (file_name, content, "application/xml")},
        )
        text = response.text
        if ACCEPTED not in text.lower():
            # Crossref has answered a bad login with 200 and a plain sentence.
            status = 401 if WRONG_CREDENTIALS in text.lower() else response.status_code
            raise RequestError(
                f"crossref did not accept the deposit {file_name}: {_excerpt(text)}",
                service=self.service,
                status=status,
                text=_excerpt(text),
            )

    def submission_result(self, file_name: str) -> SubmissionResult:
        """The processing outcome of the submission uploaded as ``file_name``."""
        # The query is part of the recorded URL (file_name shows in the audit; pwd is redacted).
        query = urlencode(
            {
                "usr": self.account.login_id,
                "pwd": self._password,
                "file_name": file_name,
                "type": "result",
            }
        )
        response = self.request("GET", f"/servlet/submissionDownload?{query}")
        return parse_result(response.content, service=self.service)


def parse_result(content: bytes, *, service: str = "crossref") -> SubmissionResult:
    """A ``<doi_batch_diagnostic>``; RequestError for a refused login, TransportError for an
    answer that is not one (a proxy page, a truncated body: worth asking again)."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError:
        text = content.decode("utf-8", "replace")
        if WRONG_CREDENTIALS in text.lower():
            raise RequestError(
                f"crossref refused the login: {_excerpt(text)}",
                service=service,
                status=401,
                text=_excerpt(text),
            ) from None
        raise TransportError(
            f"crossref answered something other than a doi_batch_diagnostic: {_excerpt(text)}",
            service=service,
        ) from None
    if etree.QName(root).localname != "doi_batch_diagnostic":
        raise TransportError(
            f"crossref answered <{etree.QName(root).localname}>, not <doi_batch_diagnostic>",
            service=service,
        )
    records = [_record(element) for element in root.iter("{*}record_diagnostic")]
    word = (root.get("status") or "").strip()
    return SubmissionResult(
        status=SubmissionStatus(word) if word in _SUBMISSION_WORDS else None,
        submission_id=(root.findtext("{*}submission_id") or "").strip() or None,
        batch_id=(root.findtext("{*}batch_id") or "").strip() or None,
        records=records,
    )


_SUBMISSION_WORDS = frozenset(s.value for s in SubmissionStatus)
_RECORD_WORDS = frozenset(o.value for o in RecordOutcome)


def _record(element: etree._Element) -> RecordResult:
    """One ``<record_diagnostic>``. A status other than Success, Warning and Failure was
    never an acceptance: a failure, naming the word Crossref used."""
    word = (element.get("status") or "").strip()
    message = " ".join((element.findtext("{*}msg") or "").split())
    if word in _RECORD_WORDS:
        status = RecordOutcome(word)
        if status is RecordOutcome.FAILURE and not message:  # a failure a person can act on
            message = "Crossref reported the record as a Failure without a message"
    else:
        status = RecordOutcome.FAILURE
        message = message or f"Crossref reported the record as {word or 'nothing'!r}"
    return RecordResult(
        doi=(element.findtext("{*}doi") or "").strip().lower(), status=status, message=message
    )


def _excerpt(text: str, limit: int = 300) -> str:
    return redact_text(" ".join(text.split())[:limit])
