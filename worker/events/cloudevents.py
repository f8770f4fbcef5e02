"""CloudEvents 1.0 structured JSON: parse one event or a batch, listing every problem by path.

Every bound the database has is checked here, before anything is stored, so a hostile or
careless body is a 4xx naming the JSON path, never a 500 from the driver: lengths of the
envelope's strings (the columns of ``received_events``), NUL characters and lone surrogates
anywhere (PostgreSQL's text and JSONB cannot hold them), NaN and Infinity (not JSON), integers
beyond 64 bits, nesting depth, and ``time`` as an RFC 3339 timestamp with an offset whose
instant lies in a sane range (a year-1 time with a +14:00 offset is year 0 in UTC: stored, it
could not be read back).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_CORE = {"specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time"}

# The columns of received_events (worker/models.py) each envelope string is stored in.
#: The ``dryrun`` extension's values (CloudEvents extensions are strings; JSON booleans too).
DRYRUN_VALUES = ("true", "false", True, False)
MAX_LENGTHS = {"id": 1000, "source": 1000, "type": 100, "subject": 1000, "correlationid": 100}
#: Deepest nesting of objects and arrays an event may have (a Work needs 4).
MAX_DEPTH = 32
#: Integers must fit PostgreSQL's bigint (JSONB would take more, the columns would not).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
#: The instants an event's ``time`` may name: nothing happened in a CRIS before the epoch, and
#: a time past 2100 is a bug of the sender's clock or a probe.
TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TIME_MAX = datetime(2100, 1, 1, tzinfo=UTC)
RFC3339_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-](?:0\d|1[0-4]):[0-5]\d)$"
)
_RFC3339 = re.compile(RFC3339_PATTERN)
_UNSAFE_CHAR = re.compile(r"[\x00\ud800-\udfff]")


@dataclass
class Problem:
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass
class CloudEvent:
    id: str
    source: str
    type: str
    data: Any
    subject: str | None = None
    time: datetime | None = None
    extensions: dict[str, Any] = field(default_factory=dict)


class MalformedBody(Exception):
    """The body is not JSON at all (→ 400)."""


class _NotJson(float):
    """NaN, Infinity or a number too large for a float, as Python's parser would read them
    (kept, then reported by path: the JSON they came in is not JSON)."""

    def __new__(cls, text: str) -> Self:
        obj = super().__new__(cls, "nan")
        obj.text = text
        return obj

    text: str


def _constant(text: str) -> _NotJson:
    return _NotJson(text)


def _float(text: str) -> float:
    value = float(text)
    return _NotJson(text) if value in (float("inf"), float("-inf")) else value


def _int(text: str) -> int | _NotJson:
    # Python refuses integers of more than 4,300 digits with a ValueError (a 500 today):
    # anything longer than a bigint is reported by path instead.
    digits = len(text.lstrip("-"))
    return _NotJson(text[:30]) if digits > 19 else int(text)


def parse_body(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except RecursionError:
        raise MalformedBody(f"body nests deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedBody(f"body is not valid JSON: {exc}") from None


def value_problems(value: Any, path: str, depth: int = 0) -> list[Problem]:
    """What no column or JSONB value can hold, anywhere in ``value``, by path (first few)."""
    problems: list[Problem] = []
    _walk(value, path, depth, problems)
    return problems[:20]


def _walk(value: Any, path: str, depth: int, problems: list[Problem]) -> None:
    if len(problems) >= 20:
        return
    if isinstance(value, _NotJson):
        problems.append(Problem(path, f"{value.text} is not a JSON number pidsync can store"))
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            problems.append(Problem(path, "integer out of range (must fit 64 bits)"))
    elif isinstance(value, str):
        found = _UNSAFE_CHAR.search(value)
        if found:
            problems.append(Problem(path, _unsafe(found.group())))
    elif isinstance(value, (dict, list)):
        if depth >= MAX_DEPTH:
            problems.append(Problem(path, f"nested deeper than {MAX_DEPTH} levels"))
            return
        if isinstance(value, list):
            for index, item in enumerate(value):
                _walk(item, f"{path}[{index}]", depth + 1, problems)
            return
        for key, item in value.items():
            found = _UNSAFE_CHAR.search(key)
            if found:
                problems.append(Problem(f"{path}.{key!a}", f"key: {_unsafe(found.group())}"))
                continue
            _walk(item, f"{path}.{key}", depth + 1, problems)


def _unsafe(char: str) -> str:
    if char == "\x00":
        return "contains a NUL character (U+0000)"
    return f"contains a lone surrogate (U+{ord(char):04X}): not Unicode text"


def _bounded_string(obj: dict[str, Any], name: str, path: str, problems: list[Problem]) -> None:
    value = obj.get(name)
    most = MAX_LENGTHS[name]
    if isinstance(value, str) and len(value) > most:
        problems.append(Problem(f"{path}.{name}", f"longer than {most} characters"))


def parse_time(value: Any) -> tuple[datetime | None, str | None]:
    """An RFC 3339 timestamp with an offset, within TIME_MIN..TIME_MAX; else the reason."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None, "must be an RFC 3339 timestamp with an offset, e.g. 2024-03-01T12:00:00Z"
    out_of_range = (
        f"out of range: must lie between {TIME_MIN:%Y-%m-%d} and {TIME_MAX:%Y-%m-%d} (UTC)"
    )
    try:
        when = datetime.fromisoformat(value.upper())
    except ValueError:
        return None, "not a calendar date and time"
    try:
        instant = when.astimezone(UTC)
    except OverflowError:  # before year 1 or after 9999 once in UTC
        return None, out_of_range
    if not TIME_MIN <= instant < TIME_MAX:
        return None, out_of_range
    return when, None


