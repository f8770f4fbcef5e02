"""pidsync's processes in a chaos run, each restarted when it dies (as systemd's
``Restart=always`` or a Kubernetes pod would), and found by what they hold: which worker
process has a given TCP connection open, which scheduler holds the leader's lock.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

from worker.bench.stack import spawn, stop_process


@dataclass
class Managed:
    """A pidsync process (with the processes it forks) and how to start it again."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[str] | None = None
    starts: int = 0
    _out: IO[str] | None = field(default=None, repr=False)

    def start(self) -> None:
        if self._out is None:
            self._out = self.log.open("a")
        self.popen = spawn(self.command, self.env, stdout=self._out, stderr=subprocess.STDOUT)
        self.starts += 1

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def ensure(self) -> bool:
        """Start it again if it died; whether it had to be."""
        if self.alive():
            return False
        if self.popen is not None:
            self.popen.wait()
        self.start()
        return True

    def tree(self) -> list[psutil.Process]:
        if not self.alive() or self.popen is None:
            return []
        try:
            root = psutil.Process(self.popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def leaves(self) -> list[psutil.Process]:
        """The processes of the tree that fork nothing: a dramatiq worker's working ones."""
        tree = self.tree()
        parents = set()
        for proc in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                parents.add(proc.ppid())
        return [proc for proc in tree if proc.pid not in parents and _running(proc)]

    def kill(self, proc: psutil.Process | None = None) -> bool:
        """SIGKILL one process of the tree (default: the whole process group)."""
        try:
            if proc is None:
                if self.popen is None:
                    return False
                os.killpg(self.popen.pid, signal.SIGKILL)
            else:
                proc.send_signal(signal.SIGKILL)
        except (ProcessLookupError, psutil.NoSuchProcess):
            return False
        return True

    def stop(self) -> None:
        if self.popen is not None:
            stop_process(self.popen, timeout=15)
        if self._out is not None:
            self._out.close()
            self._out = None


def _running(proc: psutil.Process) -> bool:
    """Not a process killed already and not yet reaped (a zombie): killing it is no kill."""
    try:
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def owner_of_port(procs: list[Managed], port: int) -> tuple[Managed, psutil.Process] | None:
    """The process (of ``procs``' trees) whose TCP connection has local port ``port``."""
    for managed in procs:
        for proc in managed.tree():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                for conn in proc.net_connections(kind="tcp"):
                    if conn.laddr and conn.laddr.port == port:
                        return managed, proc
    return None


def pidsync_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "worker.cli", *args]
