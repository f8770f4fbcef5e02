"""DOI registration decisions. This version registers nothing and says so in the event outcome."""

from __future__ import annotations

from sqlalchemy.orm import Session

from worker.models import Work


def _registrar(work: Work) -> str | None:
    registration = work.work_metadata.get("registration") or {}
    registrar = registration.get("registrar")
    return registrar if registrar and registrar != "none" else None


def on_work_changed(_session: Session, work: Work) -> str | None:
    registrar = _registrar(work)
    return f"DOI registration at {registrar} is not implemented yet" if registrar else None


def on_work_withdrawn(_session: Session, work: Work) -> str | None:
    registrar = _registrar(work)
    return f"DOI withdrawal at {registrar} is not implemented yet" if registrar else None
