"""Helpers shared by the renderers: requirement checks, truncation, paragraphs, sequences."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from worker.metadata.errors import MissingFields

if TYPE_CHECKING:
    from collections.abc import Iterable

    from worker.metadata.work import Contributor, Work

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


AUTHOR_NEEDED = "missing: at least one author is needed"


def require(target: str, checks: Iterable[tuple[str, object]]) -> None:
    """Raise MissingFields naming every path whose value is missing (None, '' or empty)."""
    missing = [path for path, value in checks if value is None or value in ("", [], {})]
    if missing:
        messages = {"contributors": AUTHOR_NEEDED} if "contributors" in missing else None
        raise MissingFields(target, missing, messages)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, on a word boundary when one is near, with
    an ellipsis; never in the middle of a surrogate pair (Python strings are code points)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "\u2026"


def paragraphs(text: str) -> list[str]:
    """Paragraphs of a plain-text abstract (split on blank lines, inner whitespace collapsed)."""
    parts = (" ".join(part.split()) for part in re.split(r"\n\s*\n", text))
    return [part for part in parts if part]


def sequences(contributors: list[Contributor]) -> list[str]:
    """'first' / 'additional' per contributor: as given, else the first of the list is first."""
    result: list[str] = []
    for index, contributor in enumerate(contributors):
        if contributor.sequence is not None:
            result.append(contributor.sequence)
        else:
            result.append("first" if index == 0 else "additional")
    return result


def full_title(work: Work) -> str:
    return f"{work.title}: {work.subtitle}" if work.subtitle else work.title
