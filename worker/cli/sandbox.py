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


#: The intake client the printed environment sets up: pidsync accepts events signed by it, and
#: ``pidsync emit`` / ``status`` (and the docs' examples) sign as it.
SANDBOX_CLIENT = "sandbox-cris"
#: The Crossref notify endpoint's name the printed environment registers with each deposit.
SANDBOX_NOTIFY_ENDPOINT = "pidsync-sandbox"


def with_pidsync(info: dict[str, Any], pidsync_url: str) -> dict[str, Any]:
    """``info`` plus what pidsync itself needs to run against this sandbox: an intake client
    (and the same client for ``pidsync emit``), the Crossref notification callback pointing at
    pidsync's web process, and the ORCID redirect URI. Secrets are new on every start."""
    import secrets

    base = pidsync_url.rstrip("/")
    intake_secret = secrets.token_urlsafe(24)
    callback = f"{base}/webhooks/crossref/{secrets.token_urlsafe(24)}"
    pidsync = {
        "url": base,
        "intake_client": {"id": SANDBOX_CLIENT, "secret": intake_secret},
        "crossref_callback_url": callback,
        "orcid_callback_url": f"{base}/orcid/callback",
    }
    env = {
        **info["env"],
        "PIDSYNC_INTAKE_CLIENTS": f"{SANDBOX_CLIENT}:{intake_secret}",
        "PIDSYNC_EMIT_URL": base,
        "PIDSYNC_EMIT_CLIENT": SANDBOX_CLIENT,
        "PIDSYNC_EMIT_SECRET": intake_secret,
        "PIDSYNC_CROSSREF_NOTIFY_URL": callback,
        "PIDSYNC_CROSSREF_NOTIFY_ENDPOINT": SANDBOX_NOTIFY_ENDPOINT,
        "PIDSYNC_ORCID_CALLBACK_URL": pidsync["orcid_callback_url"],
    }
    return {**info, "pidsync": pidsync, "env": env}


def _describe(info: dict[str, Any]) -> str:
    lines = ["pidsync sandbox is running.", ""]
    shown = [key for key in info if key not in ("env", "pidsync")]
    width = max(len(key) for key in shown)
    lines += [f"  {key.ljust(width)}  {info[key]}" for key in shown]
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
    help="Print one JSON object on stdout: URLs, credentials, and in `env` every PIDSYNC_* "
    "variable pidsync needs to run against this sandbox.",
)
@click.option(
    "--pidsync-url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Where pidsync's web process will listen (for the callback URLs it is given).",
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
    pidsync_url: str,
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
    info = with_pidsync(simulator.info(), pidsync_url)
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
