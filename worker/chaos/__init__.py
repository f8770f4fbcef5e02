"""``pidsync chaos``: break the running system on purpose, at random and repeatably, and count.

``traffic`` is what the emitting systems and the researchers do (every event type from two
tenants, with duplicates, out-of-order and concurrent sends, and the researchers' own actions
at ORCID); ``invariants`` checks, from the sandbox's and the database's own records, that
nothing was lost, duplicated or left behind.
"""
