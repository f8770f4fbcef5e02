"""How every scheduler sweep runs: pick the keys of the rows due in one short transaction, then
handle each row in its own transaction.

A row the handler cannot process (a value the driver cannot read back, a reference gone, a bug)
is logged and parked with its reason on the row, in a transaction of its own, and the sweep goes
on with the next row: one bad row never stalls the others, nor the next run. The pick selects
keys only (never whole rows), so a row that cannot be loaded cannot break the pick either; each
handler locks its row (skipping one a worker holds) and checks it is still due.

A row whose handler must wait for a lock another process holds (a second row it locks, an
advisory lock) waits at most ``lock_timeout`` seconds; then it is left to the next run, neither
parked nor failed, and the sweep goes on: the sweeps run one after another in the scheduler's
one loop, so one held lock must never stop them all (issue 17).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session

from worker.db import Database, is_lock_timeout
from worker.errors import error_text
from worker.logging import get_logger

log = get_logger(__name__)

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class RowSweep(Generic[K]):
    """One sweep over rows. ``handle`` returns whether it did something (counted); ``park``
    records ``reason`` on the row so the status API shows it and the pick skips it after."""

    name: str
    pick: Callable[[Session], Sequence[K]]
    handle: Callable[[Session, K], bool]
    park: Callable[[Session, K, str], None]


_SET_LOCK_TIMEOUT = text("SELECT set_config('lock_timeout', :ms, true)")


def run_sweep(
    database: Database, sweep: RowSweep[K], *, error_chars: int, lock_timeout: float = 0.0
) -> int:
    """Run ``sweep`` once; returns how many rows it handled (parked rows and rows left busy
    not counted). ``lock_timeout``: seconds a row's handler waits for a lock (0: the
    session's own limit)."""
    with database.session() as session:
        keys = list(sweep.pick(session))
    handled = 0
    busy = 0
    for key in keys:
        try:
            with database.session() as session:
                if lock_timeout > 0:
                    session.execute(_SET_LOCK_TIMEOUT, {"ms": str(int(lock_timeout * 1000))})
                handled += bool(sweep.handle(session, key))
        except Exception as exc:
            if is_lock_timeout(exc):
                busy += 1  # another process holds a lock it needs: the next run tries again
                continue
            _park(database, sweep, key, error_text(exc, error_chars), error_chars)
    if busy:
        log.warning("sweep_rows_busy", sweep=sweep.name, rows=busy)
    return handled


def _park(database: Database, sweep: RowSweep[K], key: K, reason: str, error_chars: int) -> None:
    log.error("sweep_row_parked", sweep=sweep.name, row=str(key), reason=reason)
    try:
        with database.session() as session:
            sweep.park(session, key, f"{sweep.name}: could not handle this row: {reason}")
    except Exception as exc:
        log.exception(
            "sweep_row_not_parked",
            sweep=sweep.name,
            row=str(key),
            error=error_text(exc, error_chars),
        )
