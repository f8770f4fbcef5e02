"""``pidsync bench SCENARIO [--quick] [--json OUT] [--plot DIR]``: run one benchmark.

Each scenario starts what it needs (see :mod:`worker.bench`), prints a human summary on
stdout and, with ``--json``, writes one object with ``scenario``, ``quick`` and its figures.
An unknown scenario is exit code 2 naming it; a scenario that cannot run is exit code 1.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("bench")
@click.argument("scenario")
@click.option("--quick", is_flag=True, help="A smaller run: under a minute.")
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the figures as one JSON object to this file.",
)
@click.option(
    "--plot",
    "plot_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Draw the scenario's plot (PNG) into this directory (needs the 'bench' extra).",
)
def bench(scenario: str, quick: bool, json_out: Path | None, plot_dir: Path | None) -> None:
    """Run benchmark SCENARIO (orcid-limit, datacite-limit, overhead, intake, ...)."""
    from worker.bench import SCENARIOS, UnknownScenario, load
    from worker.bench.report import result, summary, write_json

    try:
        run = load(scenario)
    except UnknownScenario as exc:
        raise click.BadParameter(str(exc), param_hint="SCENARIO") from None
    click.echo(f"pidsync bench {scenario}: starting ({len(SCENARIOS)} scenarios known)", err=True)
    outcome = result(scenario, quick, run(quick))
    click.echo(summary(outcome))
    if json_out is not None:
        write_json(json_out, outcome)
    if plot_dir is not None:
        from worker.bench.plots import plot

        for path in plot(outcome, plot_dir):
            click.echo(f"plot: {path}", err=True)
