"""ORCID simulator (API v3.0): OAuth, member API, public API, search, webhooks, notifications."""

from worker.sandbox.orcid.service import OrcidService, OrcidSettings

__all__ = ["OrcidService", "OrcidSettings"]
