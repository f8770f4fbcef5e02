"""What every effect hook is told about the change it reacts to."""

from __future__ import annotations

from dataclasses import dataclass

from worker.config import Settings


@dataclass(frozen=True)
class Trigger:
    """Who caused the change (the intake client of the event; None for a researcher's own
    consent through /orcid/connect) and the process's settings."""

    client_id: str | None
    settings: Settings
