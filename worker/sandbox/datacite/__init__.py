"""DataCite simulator: REST ``/dois`` (lupo) and MDS basics (poodle)."""

from worker.sandbox.datacite.service import DataCiteService

__all__ = ["DataCiteService"]
