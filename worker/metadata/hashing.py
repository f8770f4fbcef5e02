"""Stable hashes of rendered payloads, so an update whose payload did not change is skipped."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from lxml import etree
from pydantic import BaseModel


def canonical_bytes(obj: Any) -> bytes:
    """A canonical byte form: sorted compact JSON for dicts, lists and models; C14N 2.0 for XML
    text (so attribute order, namespace prefixes' spelling of whitespace in tags and the XML
    declaration do not matter); UTF-8 for other text."""
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
    """``sha256:<hex>`` of :func:`canonical_bytes` of ``obj``."""
    return "sha256:" + hashlib.sha256(canonical_bytes(obj)).hexdigest()
