"""Plain formatted citations (``text/x-bibliography``) from CSL-JSON: apa, harvard, ieee.

An honest approximation of the three styles, not a CSL processor: authors, year, title,
container, volume/issue/pages, publisher for items without a container, and the DOI link.
Unknown styles fall back to apa, as the DOI content negotiation service does. The locale
changes only the word joining the last two authors where it is known.
"""

from __future__ import annotations

from typing import Any

_AND = {
    "en": "and",
    "de": "und",
    "fr": "et",
    "es": "y",
    "it": "e",
    "nl": "en",
    "pt": "e",
    "sv": "och",
}
STYLES = ("apa", "harvard", "ieee")


def _year(item: dict[str, Any]) -> str:
    for key in ("issued", "published-print", "published-online", "created"):
        parts = (item.get(key) or {}).get("date-parts") or [[]]
        if parts and parts[0] and parts[0][0]:
            return str(parts[0][0])
    return "n.d."


def _initials(given: str, *, spaced: bool = True) -> str:
    initials = [f"{part[0]}." for part in given.replace("-", " ").split() if part]
    return (" " if spaced else "").join(initials)


def _people(item: dict[str, Any]) -> list[dict[str, str]]:
    return [p for p in item.get("author") or [] if isinstance(p, dict)]


def _name_apa(person: dict[str, str]) -> str:
    if "family" in person:
        initials = _initials(person.get("given", ""))
        return f"{person['family']}, {initials}" if initials else person["family"]
    return person.get("literal") or person.get("name", "")


def _name_ieee(person: dict[str, str]) -> str:
    if "family" in person:
        initials = _initials(person.get("given", ""))
        return f"{initials} {person['family']}".strip()
    return person.get("literal") or person.get("name", "")


def _join(names: list[str], conjunction: str, *, oxford: bool) -> str:
    if not names:
        return ""
    if len(names) == 1:
        return names[0]
    comma = "," if oxford and len(names) > 2 else ""
    return f"{', '.join(names[:-1])}{comma} {conjunction} {names[-1]}"


def _title(item: dict[str, Any]) -> str:
    title = item.get("title") or ""
    return title[0] if isinstance(title, list) and title else str(title)


def _container(item: dict[str, Any]) -> str:
    container = item.get("container-title") or ""
    return container[0] if isinstance(container, list) and container else str(container)


def _doi_link(item: dict[str, Any]) -> str:
    doi = item.get("DOI")
    return f"https://doi.org/{doi}" if doi else str(item.get("URL") or "")


def _apa(item: dict[str, Any], conjunction: str) -> str:
    names = [_name_apa(p) for p in _people(item)]
    authors = (
        _join(names, "&", oxford=True)
        if conjunction == "and"
        else _join(names, conjunction, oxford=False)
    )
    head = f"{authors} ({_year(item)}). " if authors else ""
    title = _title(item).rstrip(".")
    parts = [f"{head}{title}."]
    if container := _container(item):
        detail = container
        if volume := item.get("volume"):
            detail += f", {volume}"
            if issue := item.get("issue"):
                detail += f"({issue})"
        if page := item.get("page"):
            detail += f", {page}"
        parts.append(detail + ".")
    elif publisher := item.get("publisher"):
        parts.append(f"{publisher}.")
    if not authors:
        parts.insert(1, f"({_year(item)}).")
    if link := _doi_link(item):
        parts.append(link)
    return " ".join(parts)


def _harvard(item: dict[str, Any], conjunction: str) -> str:
    names = [_name_apa(p) for p in _people(item)]
    authors = _join(names, conjunction, oxford=False)
    title = _title(item).rstrip(".")
    text = f"{authors} ({_year(item)}) " if authors else f"({_year(item)}) "
    if container := _container(item):
        text += f"‘{title}’, {container}"  # noqa: RUF001 - Harvard's typographic quotes
        if volume := item.get("volume"):
            text += f", {volume}"
            if issue := item.get("issue"):
                text += f"({issue})"
        if page := item.get("page"):
            text += f", pp. {page}"
        text += "."
    else:
        text += f"{title}."
        if publisher := item.get("publisher"):
            text += f" {publisher}."
    if link := _doi_link(item):
        text += f" Available at: {link}."
    return text


def _ieee(item: dict[str, Any], conjunction: str) -> str:
    names = [_name_ieee(p) for p in _people(item)]
    authors = _join(names, conjunction, oxford=True)
    title = _title(item).rstrip(".")
    text = f"{authors}, " if authors else ""
    text += f"“{title},”"
    if container := _container(item):
        text += f" {container},"
        if volume := item.get("volume"):
            text += f" vol. {volume},"
        if issue := item.get("issue"):
            text += f" no. {issue},"
        if page := item.get("page"):
            text += f" pp. {page},"
    elif publisher := item.get("publisher"):
        text += f" {publisher},"
    text += f" {_year(item)}"
    if doi := item.get("DOI"):
        text += f", doi: {doi}"
    return text + "."


def format_citation(item: dict[str, Any], style: str = "apa", locale: str = "en-US") -> str:
    """One formatted reference; unknown styles fall back to apa."""
    conjunction = _AND.get(locale.split("-", maxsplit=1)[0].lower(), "and")
    formatter = {
        "apa": _apa,
        "harvard": _harvard,
        "harvard1": _harvard,
        "harvard-cite-them-right": _harvard,
        "ieee": _ieee,
    }
    return formatter.get(style.lower(), _apa)(item, conjunction)
