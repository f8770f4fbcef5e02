"""``pidsync bench``: benchmarks anyone can rerun, each starting what it needs.

A scenario is a function ``run(quick: bool) -> dict[str, Any]`` returning its figures (snake
case; :mod:`worker.bench.report` adds ``scenario`` and ``quick``). The registry maps each name
to ``"module:function"`` so that importing it costs nothing and adding a scenario is one line.

The scenarios drive pidsync from outside, as an operator would: the sandbox, the web process
and the dramatiq workers run as child processes (:mod:`worker.bench.stack`), events arrive
signed over HTTP, and the figures come from the operating system (CPU time), PostgreSQL's and
Redis' own counters and the sandbox's request counters (:mod:`worker.bench.measure`). So no
scenario imports the composition root or the sandbox's code: what is measured is the product
as deployed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

Scenario = Callable[[bool], dict[str, Any]]

#: name -> "module:function". Kept a plain literal: each scenario is one line.
SCENARIOS: dict[str, str] = {
    "orcid-limit": "worker.bench.limits:run_orcid",
    "datacite-limit": "worker.bench.limits:run_datacite",
    "overhead": "worker.bench.overhead:run",
    "intake": "worker.bench.intake:run",
    "metadata": "worker.bench.metadata:run",
    "sandbox": "worker.bench.sandbox:run",
    "backlog": "worker.bench.backlog:run",
    "backfill": "worker.bench.backfill:run",
    "peer": "worker.bench.peer:run",
    "scale": "worker.bench.scale:run",
    "ops-queries": "worker.bench.ops_queries:run",
    "metrics-scrape": "worker.bench.metrics_scrape:run",
    "crossref-latency": "worker.bench.crossref_latency:run",
}


class UnknownScenario(LookupError):
    """A scenario name that is not in :data:`SCENARIOS`."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown scenario {name!r}; choose from: {', '.join(sorted(SCENARIOS))}")
        self.name = name


def load(name: str) -> Scenario:
    """The scenario's ``run`` function (imported now, not before)."""
    target = SCENARIOS.get(name)
    if target is None:
        raise UnknownScenario(name)
    module, _, function = target.partition(":")
    run: Scenario = getattr(importlib.import_module(module), function)
    return run