def parse_event(obj: Any, path: str = "$") -> tuple[CloudEvent | None, list[Problem]]:
    """Check the CloudEvents envelope; data is checked per type by the caller."""
    if not isinstance(obj, dict):
        return None, [Problem(path, "a CloudEvent must be a JSON object")]
    problems = value_problems(obj, path)
    if problems:
        return None, problems
    if obj.get("specversion") != "1.0":
        problems.append(Problem(f"{path}.specversion", 'must be "1.0"'))
    for name in ("id", "source", "type"):
        value = obj.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(f"{path}.{name}", "required, a non-empty string"))
        else:
            _bounded_string(obj, name, path, problems)
    if "data_base64" in obj:
        problems.append(
            Problem(f"{path}.data_base64", "binary data is not accepted; send JSON data")
        )
    if "data" not in obj:
        problems.append(Problem(f"{path}.data", "required"))
    ctype = obj.get("datacontenttype")
    if ctype is not None and not (isinstance(ctype, str) and "json" in ctype):
        problems.append(Problem(f"{path}.datacontenttype", "data must be JSON"))
    subject = obj.get("subject")
    if subject is not None and not isinstance(subject, str):
        problems.append(Problem(f"{path}.subject", "must be a string"))
    _bounded_string(obj, "subject", path, problems)
    correlation = obj.get("correlationid")
    if correlation is not None and not (isinstance(correlation, str) and correlation.strip()):
        problems.append(Problem(f"{path}.correlationid", "must be a non-empty string"))
    _bounded_string(obj, "correlationid", path, problems)
    dryrun = obj.get("dryrun", "false")
    # Strict: 1 == True in Python, and "TRUE" is not a CloudEvents boolean.
    if not (isinstance(dryrun, bool) or (isinstance(dryrun, str) and dryrun in DRYRUN_VALUES)):
        problems.append(Problem(f"{path}.dryrun", 'must be "true" or "false"'))
    when: datetime | None = None
    if obj.get("time") is not None:
        when, reason = parse_time(obj["time"])
        if reason:
            problems.append(Problem(f"{path}.time", reason))
    extensions = {k: v for k, v in obj.items() if k not in _CORE and k != "data"}
    problems.extend(
        Problem(f"{path}.{name}", "extension names are lower-case letters and digits")
        for name in extensions
        if not _EXTENSION_NAME.match(name)
    )
    if problems:
        return None, problems
    return (
        CloudEvent(
            id=obj["id"],
            source=obj["source"],
            type=obj["type"],
            data=obj["data"],
            subject=subject,
            time=when,
            extensions=extensions,
        ),
        [],
    )
