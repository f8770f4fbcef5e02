"""PNG plots of a scenario's result (matplotlib: the optional ``bench`` extra).

- the limit scenarios: the achieved request rate per second over time beside the limit;
- overhead: pidsync's CPU per effect beside the floor of its bare parts;
- any other scenario with a ``series``: its counts per second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class PlotsUnavailable(RuntimeError):
    """matplotlib is not installed (``pip install -e '.[bench]'``)."""


def plot(outcome: dict[str, Any], directory: Path) -> list[Path]:
    """Draw the scenario's plot into ``directory``; the files written (none for a scenario
    without one)."""
    try:
        import matplotlib as mpl
    except ImportError as exc:
        raise PlotsUnavailable("plots need matplotlib: pip install -e '.[bench]'") from exc
    mpl.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    scenario = outcome["scenario"]
    path = directory / f"{scenario}.png"
    figure, axes = plt.subplots(figsize=(7, 3.6))
    if "series" in outcome and "limit_rps" in outcome:
        seconds = [point[0] for point in outcome["series"]]
        rates = [point[1] for point in outcome["series"]]
        axes.step(seconds, rates, where="post", label="achieved (requests in each second)")
        axes.axhline(outcome["limit_rps"], color="red", linestyle="--", label="limit")
        axes.set_xlabel("seconds")
        axes.set_ylabel("requests / s")
        axes.set_title(
            f"{scenario}: {outcome['achieved_rps']:.2f} of {outcome['limit_rps']:.2f} req/s "
            f"(ratio {outcome['ratio']:.3f}), {outcome['rejected']} rejected"
        )
        axes.legend(loc="upper right")
    elif "floor_cpu_ms_per_effect" in outcome:
        labels = ["pidsync", "floor (bare parts)"]
        values = [outcome["cpu_ms_per_effect"], outcome["floor_cpu_ms_per_effect"]]
        bars = axes.bar(labels, values, color=["tab:blue", "tab:gray"])
        axes.bar_label(bars, fmt="%.2f ms")
        axes.set_ylabel("CPU ms per effect")
        axes.set_title(f"overhead: {outcome['ratio_to_floor']:.2f}x the floor")
    elif "series" in outcome:
        seconds = [point[0] for point in outcome["series"]]
        rates = [point[1] for point in outcome["series"]]
        axes.step(seconds, rates, where="post")
        axes.set_xlabel("seconds")
        axes.set_ylabel("accepted events / s")
        axes.set_title(
            f"{scenario}: {outcome['events_per_s']:.0f} events/s, "
            f"p50 {outcome['p50_ms']:.1f} ms, p99 {outcome['p99_ms']:.1f} ms"
        )
    else:
        plt.close(figure)
        return []
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return [path]
