"""DataCite simulator: REST ``/dois`` (lupo) and MDS basics (poodle)."""
