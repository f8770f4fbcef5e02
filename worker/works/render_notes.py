"""What a target could not hold of a Work, recorded where its users look: on the registration
or placement row that sent it (``render_notes``: the payload hash and the notes, shown as
``notes`` by ``GET /works/{source}/{id}``), and one INFO line when they change.

Cheap by construction: the notes are computed once per payload (the stored hash equal to the
one about to be sent means nothing changed, so a retry computes nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from worker.logging import get_logger
from worker.metadata.losses import losses
from worker.metadata.work import Work as MetaWork

log = get_logger(__name__)


class NotedRow(Protocol):
    render_notes: dict[str, Any] | None


def record_render_notes(
    row: NotedRow,
    target: str,
    payload_hash: str,
    work: Callable[[], MetaWork] | MetaWork,
    *,
    extra: Callable[[MetaWork], list[str]] | None = None,
    **context: Any,
) -> list[str]:
    """Store on ``row`` what ``target`` leaves out of the Work whose payload hashes to
    ``payload_hash`` (``work``: the Work, or how to build it, only called when the payload
    changed); ``extra`` adds target-specific lines (ORCID's truncations). Returns the notes."""

    def notes() -> list[str]:
        return notes_for(work() if callable(work) else work, target, extra)

    return store_render_notes(row, target, payload_hash, notes, **context)


def notes_for(
    model: MetaWork, target: str, extra: Callable[[MetaWork], list[str]] | None = None
) -> list[str]:
    """What ``target`` leaves out of ``model``, one line each (``extra``: lines of its own)."""
    notes = [f"{note.path}: {note.message}" for note in losses(model, target)]
    if extra is not None:
        notes += [line for line in extra(model) if line not in notes]
    return notes


def store_render_notes(
    row: NotedRow, target: str, payload_hash: str, notes: Callable[[], list[str]], **context: Any
) -> list[str]:
    """:func:`record_render_notes` with the notes made by ``notes`` (called only when the
    payload changed): for a caller that has them already."""
    stored = row.render_notes or {}
    if stored.get("hash") == payload_hash:
        return list(stored.get("notes") or [])
    made = notes()
    row.render_notes = {"hash": payload_hash, "notes": made}
    if made and made != stored.get("notes"):
        # One line per change of what is left out, never one per message or retry.
        log.info("render_notes", target=target, count=len(made), notes=made, **context)
    return made


def shown_notes(row: NotedRow) -> list[str]:
    """The notes the status API shows (empty before anything was rendered for sending)."""
    return list((row.render_notes or {}).get("notes") or [])
