"""A scenario for the plumbing tests: no servers, figures that show what it was asked."""

from __future__ import annotations

from typing import Any

CALLS: list[bool] = []


def run(quick: bool) -> dict[str, Any]:
    CALLS.append(quick)
    return {
        "events": 10 if quick else 1000,
        "events_per_s": 123.456,
        "series": [[0.0, 5], [1.0, 7]],
    }
