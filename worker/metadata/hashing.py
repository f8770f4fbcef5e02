"""Stable hashes of rendered payloads, so an update whose payload did not change is skipped."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from lxml import etree
from pydantic import BaseModel

if TYPE_CHECKING:
    from worker.metadata.work import Work


def canonical_bytes(obj: Any) -> bytes:
    """A canonical byte form: sorted compact JSON for dicts, lists and models; C14N 2.0 for XML
    text (attribute order, quoting, whitespace inside tags and the XML declaration do not
    matter); UTF-8 for other text."""
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json", exclude_none=True)
    if isinstance(obj, (dict, list, int, float, bool)) or obj is None:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode()
    if isinstance(obj, bytes):
        obj = obj.decode()
    if isinstance(obj, str):
        stripped = obj.lstrip()
        if stripped.startswith("<"):
            if stripped.startswith("<?xml"):
                stripped = stripped[stripped.index("?>") + 2 :]
            return etree.canonicalize(stripped).encode()
        return obj.encode()
    raise TypeError(f"cannot hash a {type(obj).__name__}")


def payload_hash(obj: Any) -> str:
    """The SHA-256 (64 hex characters) of :func:`canonical_bytes` of ``obj``."""
    return hashlib.sha256(canonical_bytes(obj)).hexdigest()


def crossref_record_hash(work: Work) -> str:
    """The hash of ``work``'s Crossref record without what changes on every deposit (batch id,
    timestamps, depositor): equal hashes mean a redeposit would say nothing new."""
    from worker.metadata.render.crossref_xml import render_crossref_deposit

    xml = render_crossref_deposit(
        [work],
        doi_batch_id="hash",
        timestamps=0,
        depositor_name="-",
        depositor_email="hash@pidsync",
        registrant="-",
    )
    return payload_hash(xml)
