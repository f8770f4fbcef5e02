"""CloudEvents 1.0 structured JSON: parse one event or a batch, listing every problem by path."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SINGLE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_CORE = {"specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time"}


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


def parse_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedBody(f"body is not valid JSON: {exc}") from None


def parse_event(obj: Any, path: str = "$") -> tuple[CloudEvent | None, list[Problem]]:
    """Check the CloudEvents envelope; data is checked per type by the caller."""
    problems: list[Problem] = []
    if not isinstance(obj, dict):
        return None, [Problem(path, "a CloudEvent must be a JSON object")]
    if obj.get("specversion") != "1.0":
        problems.append(Problem(f"{path}.specversion", 'must be "1.0"'))
    for name in ("id", "source", "type"):
        value = obj.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(f"{path}.{name}", "required, a non-empty string"))
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
    when: datetime | None = None
    if obj.get("time") is not None:
        try:
            when = datetime.fromisoformat(str(obj["time"]))
        except ValueError:
            problems.append(Problem(f"{path}.time", "must be an RFC 3339 timestamp"))
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
