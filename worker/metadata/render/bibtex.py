"""Work → BibTeX (classic entry types; UTF-8, LaTeX specials escaped).

Requires nothing beyond a valid Work. The citation key is derived only from the metadata
(first author's family name, year, first significant title word, ASCII-folded), so the same
Work always gets the same key.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from worker.metadata.render.common import full_title
from worker.metadata.types import ROLES, WorkType, mapping

if TYPE_CHECKING:
    from worker.metadata.work import Contributor, Work

_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL_RE = re.compile(r"[\\{}&%$#_~^]")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_STOPWORDS = frozenset({"a", "an", "the", "on", "of", "in", "and", "for", "to", "with", "at"})


def escape(text: str) -> str:
    """LaTeX-escape ``text`` for a BibTeX field value, whitespace collapsed."""
    return _SPECIAL_RE.sub(lambda m: _SPECIALS[m.group()], " ".join(text.split()))


def _verbatim(text: str) -> str:
    """doi and url are verbatim fields (biblatex, url package): no escaping, only braces kept
    balanced by percent-encoding them."""
    return text.replace("{", "%7B").replace("}", "%7D")


# Letters that Unicode decomposition does not reduce to ASCII.
_FOLD = str.maketrans({
    "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss",
    "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "Th", "ð": "d",
})  # fmt: skip


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD)).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]", "", folded).lower()


def citation_key(work: Work) -> str:
    """A deterministic key such as ``carberry2020hello``."""
    people = work.authors or work.contributors
    name = _ascii(people[0].family or people[0].name or "")[:20] if people else ""
    words = [_ascii(word) for word in work.title.split()]
    word = next((w for w in words if w and w not in _STOPWORDS), "") or next(
        (w for w in words if w), ""
    )
    key = f"{name or 'anon'}{work.publication_year or ''}{word[:20]}"
    return key if re.match(r"[a-z]", key) else "work" + key


def _names(contributors: list[Contributor]) -> str:
    names = []
    for contributor in contributors:
        if contributor.is_person and contributor.family:
            family = escape(contributor.family)
            if " and " in family.lower() or "," in family:
                family = "{" + family + "}"
            names.append(f"{family}, {escape(contributor.given)}" if contributor.given else family)
        else:
            names.append("{" + escape(contributor.full_name) + "}")
    return " and ".join(names)


def render_bibtex(work: Work) -> str:
    """One BibTeX entry for ``work``."""
    row = mapping(work.type)
    container = work.container
    fields: list[tuple[str, str | None]] = []
    for role, contributors in _by_role(work).items():
        if role is not None:
            fields.append((role, _names(contributors)))
    fields.append(("title", "{" + escape(full_title(work)) + "}"))
    if container and container.title:
        key = {"article": "journal", "incollection": "booktitle", "inproceedings": "booktitle"}
        fields.append((key.get(row.bibtex, "howpublished"), escape(container.title)))
    parts = work.date_parts()
    fields += [
        ("year", str(parts[0]) if parts else None),
        ("month", _MONTHS[parts[1] - 1] if len(parts) > 1 else None),
    ]
    if container:
        fields += [
            ("volume", container.volume and escape(container.volume)),
            ("number", container.issue and escape(container.issue)),
            ("pages", _pages(container.first_page, container.last_page)),
            ("issn", container.issn or container.eissn),
            ("isbn", container.isbn),
        ]
    place = {"phdthesis": "school", "techreport": "institution"}.get(row.bibtex, "publisher")
    fields += [
        (place, work.publisher and escape(work.publisher)),
        ("type", row.csl_genre if row.bibtex == "techreport" else None),
        ("note", f"Version {escape(work.resource_version)}" if work.resource_version else None),
        ("doi", work.doi and _verbatim(work.doi)),
        ("url", work.url and _verbatim(work.url)),
        ("language", work.language),
        ("keywords", escape(", ".join(work.keywords)) if work.keywords else None),
    ]
    if work.type in (WorkType.DATASET, WorkType.SOFTWARE) and not any(
        k == "howpublished" for k, _ in fields
    ):
        fields.append(("howpublished", mapping(work.type).datacite_type))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@{row.bibtex}{{{citation_key(work)},\n{body}\n}}\n"


def _pages(first: str | None, last: str | None) -> str | None:
    if first is None:
        return None
    return f"{escape(first)}--{escape(last)}" if last else escape(first)


def _by_role(work: Work) -> dict[str | None, list[Contributor]]:
    grouped: dict[str | None, list[Contributor]] = {}
    for contributor in work.contributors:
        grouped.setdefault(ROLES[contributor.role].bibtex, []).append(contributor)
    return grouped
