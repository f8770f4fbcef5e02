"""Crossref simulator: deposit with asynchronous processing, and the REST works API."""

from worker.sandbox.crossref.service import CrossrefService

__all__ = ["CrossrefService"]
