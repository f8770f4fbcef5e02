"""PNG plots of a scenario's result (matplotlib: the optional ``bench`` extra).

- the limit scenarios: the achieved request rate per second over time beside the limit;
- overhead: pidsync's CPU per effect beside the design floor and the bare floor;
- scale, backlog, backfill and peer: their own figures (CPU and query times per database size;
  memory and progress over time; single versus bulk; the peer loop versus pidsync);
- any other scenario with a ``series``: its counts per second.
"""

from __future__ import annotations

from collections.abc import Callable
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
    own = _OWN_PLOTS.get(scenario)
    if own is not None:
        figure = own(plt, outcome)
        figure.tight_layout()
        figure.savefig(path, dpi=120)
        plt.close(figure)
        return [path]
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


def _scale(plt: Any, result: dict[str, Any]) -> Any:
    sizes = result["sizes"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(sizes, result["cpu_ms_per_event"], "o-", label="worker CPU ms per event")
    left.set_xscale("log")
    left.set_ylim(bottom=0)
    left.set_xlabel("works already in the database")
    left.set_ylabel("ms of worker CPU per event")
    left.set_title("CPU per event vs database size")
    twin = left.twinx()
    twin.plot(sizes, result["events_per_s"], "s--", color="tab:green", label="events/s")
    twin.set_ylabel("events/s")
    twin.set_ylim(bottom=0)
    keys = [str(size) for size in sizes]
    for finding in result["findings"]:
        if not finding["seq_scans_without"]:  # only the queries the new indexes changed
            continue
        label = finding["sql"][7:60] + "..."
        times = finding["explain_ms"]
        right.plot(sizes, [times[k]["without_ms"] for k in keys], "x--", label=f"before: {label}")
        right.plot(sizes, [times[k]["with_ms"] for k in keys], "o-", label=f"after: {label}")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("works already in the database")
    right.set_ylabel("EXPLAIN ANALYZE execution ms")
    right.set_title("sweep queries, without / with the new indexes")
    right.legend(fontsize=5)
    return figure


def _backlog(plt: Any, result: dict[str, Any]) -> Any:
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    labels = sorted({label for _t, sizes in result["rss_series"] for label in sizes})
    for label in labels:
        points = [(t, sizes[label]) for t, sizes in result["rss_series"] if label in sizes]
        top.plot([p[0] for p in points], [p[1] for p in points], label=label)
    top.set_ylabel("RSS, MB")
    top.set_ylim(bottom=0)
    top.set_title(f"backlog of {result['events']} events: memory of each process")
    top.legend(fontsize=7)
    drained = result["drain_series"]
    bottom.plot([d[0] for d in drained], [d[1] for d in drained], label="DOIs registered")
    if "read_series" in result:  # events read: the effects' own queue lets DOIs flow meanwhile
        read = result["read_series"]
        bottom.plot([d[0] for d in read], [d[1] for d in read], label="events read")
        bottom.legend(fontsize=7)
    bottom.set_ylabel("count")
    bottom.set_xlabel("seconds since the first event was posted")
    return figure


def _overhead(plt: Any, result: dict[str, Any]) -> Any:
    """pidsync's CPU per effect beside the design floor (its promises, bare parts) and the
    bare floor."""
    figure, axes = plt.subplots(figsize=(7, 3.6))
    labels = ["pidsync", "floor (bare parts)"]
    values = [result["cpu_ms_per_effect"], result["floor_cpu_ms_per_effect"]]
    colors = ["tab:blue", "tab:gray"]
    title = f"overhead: {result['ratio_to_floor']:.2f}x the floor"
    if "design_floor_cpu_ms_per_effect" in result:
        labels.insert(1, "design floor (its promises)")
        values.insert(1, result["design_floor_cpu_ms_per_effect"])
        colors.insert(1, "tab:olive")
        title += f", {result['ratio_to_design_floor']:.2f}x the design floor"
    bars = axes.bar(labels, values, color=colors)
    axes.bar_label(bars, fmt="%.2f ms")
    axes.set_ylim(0, max(values) * 1.15)  # room for the tallest bar's label
    axes.set_ylabel("CPU ms per effect")
    axes.set_title(title)
    return figure


def _backfill(plt: Any, result: dict[str, Any]) -> Any:
    figure, axes = plt.subplots(figsize=(6, 4))
    bars = axes.bar(
        ["single POSTs", "bulk"],
        [result["single_seconds"], result["bulk_seconds"]],
        color=["tab:gray", "tab:blue"],
    )
    axes.bar_label(bars, fmt="%.1f s")
    axes.set_ylabel(f"seconds for {result.get('works', 'the')} works onto one record")
    axes.set_title(f"ORCID backfill: bulk {result['ratio']}x faster (24 req/s, 50 ms latency)")
    return figure


def _peer(plt: Any, result: dict[str, Any]) -> Any:
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.bar(
        ["DataCiteRESTClient loop", "pidsync"], [result["peer_seconds"], result["pidsync_seconds"]]
    )
    axes.set_ylabel(f"seconds for {result['dois']} DOIs")
    axes.set_title(f"{result['latency_ms']:.0f} ms per DataCite call: {result['ratio']}x")
    return figure


#: Scenarios with a figure of their own: (pyplot, result) -> the figure drawn.
_OWN_PLOTS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "scale": _scale,
    "backlog": _backlog,
    "backfill": _backfill,
    "overhead": _overhead,
    "peer": _peer,
}
