"""The chaos run's figures: what it broke, what the checks found, and the verdict.

A violation is any invariant above zero (each counts the items that break it), a system that
never went quiet (``stuck``) or traffic that could not be delivered (``traffic_error``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: What the run did, in the order the summary prints it.
ACTIONS = (
    "events", "duplicates_sent", "out_of_order_sent", "concurrent_sent", "researcher_actions",
    "worker_kills", "window_kills", "web_kills", "scheduler_leader_kills", "redis_restarts",
    "broker_restarts", "postgres_restarts", "process_restarts", "outages", "pressure_windows",
    "faults_injected", "rate_limited", "agency_requests",
)  # fmt: skip


def violations(figures: dict[str, Any]) -> list[str]:
    """The names of the broken invariants (empty: the run passed)."""
    broken = [name for name in figures.get("invariants", []) if figures.get(name, 0)]
    if figures.get("stuck"):
        broken.append("stuck")
    if figures.get("traffic_error"):
        broken.append("traffic_error")
    return broken


def summary(figures: dict[str, Any]) -> str:
    size = "quick" if figures["quick"] else "full"
    head = f"pidsync chaos: seed {figures['seed']}, broker {figures['broker']}, {size} run"
    lines = [f"{head}, {figures['seconds']:.0f}s"]
    lines.append("  did:    " + ", ".join(f"{k} {figures.get(k, 0)}" for k in ACTIONS))
    checks = ", ".join(f"{name} {figures[name]}" for name in figures.get("invariants", []))
    lines.append(f"  found:  {checks}, stuck {figures.get('stuck', 0)}")
    if figures.get("traffic_error"):
        lines.append(f"  traffic failed: {figures['traffic_error']}")
    broken = violations(figures)
    for name, items in figures.get("violation_details", {}).items():
        lines.extend(f"  {name}: {item}" for item in items[:5])
    if figures.get("pending_at_end"):
        lines.append(f"  still pending at the end: {figures['pending_at_end']}")
    lines.extend(
        f"  open transaction: {row}" for row in figures.get("open_transactions_at_end", [])
    )
    lines.append(
        "  result: " + ("VIOLATED: " + ", ".join(broken) if broken else "every invariant holds")
    )
    return "\n".join(lines)


def write_json(path: Path, figures: dict[str, Any]) -> None:
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
