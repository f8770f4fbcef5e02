"""Where the consent flow sends the browser back (``return_to``), and how the CRIS can trust it.

Normalising before checking: ``return_to`` is compared with
``settings.orcid_return_to_allowlist`` only after it has been put in the one form the browser
will follow, and that normal form is what is stored and redirected to, so a URL cannot pass the
check in one shape and be read by the browser in another:

- refused outright: backslashes (browsers read them as ``/``), control characters and spaces,
  user info (``https://cris.example@evil.example``), scheme-relative and non-http(s) URLs,
  plain http except on loopback, and percent-encoded ``/`` or ``\\`` in the path (a server may
  decode them into a path outside the allowed prefix);
- normalised: scheme and host lower case (trailing dot dropped), the default port dropped,
  ``%2e`` decoded, dot segments (``/a/./b``, ``/a/../b``) removed as RFC 3986 §5.2.4 does,
  the fragment dropped.

Signing: the redirect back carries ``orcid_status`` (``granted`` | ``denied`` | ``failed``),
``orcid`` and ``person`` when known, ``orcid_ts`` (Unix seconds) and ``orcid_sig``: the
lower-case hex HMAC-SHA256, keyed with the ORCID client's secret (``client_secret`` of the
ORCID client the consent was for: the CRIS's institution registered that client and holds it),
of the other ``orcid_*`` and ``person`` parameters, sorted by name and form-encoded:
``orcid=0000-0002-1825-0097&orcid_status=granted&orcid_ts=1765000000&person=p-17``. The CRIS
recomputes it from the parameters it received, compares in constant time and refuses an
``orcid_ts`` older than a few minutes; anyone can type ``?orcid_status=granted`` into a browser,
only pidsync can sign it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from worker.config import Settings, is_loopback

SIGNED_PARAMS = ("orcid", "orcid_status", "orcid_ts", "person")
SIGNATURE_PARAM = "orcid_sig"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_FORBIDDEN = re.compile(r"[\\\x00-\x20\x7f]")
_ENCODED_SLASH = re.compile(r"(?i)%(2f|5c)")
_ENCODED_DOT = re.compile(r"(?i)%2e")
_BRACKETED = re.compile(r"\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
MAX_LENGTH = 2000


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4: ``/a/b/../c/./d`` → ``/a/c/d``; never above the root."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    normal = "/".join(output)
    return normal if normal.startswith("/") else "/" + normal


def normalise(url: str) -> str | None:
    """The one form of ``url`` the browser will follow, or None when it is refused (see the
    module docstring)."""
    if not url or len(url) > MAX_LENGTH or _FORBIDDEN.search(url) or url.startswith("//"):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if "[" in parts.netloc and not _BRACKETED.fullmatch(parts.netloc):
        return None  # urlsplit reads "[::1].evil.example" as ::1
    if scheme == "http" and not is_loopback(url):
        return None
    if _ENCODED_SLASH.search(parts.path):
        return None
    path = remove_dot_segments(_ENCODED_DOT.sub(".", parts.path) or "/")
    shown = f"[{host}]" if ":" in host else host
    netloc = shown if port in (None, _DEFAULT_PORTS[scheme]) else f"{shown}:{port}"
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def allowed(settings: Settings, url: str) -> str | None:
    """``url`` normalised, when it lies under an allow-listed prefix (same scheme, host and
    port; its path equal to or below the prefix's); None otherwise."""
    normal = normalise(url)
    if normal is None:
        return None
    parts = urlsplit(normal)
    for entry in settings.orcid_return_to_allowlist:
        prefix = normalise(entry)
        if prefix is None:
            continue
        a = urlsplit(prefix)
        base = a.path.rstrip("/")
        if (parts.scheme, parts.netloc) == (a.scheme, a.netloc) and (
            not base or parts.path == base or parts.path.startswith(base + "/")
        ):
            return normal
    return None


def signature(key: str, params: dict[str, str]) -> str:
    """``orcid_sig`` over ``params`` (only :data:`SIGNED_PARAMS` count)."""
    signed = sorted((k, v) for k, v in params.items() if k in SIGNED_PARAMS)
    message = urlencode(signed).encode("utf-8")
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_url(return_to: str, key: str, params: dict[str, str]) -> str:
    """``return_to`` with ``params`` and their ``orcid_sig`` added to its query (a parameter
    of the same name already there is replaced: the CRIS must see only pidsync's)."""
    parts = urlsplit(return_to)
    names = {*params, SIGNATURE_PARAM}
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    added = [*sorted(params.items()), (SIGNATURE_PARAM, signature(key, params))]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept + added), ""))


def verify(key: str, params: dict[str, str]) -> bool:
    """What a CRIS does (shown here for tests and as the reference): the signature matches."""
    expected = signature(key, params)
    return hmac.compare_digest(expected, params.get(SIGNATURE_PARAM, ""))
