"""What the chaos run breaks, and when: a schedule drawn from ``random.Random(seed)`` alone, so
the same seed replays the same kills, restarts and faults at the same moments of the run.

The schedule is data (:class:`Disruption` rows, sorted by time); :mod:`worker.chaos.run` carries
it out against the live processes and servers. A :class:`Profile` says how many of each kind a
run gets: :data:`FULL` meets the issue's floor (at least 20 worker kills, some inside the window
between an agency's acceptance and the local commit, the web and the scheduler's leader killed,
three restarts each of Redis and PostgreSQL, a 30 s outage of each agency, rate-limit pressure);
:data:`QUICK` is the CI-sized run (a few kills, one restart of each server).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

#: The agencies pidsync writes to, each given one outage.
AGENCIES = ("datacite", "crossref", "orcid")


class Kind(enum.StrEnum):
    KILL_WORKER = "kill_worker"  # SIGKILL one dramatiq worker process, at a random moment
    KILL_IN_WINDOW = "kill_in_window"  # SIGKILL the worker whose agency write is answering
    KILL_WEB = "kill_web"
    KILL_SCHEDULER_LEADER = "kill_scheduler_leader"
    RESTART_REDIS = "restart_redis"  # SIGKILL the broker and start it on its own data
    RESTART_POSTGRES = "restart_postgres"  # pg_ctl stop -m immediate, then start
    OUTAGE = "outage"  # the agency answers 503 to everything for ``seconds``
    PRESSURE_ON = "pressure_on"  # tight rate limits at the agencies
    PRESSURE_OFF = "pressure_off"


@dataclass(frozen=True)
class Disruption:
    """One thing to break, ``at`` seconds after the traffic started. ``target``: which worker
    group (by index) for a kill, which agency for an outage, else empty."""

    at: float
    kind: Kind
    target: str = ""
    seconds: float = 0.0  # how long an outage lasts

    def describe(self) -> str:
        what = f"{self.kind.value} {self.target}".strip()
        if self.seconds:
            what += f" for {self.seconds:.0f}s"
        return f"t+{self.at:6.1f}s {what}"


@dataclass(frozen=True)
class Profile:
    """How much a run breaks, over how long."""

    duration: float  # seconds of traffic over which the disruptions are spread
    worker_kills: int  # at random moments
    window_kills: int  # aimed at a worker whose agency write is applied and not yet answered
    web_kills: int
    scheduler_kills: int
    redis_restarts: int
    postgres_restarts: int
    outage_seconds: float  # one outage of each agency
    pressure_windows: int  # spells of tight rate limits, each a tenth of the run

    def __post_init__(self) -> None:
        counts = (
            self.worker_kills, self.window_kills, self.web_kills, self.scheduler_kills,
            self.redis_restarts, self.postgres_restarts, self.pressure_windows,
        )  # fmt: skip
        if self.duration <= 0 or min(counts) < 0 or self.outage_seconds < 0:
            raise ValueError("a profile's duration must be positive and its counts not negative")


FULL = Profile(
    duration=480.0, worker_kills=16, window_kills=8, web_kills=2, scheduler_kills=2,
    redis_restarts=3, postgres_restarts=3, outage_seconds=30.0, pressure_windows=2,
)  # fmt: skip
QUICK = Profile(
    duration=60.0, worker_kills=3, window_kills=2, web_kills=1, scheduler_kills=1,
    redis_restarts=1, postgres_restarts=1, outage_seconds=10.0, pressure_windows=1,
)  # fmt: skip


def _spread(dice: random.Random, count: int, start: float, end: float) -> list[float]:
    """``count`` moments in [start, end), one in each equal slice (so restarts of one server
    do not pile up at one moment), jittered within its slice."""
    width = (end - start) / max(count, 1)
    return [round(start + width * (i + dice.random()), 1) for i in range(count)]


def schedule(seed: int, profile: Profile, worker_groups: int) -> list[Disruption]:
    """Every disruption of a run, sorted by time; a pure function of its arguments."""
    if worker_groups < 1:
        raise ValueError("at least one worker group to kill")
    dice = random.Random(seed)  # noqa: S311 - a replayable schedule, not a secret
    end = profile.duration

    def group() -> str:
        return str(dice.randrange(worker_groups))

    plan = [
        Disruption(at, Kind.KILL_WORKER, group())
        for at in _spread(dice, profile.worker_kills, 0.05 * end, 0.95 * end)
    ]
    spans = (
        (Kind.KILL_IN_WINDOW, profile.window_kills, 0.1, 0.9),
        (Kind.KILL_WEB, profile.web_kills, 0.1, 0.9),
        (Kind.KILL_SCHEDULER_LEADER, profile.scheduler_kills, 0.1, 0.9),
        (Kind.RESTART_REDIS, profile.redis_restarts, 0.15, 0.85),
        (Kind.RESTART_POSTGRES, profile.postgres_restarts, 0.15, 0.85),
    )
    for kind, count, first, last in spans:
        plan.extend(Disruption(at, kind) for at in _spread(dice, count, first * end, last * end))
    if profile.outage_seconds > 0:
        agencies = list(AGENCIES)
        dice.shuffle(agencies)
        moments = _spread(dice, len(agencies), 0.1 * end, 0.8 * end)
        plan.extend(
            Disruption(at, Kind.OUTAGE, agency, profile.outage_seconds)
            for agency, at in zip(agencies, moments, strict=True)
        )
    for at in _spread(dice, profile.pressure_windows, 0.05 * end, 0.85 * end):
        plan.append(Disruption(at, Kind.PRESSURE_ON))
        plan.append(Disruption(round(at + end / 10, 1), Kind.PRESSURE_OFF))
    return sorted(plan, key=lambda d: (d.at, d.kind.value, d.target))


def counts(plan: list[Disruption]) -> dict[str, int]:
    """How many of each kind a schedule holds (the report's planned figures)."""
    tally = {kind.value: 0 for kind in Kind}
    for disruption in plan:
        tally[disruption.kind.value] += 1
    return tally
