"""Crossref simulator: deposit with asynchronous processing, and the REST works API."""
