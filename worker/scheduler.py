"""The scheduler process: periodic work, one leader at a time (a Postgres advisory lock).

Any number of scheduler processes may run; the one holding the lock works, the others wait to
take over. The lock lives on a dedicated connection, so it is released if the leader dies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

from worker.db import Database
from worker.events.sweep import resend_stalled_events
from worker.logging import get_logger
from worker.metrics.registry import SCHEDULER_JOBS, SCHEDULER_ROWS, scheduler_leader

if TYPE_CHECKING:
    from worker.bootstrap import Runtime

log = get_logger(__name__)

#: Advisory lock key: "pidsync" scheduler leadership.
LEADER_LOCK = 0x706964_73796E63


@dataclass
class Job:
    name: str
    every: float
    # Each job runs its own transactions (worker.sweeping): one per row it handles.
    run: Callable[[Database], int]
    last: float = field(default=0.0)


def default_jobs(rt: Runtime) -> list[Job]:
    """The periodic jobs, each bound to what it needs from the process's runtime."""
    from worker.notify import sweep as notify
    from worker.orcid import sweep as orcid
    from worker.orcid.sections import sweep as sections
    from worker.registrars import sweep as dois

    settings = rt.settings
    every = settings.sweep_interval_seconds
    return [
        Job("resend_stalled_events", every, partial(resend_stalled_events, settings=settings)),
        Job("resend_stalled_dois", every, partial(dois.resend_stalled, settings=settings)),
        Job(
            "notify_stalled", every, partial(notify.resend_stalled_notifications, settings=settings)
        ),
        Job("crossref_deposit_upkeep", every, partial(dois.deposit_upkeep, settings=settings)),
        Job(
            "reconcile_dois",
            settings.doi.reconcile_sweep_seconds,
            partial(dois.schedule_reconciliation, settings=settings),
        ),
        Job(
            "orcid_stalled_placements",
            every,
            partial(orcid.resend_stalled_placements, settings=settings),
        ),
        Job(
            "orcid_stalled_items",
            every,
            partial(sections.resend_stalled_items, settings=settings),
        ),
        Job(
            "orcid_heal_waiting_items",
            every,
            partial(sections.heal_waiting_items, settings=settings),
        ),
        Job(
            "orcid_heal_waiting_placements",
            every,
            partial(orcid.heal_waiting_placements, settings=settings),
        ),
        Job(
            "orcid_grant_effects",
            every,
            partial(orcid.resend_overdue_grant_effects, settings=settings),
        ),
        Job(
            "orcid_token_health",
            settings.orcid.token_check_sweep_seconds,
            partial(orcid.queue_token_checks, settings=settings),
        ),
        Job(
            "orcid_webhook_upkeep",
            settings.orcid.webhook_sweep_seconds,
            partial(orcid.webhook_upkeep, deps=rt.orcid),
        ),
        Job(
            "orcid_consent_state_purge",
            settings.orcid.state_purge_sweep_seconds,
            partial(orcid.purge_consent_states, settings=settings),
        ),
    ]


def try_lead(conn: Connection) -> bool:
    return bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK}).scalar())


def _keepalives(conn: Connection, timeout: float) -> None:
    """Have the server probe this session after ``timeout / 3`` idle seconds, then every
    ``timeout / 6`` seconds, and drop it after 4 unanswered probes (about ``timeout``)."""
    idle = max(1, int(timeout / 3))
    interval = max(1, int(timeout / 6))
    for name, value in (
        ("tcp_keepalives_idle", idle),
        ("tcp_keepalives_interval", interval),
        ("tcp_keepalives_count", 4),
    ):
        conn.execute(text("SELECT set_config(:n, :v, false)"), {"n": name, "v": str(value)})


def run_due_jobs(database: Database, jobs: list[Job], now: float) -> None:
    for job in jobs:
        if now - job.last < job.every:
            continue
        job.last = now
        try:
            count = job.run(database)
            SCHEDULER_JOBS.labels(job=job.name, outcome="ok").inc()
            if count:
                SCHEDULER_ROWS.labels(job=job.name).inc(count)
                log.info("job_ran", job=job.name, count=count)
        except Exception as exc:
            SCHEDULER_JOBS.labels(job=job.name, outcome="error").inc()
            log.exception("job_failed", job=job.name, error=str(exc))


def run_scheduler(
    database: Database,
    jobs: list[Job],
    *,
    stop: threading.Event,
    tick: float = 1.0,
    once: bool = False,
    lock_timeout: float | None = None,
) -> bool:
    """Run until ``stop`` is set. Returns whether this process was ever the leader.

    ``lock_timeout``: how long after the leader's host goes silent (power lost, network cut:
    no connection close reaches Postgres) the server drops its connection and so its lock,
    through TCP keepalives on this session; a killed process's lock goes at once."""
    led = False
    scheduler_leader().set(0)
    with database.engine.connect() as conn:
        if lock_timeout is not None:
            _keepalives(conn, lock_timeout)
        conn.commit()
        while not stop.is_set():
            if not led:
                led = try_lead(conn)
                conn.commit()
                if led:
                    scheduler_leader().set(1)
                    log.info("scheduler_leader")
            if led:
                # The lock lives as long as this session: if it is gone (the server dropped
                # us), another scheduler may lead now, so stop here (the supervisor restarts).
                conn.execute(text("SELECT 1"))
                conn.commit()
                run_due_jobs(database, jobs, time.monotonic())
            if once:
                break
            stop.wait(tick)
        if led:
            # Released at once on a graceful stop, so a standby leads within its next tick
            # rather than when this connection is noticed gone.
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LEADER_LOCK})
            conn.commit()
            scheduler_leader().set(0)
            log.info("scheduler_leader_released")
    return led
