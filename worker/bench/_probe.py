"""Loaded into a benchmarked process (``dramatiq ... worker.bench._probe``) when
``PIDSYNC_BENCH_PROBE_DIR`` is set: counts every SQL statement the process runs (calls, total
time, the last parameters) and, when the bench asks (a file ``explain`` in that folder),
``EXPLAIN (ANALYZE, BUFFERS)``s its costliest reads and updates with their last parameters, in a
transaction rolled back, so the plans are those of the real queries on the real data.

It writes ``<pid>.json`` into the folder every second. Nothing happens without the variable.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

EXPLAIN_TOP = 15


class _Probe:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.stats: dict[str, list[Any]] = {}  # statement -> [calls, seconds, last params]
        self.engine: Engine | None = None
        self.pid = 0
        self.local = threading.local()

    def before(self, conn: Connection, *_args: Any) -> None:
        self.local.started = time.perf_counter()
        if self.pid != os.getpid():
            with self.lock:  # started on first use in each process: dramatiq forks after imports
                if self.pid != os.getpid():
                    self.pid = os.getpid()
                    self.engine = conn.engine
                    threading.Thread(target=self.run, daemon=True).start()

    def after(
        self, _conn: Connection, _cursor: Any, statement: str, params: Any, *_args: Any
    ) -> None:
        spent = time.perf_counter() - getattr(self.local, "started", time.perf_counter())
        with self.lock:
            entry = self.stats.setdefault(statement, [0, 0.0, None])
            entry[0] += 1
            entry[1] += spent
            entry[2] = params

    def run(self) -> None:
        while True:
            time.sleep(1)
            if self.dump():
                return

    def dump(self) -> bool:
        """Write the figures (and the plans once asked for them); whether the plans are in."""
        with self.lock:
            rows = {s: [c, t] for s, (c, t, _p) in self.stats.items()}
        plans = self.explain() if (self.folder / "explain").exists() else None
        document: dict[str, Any] = {"statements": rows}
        if plans is not None:
            document["plans"] = plans
        out = self.folder / f"{os.getpid()}.json"
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(document))
        tmp.replace(out)
        return plans is not None

    def explain(self) -> dict[str, dict[str, str]]:
        """The plan of each costly read or update, with the indexes as they are and, when
        ``PIDSYNC_BENCH_PROBE_WITHOUT`` names indexes, without them (dropped in a transaction
        rolled back): the before and after of an index, on the same data, in one run."""
        assert self.engine is not None  # noqa: S101 - set before the thread starts
        without = [i for i in os.environ.get("PIDSYNC_BENCH_PROBE_WITHOUT", "").split(",") if i]
        with self.lock:
            costly = sorted(self.stats.items(), key=lambda kv: -kv[1][1])
        plans: dict[str, dict[str, str]] = {}
        for statement, (_calls, _seconds, params) in costly:
            verb = statement.lstrip().split(None, 1)[0].upper()
            if verb not in {"SELECT", "UPDATE", "DELETE"}:  # writes of one row grow with nothing
                continue
            if len(plans) >= EXPLAIN_TOP:
                break
            plans[statement] = {"with": self._plan(statement, params, [])}
            if without:
                plans[statement]["without"] = self._plan(statement, params, without)
        return plans

    def _plan(self, statement: str, params: Any, drop: list[str]) -> str:
        assert self.engine is not None  # noqa: S101 - set before the thread starts
        with self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                for index in drop:
                    conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{index}"')
                result = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                return "\n".join(row[0] for row in result)
            except Exception as exc:  # a plan we cannot get is reported, not fatal
                return f"(no plan: {exc})"
            finally:
                transaction.rollback()


_folder = os.environ.get("PIDSYNC_BENCH_PROBE_DIR")
if _folder:
    _probe = _Probe(Path(_folder))
    event.listen(Engine, "before_cursor_execute", _probe.before)
    event.listen(Engine, "after_cursor_execute", _probe.after)
    # A process that exits on its own (``scheduler --once``) leaves its figures too.
    atexit.register(lambda: _probe.engine is not None and _probe.dump())
