"""Plots of the part-B scenarios (backlog, backfill, peer, scale) from their JSON results.

.venv/bin/pip install -e '.[bench]'
.venv/bin/python benchmarks/plot_partb.py [benchmarks/results] [benchmarks/plots]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt


def _load(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}.json"
    if not path.exists() or not path.stat().st_size:
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def scale(result: dict[str, Any], out: Path) -> None:
    sizes = result["sizes"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
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
    for finding in result["findings"]:
        if not finding["seq_scans_without"]:
            continue
        label = finding["sql"][7:60] + "..."
        keys = [str(s) for s in sizes]
        right.plot(sizes, [finding["explain_ms"][k]["without_ms"] for k in keys], "x--",
                   label=f"before: {label}")  # fmt: skip
        right.plot(sizes, [finding["explain_ms"][k]["with_ms"] for k in keys], "o-",
                   label=f"after: {label}")  # fmt: skip
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("works already in the database")
    right.set_ylabel("EXPLAIN ANALYZE execution ms")
    right.set_title("sweep queries, without / with the new indexes")
    right.legend(fontsize=5)
    fig.tight_layout()
    fig.savefig(out / "scale.png", dpi=120)


def backlog(result: dict[str, Any], out: Path) -> None:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    labels = sorted({label for _t, sizes in result["rss_series"] for label in sizes})
    for label in labels:
        points = [(t, s[label]) for t, s in result["rss_series"] if label in s]
        top.plot([p[0] for p in points], [p[1] for p in points], label=label)
    top.set_ylabel("RSS, MB")
    top.set_ylim(bottom=0)
    top.set_title(f"backlog of {result['events']} events: memory of each process")
    top.legend(fontsize=7)
    bottom.plot([d[0] for d in result["drain_series"]], [d[1] for d in result["drain_series"]],
                label="DOIs registered")  # fmt: skip
    if "read_series" in result:  # events read: the effects' own queue lets DOIs flow meanwhile
        bottom.plot([d[0] for d in result["read_series"]], [d[1] for d in result["read_series"]],
                    label="events read")  # fmt: skip
        bottom.legend(fontsize=7)
    bottom.set_ylabel("count")
    bottom.set_xlabel("seconds since the first event was posted")
    fig.tight_layout()
    fig.savefig(out / "backlog.png", dpi=120)


def backfill(before: dict[str, Any], after: dict[str, Any] | None, out: Path) -> None:
    runs = [("before", before)] + ([("after", after)] if after else [])
    fig, axis = plt.subplots(figsize=(7, 4))
    for i, (name, run) in enumerate(runs):
        axis.bar([i * 3, i * 3 + 1], [run["single_seconds"], run["bulk_seconds"]],
                 color=["tab:gray", "tab:blue"])  # fmt: skip
        axis.text(i * 3 + 0.5, run["single_seconds"], f"{name}: {run['ratio']}x", ha="center",
                  va="bottom")  # fmt: skip
    axis.set_xticks([i * 3 + k for i in range(len(runs)) for k in (0, 1)])
    axis.set_xticklabels([f"{n}\nsingle" if k == 0 else f"{n}\nbulk" for n, _r in runs
                          for k in (0, 1)])  # fmt: skip
    axis.set_ylabel("seconds for 1,000 works onto one record")
    axis.set_title("ORCID backfill: single POSTs vs bulk (24 req/s, 50 ms latency)")
    fig.tight_layout()
    fig.savefig(out / "backfill.png", dpi=120)


def peer(result: dict[str, Any], out: Path) -> None:
    fig, axis = plt.subplots(figsize=(6, 4))
    axis.bar(["DataCiteRESTClient loop", "pidsync"],
             [result["peer_seconds"], result["pidsync_seconds"]])  # fmt: skip
    axis.set_ylabel(f"seconds for {result['dois']} DOIs")
    axis.set_title(f"{result['latency_ms']:.0f} ms per DataCite call: {result['ratio']}x")
    fig.tight_layout()
    fig.savefig(out / "peer.png", dpi=120)


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results")
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "benchmarks/plots")
    out.mkdir(parents=True, exist_ok=True)
    if result := _load(folder, "scale"):
        scale(result, out)
    if result := _load(folder, "backlog"):
        backlog(result, out)
    if result := _load(folder, "backfill-before"):
        backfill(result, _load(folder, "backfill-after3"), out)
    if result := _load(folder, "peer"):
        peer(result, out)


if __name__ == "__main__":
    main()
