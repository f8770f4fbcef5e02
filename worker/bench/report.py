"""A scenario's result: one JSON object (``scenario``, ``quick``, then its figures in snake
case) and a human summary of its scalar figures. Series (lists) stay in the JSON for plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def result(scenario: str, quick: bool, figures: dict[str, Any]) -> dict[str, Any]:
    return {"scenario": scenario, "quick": quick, **figures}


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_format(v)}" for k, v in value.items())
    return str(value)


def summary(outcome: dict[str, Any]) -> str:
    """``scenario (quick)`` and one line per scalar figure; lists (series) are left out."""
    mode = "quick" if outcome.get("quick") else "full"
    lines = [f"pidsync bench {outcome['scenario']} ({mode})"]
    figures = {
        k: v
        for k, v in outcome.items()
        if k not in {"scenario", "quick"} and not isinstance(v, list)
    }
    width = max((len(k) for k in figures), default=0)
    lines += [f"  {key.ljust(width)}  {_format(value)}" for key, value in figures.items()]
    return "\n".join(lines)


def write_json(path: Path, outcome: dict[str, Any]) -> None:
    path.write_text(json.dumps(outcome, indent=2) + "\n")
