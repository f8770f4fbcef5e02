"""Work → RIS. Requires nothing beyond a valid Work; values are single lines (newlines become
spaces)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from worker.metadata.types import ROLES, mapping

if TYPE_CHECKING:
    from worker.metadata.work import Work


def _line(tag: str, value: str) -> str:
    return f"{tag}  - {' '.join(value.split())}"


def render_ris(work: Work) -> str:
    """One RIS record (``TY`` ... ``ER``) for ``work``."""
    row = mapping(work.type)
    lines = [_line("TY", row.ris)]
    for contributor in work.contributors:
        tag = ROLES[contributor.role].ris
        if tag:
            lines.append(_line(tag, contributor.inverted_name))
    lines.append(_line("TI", work.title))
    if work.subtitle:
        lines.append(_line("ST", work.subtitle))
    container = work.container
    if container and container.title:
        lines.append(_line("T2", container.title))
    parts = work.date_parts()
    if parts:
        lines.append(_line("PY", str(parts[0])))
        padded = [f"{parts[0]:04d}", *(f"{p:02d}" for p in parts[1:]), "", ""][:3]
        lines.append(_line("DA", "/".join(padded) + "/"))
    if container:
        pairs = [
            ("VL", container.volume),
            ("IS", container.issue),
            ("SP", container.first_page),
            ("EP", container.last_page),
            ("SN", container.issn or container.eissn or container.isbn),
        ]
        lines += [_line(tag, value) for tag, value in pairs if value]
    pairs = [
        ("PB", work.publisher),
        ("C2", work.event.name if work.event else None),
        ("ET", work.resource_version),
        ("M3", row.csl_genre),
        ("DO", work.doi),
        ("UR", work.url),
        ("AB", work.abstract),
        ("LA", work.language),
    ]
    lines += [_line(tag, value) for tag, value in pairs if value]
    lines += [_line("KW", keyword) for keyword in work.keywords]
    lines.append("ER  - ")
    return "\n".join(lines) + "\n"
