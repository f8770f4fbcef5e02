"""The ops dashboard ``/ops``: server-rendered pages over worker.ops, behind a login."""
