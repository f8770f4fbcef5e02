"""The event types pidsync accepts, and the check each one's ``data`` gets at intake."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from worker.events.cloudevents import Problem
from worker.metadata.errors import WorkValidationError
from worker.metadata.work import validate_work
from worker.pids.identifiers import InvalidIdentifier, normalize_orcid

WORK_PUBLISHED = "work.published"
WORK_UPDATED = "work.updated"
WORK_WITHDRAWN = "work.withdrawn"
RESEARCHER_AUTHORIZED = "researcher.authorized"
RESEARCHER_REVOKED = "researcher.revoked"


@dataclass(frozen=True)
class IntakeContext:
    """What the checks need to know about this installation."""

    orcid_client_ids: tuple[str, ...]


Checker = Callable[[Any, str, IntakeContext], tuple[dict[str, Any], list[Problem]]]


def _work(data: Any, path: str, _ctx: IntakeContext) -> tuple[dict[str, Any], list[Problem]]:
    try:
        work = validate_work(data)
    except WorkValidationError as exc:
        return {}, [Problem(_join(path, p), m) for p, m in exc.problems]
    return work.model_dump(mode="json", exclude_none=True), []


def _join(base: str, sub: str) -> str:
    if not sub:
        return base
    return f"{base}{sub}" if sub.startswith("[") else f"{base}.{sub}"


def _object(data: Any, path: str, allowed: set[str] | None) -> list[Problem]:
    if not isinstance(data, dict):
        return [Problem(path, "must be a JSON object")]
    if allowed is None:
        return []
    return [Problem(f"{path}.{k}", "unknown field") for k in data if k not in allowed]


def _withdrawn(data: Any, path: str, _ctx: IntakeContext) -> tuple[dict[str, Any], list[Problem]]:
    problems = _object(data, path, {"id", "version", "tombstone_url"})
    if problems and not isinstance(data, dict):
        return {}, problems
    if not isinstance(data.get("id"), str) or not data["id"].strip():
        problems.append(Problem(f"{path}.id", "required, a non-empty string"))
    version = data.get("version")
    if version is not None and (
        not isinstance(version, int) or isinstance(version, bool) or version < 1
    ):
        problems.append(Problem(f"{path}.version", "must be an integer >= 1"))
    url = data.get("tombstone_url")
    if url is not None and (
        not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https")
    ):
        problems.append(Problem(f"{path}.tombstone_url", "must be an http(s) URL"))
    return dict(data), problems


def _orcid(data: dict[str, Any], path: str, problems: list[Problem]) -> str | None:
    try:
        return normalize_orcid(data.get("orcid") or "")
    except InvalidIdentifier as exc:
        problems.append(Problem(f"{path}.orcid", exc.reason))
        return None


def _authorized(data: Any, path: str, ctx: IntakeContext) -> tuple[dict[str, Any], list[Problem]]:
    problems = _object(data, path, None)
    if problems:
        return {}, problems
    orcid = _orcid(data, path, problems)
    for key in ("access_token", "scope"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            problems.append(Problem(f"{path}.{key}", "required, a non-empty string"))
    for key in ("refresh_token", "name", "client_id", "token_type"):
        if data.get(key) is not None and not isinstance(data[key], str):
            problems.append(Problem(f"{path}.{key}", "must be a string"))
    expires = data.get("expires_in")
    if expires is not None and (not isinstance(expires, int) or isinstance(expires, bool)):
        problems.append(Problem(f"{path}.expires_in", "must be an integer (seconds)"))
    client_id = data.get("client_id")
    if client_id is None:
        if len(ctx.orcid_client_ids) == 1:
            client_id = ctx.orcid_client_ids[0]
        else:
            why = (
                "several ORCID clients are configured"
                if ctx.orcid_client_ids
                else ("no ORCID client is configured to default to")
            )
            problems.append(Problem(f"{path}.client_id", f"required: {why}"))
    elif isinstance(client_id, str) and client_id not in ctx.orcid_client_ids:
        problems.append(Problem(f"{path}.client_id", f"not a configured ORCID client: {client_id}"))
    return {**data, "orcid": orcid, "client_id": client_id}, problems


def _revoked(data: Any, path: str, _ctx: IntakeContext) -> tuple[dict[str, Any], list[Problem]]:
    problems = _object(data, path, {"orcid", "client_id"})
    if problems and not isinstance(data, dict):
        return {}, problems
    orcid = _orcid(data, path, problems)
    return {**data, "orcid": orcid}, problems


CHECKS: dict[str, Checker] = {
    WORK_PUBLISHED: _work,
    WORK_UPDATED: _work,
    WORK_WITHDRAWN: _withdrawn,
    RESEARCHER_AUTHORIZED: _authorized,
    RESEARCHER_REVOKED: _revoked,
}


def check_data(
    event_type: str, data: Any, path: str, ctx: IntakeContext
) -> tuple[dict[str, Any], list[Problem]]:
    check = CHECKS.get(event_type)
    if check is None:
        known = ", ".join(sorted(CHECKS))
        return {}, [Problem(f"{path}.type", f"unknown event type {event_type!r} (known: {known})")]
    return check(data, f"{path}.data", ctx)


def work_key(event_type: str, data: dict[str, Any]) -> str | None:
    """The data.id of work events (a Work's identity is (source, data.id))."""
    if event_type in (WORK_PUBLISHED, WORK_UPDATED, WORK_WITHDRAWN):
        return str(data["id"])
    return None
