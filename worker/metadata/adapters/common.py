"""What every adapter shares: building a Work from a dict while reporting, not failing on,
values a Work cannot hold (an invalid ORCID iD in a DataCite record is dropped with a note)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from pydantic import ValidationError

from worker.metadata.errors import InputError, MetadataError
from worker.metadata.work import Work, json_path, problems_of

_ESSENTIAL = ("id", "type", "title")
_P = ParamSpec("_P")
_R = TypeVar("_R")
#: What reading a field of another shape than the source documents raises (a number where a
#: list of authors belongs: TypeError; an author that is a string: AttributeError; ...).
_SHAPE_ERRORS = (
    KeyError, IndexError, TypeError, AttributeError, ValueError, OverflowError, RecursionError,
)  # fmt: skip


def reads(source: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """An adapter's entry point: input of another shape than ``source`` documents becomes an
    InputError naming the source and the field's fault, never an AttributeError (the input
    comes from an agency's answer or a user's file: both are outside pidsync's control)."""

    def decorate(adapter: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(adapter)
        def read(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return adapter(*args, **kwargs)
            except MetadataError:  # already says what is wrong (a ValueError too)
                raise
            except _SHAPE_ERRORS as exc:
                raise InputError(
                    source, f"a field has an unexpected shape ({type(exc).__name__}: {exc})"[:300]
                ) from None

        return read

    return decorate


def build_work(data: dict[str, Any], problems: list[str], source: str) -> Work:
    """A Work from ``data``; values the model refuses are removed (each noted in ``problems``)
    and the rest kept. An entry left without a required part goes as a whole (a date without
    its date). Raises InputError only when id, type or title cannot be had."""
    for _ in range(50):
        try:
            return Work.model_validate(data)
        except ValidationError as exc:
            errors = sorted(exc.errors(), key=lambda e: [str(p) for p in e["loc"]], reverse=True)
            for (path, message), error in zip(problems_of(exc), exc.errors(), strict=True):
                if not path or path.split(".")[0].split("[")[0] in _ESSENTIAL:
                    raise InputError(source, f"{path or 'record'}: {message}") from None
                if error["type"] == "missing":
                    parent = json_path(tuple(error["loc"][:-1]))
                    problems.append(f"{parent}: lacks {path.rsplit('.', 1)[-1]} (dropped)")
                else:
                    problems.append(f"{path}: {message} (dropped)")
            # Remove deepest paths first so list indexes stay right.
            for error in errors:
                loc = list(error["loc"])
                _remove(data, loc[:-1] if error["type"] == "missing" else loc)
    raise InputError(source, "could not make a valid Work")


def _remove(data: Any, loc: list[Any]) -> None:
    """Delete the value at ``loc`` (pydantic's location: keys, list indexes, validator tags)."""
    loc = [part for part in loc if isinstance(part, int) or json_path((part,))]
    parent = data
    for part in loc[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return
    last = loc[-1] if loc else None
    removable = (isinstance(parent, dict) and last in parent) or (
        isinstance(parent, list) and isinstance(last, int) and last < len(parent)
    )
    if removable:
        del parent[last]


def load_json(text: str | bytes, source: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(source, f"not JSON ({exc})") from None
    except RecursionError:  # json's decoder on [[[[...: no ValueError
        raise InputError(source, "not JSON (nested too deeply)") from None


def unhandled(
    data: dict[str, Any], handled: set[str], ignored: set[str], where: str = ""
) -> list[str]:
    """A problem line for every non-empty key neither handled nor known to be bookkeeping."""
    return [
        f"{where}{key}: not represented in a Work"
        for key, value in data.items()
        if key not in handled and key not in ignored and value not in (None, "", [], {})
    ]


def first_text(value: Any) -> str | None:
    """The first string of a list (Crossref REST style), or the string itself."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    return value.strip() if isinstance(value, str) and value.strip() else None


def date_from_parts(parts: Any) -> str | None:
    """'YYYY[-MM[-DD]]' from CSL/Crossref ``{"date-parts": [[y, m, d]]}``."""
    try:
        first = parts["date-parts"][0]
        numbers = [int(p) for p in first if p not in (None, "")]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if not numbers or not 0 < numbers[0] < 10000:
        return None
    return "-".join([f"{numbers[0]:04d}", *(f"{n:02d}" for n in numbers[1:3])])


def date_from_text(text: Any) -> str | None:
    """'YYYY[-MM[-DD]]' from the start of an ISO-like date string."""
    if not isinstance(text, str):
        return None
    match = re.match(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", text.strip())
    return "-".join(part for part in match.groups() if part) if match else None
