"""The event types pidsync accepts, and the check each one's ``data`` gets at intake."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from worker.events.cloudevents import Problem
from worker.metadata.errors import WorkValidationError
from worker.metadata.fields import MAX_URL, MAX_VERSION, MAX_WORK_ID
from worker.metadata.orcid_items import (
    to_json,
    validate_affiliation,
    validate_funding,
    validate_review,
)
from worker.metadata.requirements import registration_problems
from worker.metadata.work import Work, validate_work
from worker.pids.identifiers import InvalidIdentifier, normalize_orcid

if TYPE_CHECKING:
    from worker.config import Settings

WORK_PUBLISHED = "work.published"
WORK_UPDATED = "work.updated"
WORK_WITHDRAWN = "work.withdrawn"
RESEARCHER_AUTHORIZED = "researcher.authorized"
RESEARCHER_REVOKED = "researcher.revoked"
AFFILIATION_PUBLISHED = "affiliation.published"
AFFILIATION_UPDATED = "affiliation.updated"
AFFILIATION_WITHDRAWN = "affiliation.withdrawn"
FUNDING_PUBLISHED = "funding.published"
FUNDING_UPDATED = "funding.updated"
FUNDING_WITHDRAWN = "funding.withdrawn"
REVIEW_PUBLISHED = "review.published"
REVIEW_WITHDRAWN = "review.withdrawn"
#: The ORCID items beyond works, by event type: (kind, withdrawn?).
ITEM_EVENTS: dict[str, tuple[str, bool]] = {
    AFFILIATION_PUBLISHED: ("affiliation", False),
    AFFILIATION_UPDATED: ("affiliation", False),
    AFFILIATION_WITHDRAWN: ("affiliation", True),
    FUNDING_PUBLISHED: ("funding", False),
    FUNDING_UPDATED: ("funding", False),
    FUNDING_WITHDRAWN: ("funding", True),
    REVIEW_PUBLISHED: ("review", False),
    REVIEW_WITHDRAWN: ("review", True),
}


#: Bounds of researcher.authorized's fields: the columns they land in (orcid_grants.client_id,
#: researchers.name), and for tokens and scopes far beyond what ORCID issues.
MAX_CLIENT_ID = 100
MAX_TOKEN = 2000
MAX_SHORT_TEXT = 1000
#: expires_in is seconds from now: at most 2**31 - 1 (68 years; ORCID's tokens last 20).
MAX_EXPIRES_IN = 2**31 - 1

#: A registrar's accounts as the intake sees them: (name, prefixes), the default first.
Accounts = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class IntakeContext:
    """What the checks need to know about this installation."""

    orcid_client_ids: tuple[str, ...]
    #: registrar ("datacite", "crossref") -> its configured accounts; none configured: absent.
    registrar_accounts: Mapping[str, Accounts] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> IntakeContext:
        return cls(
            tuple(c.client_id for c in settings.orcid_client_list()),
            {
                "datacite": tuple(
                    (a.name, tuple(a.prefixes)) for a in settings.datacite_account_list()
                ),
                "crossref": tuple(
                    (a.name, tuple(a.prefixes)) for a in settings.crossref_account_list()
                ),
            },
        )


Checker = Callable[[Any, str, IntakeContext], tuple[dict[str, Any], list[Problem]]]


def _work(data: Any, path: str, ctx: IntakeContext) -> tuple[dict[str, Any], list[Problem]]:
    try:
        work = validate_work(data)
    except WorkValidationError as exc:
        return {}, [Problem(_join(path, p), m) for p, m in exc.problems]
    problems = _registrar_problems(work, path, ctx)
    return work.model_dump(mode="json", exclude_none=True), problems


def _registrar_problems(work: Work, path: str, ctx: IntakeContext) -> list[Problem]:
    """The account the Work names must be configured; its DOI must carry one of that account's
    prefixes; the Work must hold what that registrar requires."""
    registration = work.registration
    if registration is None or registration.registrar == "none":
        return []
    registrar = registration.registrar
    configured = ctx.registrar_accounts.get(registrar, ())
    where = f"{path}.registration"
    if not configured:
        return [Problem(f"{where}.registrar", f"no {registrar} account is configured")]
    if registration.account is None:
        prefixes = configured[0][1]
    else:
        named = [p for name, p in configured if name == registration.account]
        if not named:
            known = ", ".join(repr(name) for name, _ in configured)
            return [
                Problem(
                    f"{where}.account",
                    f"unknown {registrar} account {registration.account!r} (configured: {known})",
                )
            ]
        prefixes = named[0]
    return [Problem(_join(path, p), m) for p, m in registration_problems(work, prefixes)]


def _string(data: dict[str, Any], key: str, path: str, most: int, problems: list[Problem]) -> None:
    """An optional string field of at most ``most`` characters."""
    value = data.get(key)
    if value is None:
        return
    if not isinstance(value, str):
        problems.append(Problem(f"{path}.{key}", "must be a string"))
    elif len(value) > most:
        problems.append(Problem(f"{path}.{key}", f"longer than {most} characters"))


def _bounded_int(value: Any, least: int, most: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= most


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


def _withdrawal(data: Any, path: str, allowed: set[str]) -> list[Problem]:
    """What is wrong with a withdrawal of a work or an item: an object naming it by ``id``,
    optionally at ``version``, with no field outside ``allowed``."""
    problems = _object(data, path, allowed)
    if problems and not isinstance(data, dict):
        return problems
    if not isinstance(data.get("id"), str) or not data["id"].strip():
        problems.append(Problem(f"{path}.id", "required, a non-empty string"))
    else:
        _string(data, "id", path, MAX_WORK_ID, problems)
    version = data.get("version")
    if version is not None and not _bounded_int(version, 1, MAX_VERSION):
        problems.append(Problem(f"{path}.version", f"must be an integer from 1 to {MAX_VERSION}"))
    return problems


def _withdrawn(data: Any, path: str, _ctx: IntakeContext) -> tuple[dict[str, Any], list[Problem]]:
    problems = _withdrawal(data, path, {"id", "version", "tombstone_url"})
    if not isinstance(data, dict):
        return {}, problems
    url = data.get("tombstone_url")
    if url is not None and (not isinstance(url, str) or len(url) > MAX_URL or not _http_url(url)):
        problems.append(
            Problem(f"{path}.tombstone_url", f"must be an http(s) URL of at most {MAX_URL} chars")
        )
    return dict(data), problems


def _http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced '[' in the host
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _orcid(data: dict[str, Any], path: str, problems: list[Problem]) -> str | None:
    value = data.get("orcid")
    if not isinstance(value, str):
        problems.append(Problem(f"{path}.orcid", "required, an ORCID iD as a string"))
        return None
    try:
        return normalize_orcid(value)
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
    for key, most in (
        ("access_token", MAX_TOKEN),
        ("refresh_token", MAX_TOKEN),
        ("scope", MAX_SHORT_TEXT),
        ("name", MAX_SHORT_TEXT),
        ("client_id", MAX_CLIENT_ID),
        ("token_type", MAX_SHORT_TEXT),
    ):
        _string(data, key, path, most, problems)
    expires = data.get("expires_in")
    if expires is not None and not _bounded_int(expires, 0, MAX_EXPIRES_IN):
        problems.append(
            Problem(f"{path}.expires_in", f"must be an integer from 0 to {MAX_EXPIRES_IN} (s)")
        )
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
    _string(data, "client_id", path, MAX_CLIENT_ID, problems)
    return {**data, "orcid": orcid}, problems


def _item(validate: Callable[[Any], Any]) -> Checker:
    """The check of an affiliation, funding or review: the model's, problems by JSON path."""

    def check(data: Any, path: str, _ctx: IntakeContext) -> tuple[dict[str, Any], list[Problem]]:
        try:
            item = validate(data)
        except WorkValidationError as exc:
            return {}, [Problem(_join(path, p), m) for p, m in exc.problems]
        return to_json(item), []

    return check


def _item_withdrawn(
    data: Any, path: str, _ctx: IntakeContext
) -> tuple[dict[str, Any], list[Problem]]:
    problems = _withdrawal(data, path, {"id", "version"})
    return (dict(data) if isinstance(data, dict) else {}), problems


CHECKS: dict[str, Checker] = {
    WORK_PUBLISHED: _work,
    WORK_UPDATED: _work,
    WORK_WITHDRAWN: _withdrawn,
    RESEARCHER_AUTHORIZED: _authorized,
    RESEARCHER_REVOKED: _revoked,
    AFFILIATION_PUBLISHED: _item(validate_affiliation),
    AFFILIATION_UPDATED: _item(validate_affiliation),
    AFFILIATION_WITHDRAWN: _item_withdrawn,
    FUNDING_PUBLISHED: _item(validate_funding),
    FUNDING_UPDATED: _item(validate_funding),
    FUNDING_WITHDRAWN: _item_withdrawn,
    REVIEW_PUBLISHED: _item(validate_review),
    REVIEW_WITHDRAWN: _item_withdrawn,
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
