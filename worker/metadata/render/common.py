"""Helpers shared by the renderers: requirement checks, truncation, paragraphs, sequences, and
the shape check of JSON the XML converters take."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from worker.metadata.errors import MissingFields

if TYPE_CHECKING:
    from collections.abc import Iterable

    from worker.metadata.work import Contributor, Work

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


AUTHOR_NEEDED = "missing: at least one author is needed"


def require(
    target: str,
    checks: Iterable[tuple[str, object]],
    messages: dict[str, str] | None = None,
) -> None:
    """Raise MissingFields naming every path whose value is missing (None, '' or empty);
    ``messages`` says more than "missing" for some paths."""
    missing = [path for path, value in checks if value is None or value in ("", [], {})]
    if missing:
        said = {"contributors": AUTHOR_NEEDED, **(messages or {})}
        raise MissingFields(target, missing, {k: v for k, v in said.items() if k in missing})


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


def shape_problems(value: Any, shape: Any, path: str = "") -> list[str]:
    """What in JSON ``value`` does not fit ``shape``: unknown keys, missing required keys,
    wrong kinds. A shape is ``str``, ``int`` (or another type), a dict of key → shape (a key
    ending in ``!`` is required), a one-element list (every item has that shape), or a tuple of
    alternatives. ``None`` stands for an absent value."""
    where = path or "(root)"
    if value is None:
        return []
    if isinstance(shape, tuple):
        if any(not shape_problems(value, option, path) for option in shape):
            return []
        return [f"{where}: not of the expected form"]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [
            p
            for i, item in enumerate(value)
            for p in shape_problems(item, shape[0], f"{path}[{i}]")
        ]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        keys = {key.rstrip("!"): key.endswith("!") for key in shape}
        problems = [
            f"{path + '.' if path else ''}{key}: unknown key (not carried by the conversion)"
            for key in value
            if key not in keys
        ]
        for key, required in keys.items():
            child = f"{path + '.' if path else ''}{key}"
            if value.get(key) is None:
                if required:
                    problems.append(f"{child}: required")
                continue
            problems += shape_problems(value[key], shape[key + "!" if required else key], child)
        return problems
    if shape is int and isinstance(value, bool):
        return [f"{where}: expected an integer"]
    if not isinstance(value, shape):
        return [f"{where}: expected {'a string' if shape is str else shape.__name__}"]
    return []
