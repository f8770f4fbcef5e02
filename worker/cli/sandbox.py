"""``pidsync sandbox``: run the simulators on one port until SIGINT/SIGTERM."""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from types import FrameType


def _describe(info: dict[str, Any]) -> str:
    lines = ["pidsync sandbox is running.", ""]
    width = max(len(key) for key in info if key != "env")
    lines += [f"  {key.ljust(width)}  {value}" for key, value in info.items() if key != "env"]
    lines += ["", "Environment for pidsync:", ""]
    lines += [f"  export {name}={value}" for name, value in info["env"].items()]
    lines += ["", "Stop with Ctrl-C."]
    return "\n".join(lines)


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8900,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free port).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object (URLs, credentials, env) on stdout.",
)
@click.option(
    "--state-file",
    type=click.Path(dir_okay=False),
    help="Restore state from / save it to this file.",
)
@click.option(
    "--crossref-delay",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Seconds a deposit stays queued, and then in process.",
)
@click.option(
    "--datacite-limit",
    type=click.IntRange(min=0),
    default=3000,
    show_default=True,
    help="DataCite requests per 5 minutes per repository (0: no limit).",
)
@click.option(
    "--orcid-rate",
    type=click.FloatRange(min=0),
    default=24.0,
    show_default=True,
    help="ORCID requests per second per client (0: no limit).",
)
@click.option(
    "--orcid-burst",
    type=click.IntRange(min=1),
    default=40,
    show_default=True,
    help="ORCID burst size per client.",
)
@click.option(
    "--crossref-api-limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Crossref REST requests per second (0: no limit).",
)
def sandbox(
    host: str,
    port: int,
    as_json: bool,
    state_file: str | None,
    crossref_delay: float,
    datacite_limit: int,
    orcid_rate: float,
    orcid_burst: int,
    crossref_api_limit: int,
) -> None:
    """Run local ORCID, DataCite, Crossref and doi.org simulators (with fault injection)."""
    from worker.sandbox.ratelimit import BucketSpec, WindowSpec
    from worker.sandbox.server import Sandbox

    simulator = Sandbox(
        orcid_rate=BucketSpec(rate=orcid_rate, burst=orcid_burst),
        datacite_limit=WindowSpec(datacite_limit, 300.0),
        crossref_delays=crossref_delay,
        crossref_api_rate=WindowSpec(crossref_api_limit, 1.0),
        state_file=state_file,
    )
    # Handlers before the ready line: a caller may signal as soon as it has read it.
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        simulator.start(host=host, port=port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    info = simulator.info()
    if as_json:
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
    else:
        click.echo(_describe(info))
    while not stopping.wait(0.5):
        pass
    simulator.stop()
    click.echo("sandbox stopped", err=True)


if __name__ == "__main__":
    sandbox()
