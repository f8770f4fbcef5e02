"""Fetch the official schemas into a directory, on first use of ``pidsync render --validate``
in an install without them (a user's clone has no ``shared/reference``).

Each bundle comes from its publisher's official location, file by file, under the same
relative paths ``worker.reference`` reads (``shared/reference/README.md`` names the upstreams).
``PIDSYNC_SCHEMA_MIRROR`` replaces every official base URL with ``<mirror>/<bundle>/`` (a proxy,
or the tests' local server). A bundle is written only when every one of its files arrived
(into a temporary folder, then renamed), so a failed fetch leaves nothing half-done.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

#: bundle folder → (official base URL, files under it).
_DATACITE_TYPES = ("contributorType", "dateType", "descriptionType", "funderIdentifierType",
                   "nameType", "numberType", "relatedIdentifierType", "relationType",
                   "resourceType", "titleType")  # fmt: skip
_ORCID_RECORD = ("activities", "address", "bulk", "distinction", "education", "email",
                 "employment", "error", "expanded-search", "funding", "history",
                 "invited-position", "keyword", "membership", "other-name", "peer-review",
                 "person", "person-external-identifier", "personal-details", "preferences",
                 "qualification", "record", "research-resource", "researcher-url", "search",
                 "service", "work")  # fmt: skip
BUNDLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "datacite-kernel-4.7": (
        "https://schema.datacite.org/meta/kernel-4.7/",
        ("metadata.xsd", "include/xml.xsd",
         *(f"include/datacite-{name}-v4.xsd" for name in _DATACITE_TYPES)),
    ),
    "crossref-5.3.1": (
        "https://gitlab.com/crossref/schema/-/raw/master/schemas/",
        ("crossref5.3.1.xsd", "common5.3.1.xsd", "fundref.xsd", "AccessIndicators.xsd",
         "clinicaltrials.xsd", "relations.xsd", "JATS-journalpublishing1-3d2-mathml3.xsd",
         "JATS-journalpublishing1-3d2-mathml3-elements.xsd", "standard-modules/module-ali.xsd",
         "standard-modules/xlink.xsd", "standard-modules/xml.xsd",
         *(f"standard-modules/mathml3/mathml3{part}.xsd"
           for part in ("", "-common", "-content", "-presentation", "-strict-content"))),
    ),
    "orcid-3.0": (
        "https://raw.githubusercontent.com/ORCID/orcid-model/master/src/main/resources/",
        ("common_3.0/common-3.0.xsd",
         *(f"record_3.0/{name}-3.0.xsd" for name in _ORCID_RECORD)),
    ),
    "csl": (
        "https://raw.githubusercontent.com/citation-style-language/schema/master/schemas/input/",
        ("csl-data.json",),
    ),
}  # fmt: skip

#: Upstream Crossref imports MathML from w3.org; the bundle carries it (as shared/reference).
_MATHML_W3 = "http://www.w3.org/Math/XMLSchema/mathml3/mathml3.xsd"
_MATHML_LOCAL = "standard-modules/mathml3/mathml3.xsd"
TIMEOUT = 30.0


class SchemaFetchError(Exception):
    """The schemas could not be fetched; the message says which file and why."""


@dataclass(frozen=True)
class Fetched:
    directory: Path
    bundles: list[str]  # fetched now (the others were there already)


def base_url(bundle: str) -> str:
    mirror = os.environ.get("PIDSYNC_SCHEMA_MIRROR")
    if mirror:
        return mirror.rstrip("/") + f"/{bundle}/"
    return BUNDLES[bundle][0]


def missing_bundles(directory: Path) -> list[str]:
    return [
        bundle
        for bundle, (_, files) in BUNDLES.items()
        if not all((directory / bundle / name).is_file() for name in files)
    ]


def fetch_schemas(directory: Path, session: requests.Session | None = None) -> Fetched:
    """Fetch every bundle ``directory`` lacks; SchemaFetchError names the first failure."""
    http = session or requests.Session()
    fetched = []
    directory.mkdir(parents=True, exist_ok=True)
    for bundle in missing_bundles(directory):
        base, files = base_url(bundle), BUNDLES[bundle][1]
        staging = Path(tempfile.mkdtemp(prefix=f".{bundle}-", dir=directory))
        try:
            for name in files:
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(_patched(name, _get(http, base + name)))
            _install(staging, directory / bundle, files)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        fetched.append(bundle)
    return Fetched(directory, fetched)


def _install(staging: Path, final: Path, files: tuple[str, ...]) -> None:
    """Move the fetched bundle in place, unless another process (a second ``render
    --validate`` at once) completed it meanwhile: theirs is kept, as they may be reading it.
    An incomplete one (a fetch of an older pidsync, a bundle that gained files) is replaced."""
    if final.exists():
        if all((final / name).is_file() for name in files):
            return  # the caller removes our staging folder
        shutil.rmtree(final, ignore_errors=True)
    try:
        staging.rename(final)
    except OSError:
        # Another process renamed theirs in between (a directory is not replaced by rename).
        if not all((final / name).is_file() for name in files):
            raise SchemaFetchError(f"{final}: could not be written in place") from None


#: Far above any official schema file (the largest is a few hundred kB): a location that
#: answers with more is not serving a schema, and must not fill the disk.
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_REDIRECTS = 5


def same_origin(first: str, then: str) -> bool:
    """Whether ``then`` has ``first``'s scheme, host and port: a schema location may move its
    files on its own server, never hand the fetch to another host or down to plain http."""
    a, b = urlsplit(first), urlsplit(then)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _get(http: requests.Session, url: str) -> bytes:
    where = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            # Redirects followed by hand: requests would follow one to any host or to http.
            answer = http.get(where, timeout=TIMEOUT, allow_redirects=False, stream=True)
        except requests.RequestException as exc:
            raise SchemaFetchError(f"{url}: {type(exc).__name__}: {exc}") from None
        with answer:
            if answer.is_redirect:
                target = urljoin(where, answer.headers.get("Location", ""))
                if not same_origin(url, target):
                    raise SchemaFetchError(f"{url}: redirect to another origin refused ({target})")
                where = target
                continue
            if answer.status_code != 200:
                raise SchemaFetchError(f"{url}: HTTP {answer.status_code}")
            return _bounded(url, answer)
    raise SchemaFetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _bounded(url: str, answer: requests.Response) -> bytes:
    body = bytearray()
    try:
        for chunk in answer.iter_content(64 * 1024):
            body += chunk
            if len(body) > MAX_FILE_BYTES:
                raise SchemaFetchError(f"{url}: too large (over {MAX_FILE_BYTES} bytes)")
    except requests.RequestException as exc:
        raise SchemaFetchError(f"{url}: {type(exc).__name__}: {exc}") from None
    return bytes(body)


def _patched(name: str, content: bytes) -> bytes:
    """Crossref's MathML import pointed at the bundle's copy, so the schema compiles offline."""
    if name in ("crossref5.3.1.xsd", "common5.3.1.xsd"):
        return content.replace(_MATHML_W3.encode(), _MATHML_LOCAL.encode())
    return content
