"""Prometheus metrics from every process, all prefixed ``pidsync_``: counters each process
keeps (``registry``), outcomes counted from committed state changes (``transitions``), gauges
read from Postgres and the broker at scrape time (``state``), and where each process serves
them (``exposition``). Alert rules and a dashboard over them: ``deploy/prometheus``,
``deploy/grafana``."""

# Only the counters here: the plumbing that counts (broker, http, ratelimit) imports this
# package, and ``state`` imports the broker, so importing it here would make a cycle.
from worker.metrics.registry import INTAKE_EVENTS, INTAKE_REQUESTS

__all__ = ["INTAKE_EVENTS", "INTAKE_REQUESTS"]
