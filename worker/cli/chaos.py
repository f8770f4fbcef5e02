"""``pidsync chaos [--quick] [--events N] [--seed S] [--json OUT]``: the reliability run.

Starts pidsync's processes on private servers, sends traffic from two tenants while killing,
restarting and faulting things on the seed's schedule, waits for quiescence and checks the
invariants (:mod:`worker.chaos`). Exit 0 when every invariant holds, 1 on any violation (or a
run whose servers or processes failed), 2 on bad arguments.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("chaos")
@click.option(
    "--quick", is_flag=True, help="The CI-sized run: a few kills, one restart of each server."
)
@click.option(
    "--events", type=click.IntRange(min=1), help="Events to send (default 300 quick, 3000 full)."
)
@click.option("--seed", type=int, default=17, show_default=True, help="Replays the same schedule.")
@click.option(
    "--broker", type=click.Choice(["redis", "rabbitmq"]), default="redis", show_default=True,
    help="The message broker (Redis stays the rate limiter's store either way).",
)  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1, max=16), default=3, show_default=True,
              help="Worker groups (one dramatiq process each).")  # fmt: skip
@click.option("--keep", is_flag=True, help="Keep the run's directory (logs, data) afterwards.")
@click.option(
    "--json", "json_out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the figures as one JSON object to this file.",
)  # fmt: skip
def chaos(
    quick: bool, events: int | None, seed: int, broker: str, workers: int, keep: bool,
    json_out: Path | None,
) -> None:  # fmt: skip
    """Break pidsync on purpose, repeatably, and check nothing was lost or duplicated."""
    import signal
    import sys

    from worker.bench.stack import StackError
    from worker.chaos.report import summary, violations, write_json
    from worker.chaos.run import Options, execute

    options = Options(
        events=events or (300 if quick else 3000), seed=seed, quick=quick, broker=broker,
        worker_groups=workers, keep=keep,
    )  # fmt: skip
    # A supervisor's SIGTERM stops the run as Ctrl-C would: every server and process it started
    # is stopped on the way out, none left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        figures = execute(options, note=lambda line: click.echo(line, err=True))
    except StackError as exc:
        raise click.ClickException(
            f"the run could not go on (its servers or processes failed): {exc}"
        ) from None
    click.echo(summary(figures))
    if json_out is not None:
        write_json(json_out, figures)
    if violations(figures):
        raise SystemExit(1)
