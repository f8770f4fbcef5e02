"""One write at a time per ORCID record, across every worker process (a Redis lock).

ORCID allows one non-idempotent call per record at a time; two workers placing different works
on one record would otherwise race (and at worst meet 409s). The lock is a Redis key set with
``NX`` and a short expiry, renewed while it is held (one thread per process extends every
lock the process holds, a third of the expiry apart), so a SIGKILLed worker's lock frees
itself within ``ttl`` seconds however long a live holder's call takes (the chaos run: a 120 s
expiry held three records for two minutes after their workers died, every message for them
spinning and postponing). Released only by its holder (a compare-and-delete script). Waiting
is short; a longer wait re-runs the message later through :class:`~worker.errors.Postpone`,
which spends no retry.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from worker.errors import Postpone

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RecordLocks:
    """``with locks.hold(orcid): ...``: exclusive writing to one ORCID record."""

    def __init__(
        self,
        redis_client: Any,
        *,
        ttl: float = 30.0,
        wait: float = 3.0,
        prefix: str = "pidsync:orcid:record-lock",
    ) -> None:
        self.redis = redis_client
        self.ttl_ms = int(ttl * 1000)
        self.wait = wait
        self.prefix = prefix
        self._release = redis_client.register_script(_RELEASE)
        self._extend = redis_client.register_script(_EXTEND)
        self._held: dict[str, str] = {}  # key -> token, for the renewer
        self._guard = threading.Lock()
        self._renewer: threading.Thread | None = None

    def key(self, orcid: str) -> str:
        return f"{self.prefix}:{orcid}"

    def try_acquire(self, orcid: str) -> str | None:
        """The holder's token, or None when another holds the record."""
        token = secrets.token_hex(16)
        key = self.key(orcid)
        if not self.redis.set(key, token, nx=True, px=self.ttl_ms):
            return None
        with self._guard:
            self._held[key] = token
            if self._renewer is None or not self._renewer.is_alive():
                self._renewer = threading.Thread(
                    target=self._renew, name="orcid-record-locks", daemon=True
                )
                self._renewer.start()
        return token

    def release(self, orcid: str, token: str) -> None:
        key = self.key(orcid)
        with self._guard:
            if self._held.get(key) == token:
                del self._held[key]
        self._release(keys=[key], args=[token])

    def _renew(self) -> None:
        """Extend every lock this process holds, a third of the expiry apart, for as long as
        it holds any. A failed extension (Redis restarting) is tried again on the next turn;
        the expiry leaves two turns of slack."""
        while True:
            time.sleep(self.ttl_ms / 3000)
            with self._guard:
                held = list(self._held.items())
                if not held:
                    self._renewer = None
                    return
            for key, token in held:
                try:
                    self._extend(keys=[key], args=[token, self.ttl_ms])
                except Exception:  # noqa: S112 - Redis away for a moment: next turn
                    continue

    @contextmanager
    def hold(self, orcid: str) -> Iterator[None]:
        deadline = time.monotonic() + self.wait
        while (token := self.try_acquire(orcid)) is None:
            if time.monotonic() >= deadline:
                raise Postpone(
                    0.5 + random.random(),  # noqa: S311 - jitter, not a secret
                    f"ORCID record {orcid} is being written by another worker",
                )
            time.sleep(0.01 + random.random() * 0.03)  # noqa: S311 - jitter, not a secret
        try:
            yield
        finally:
            self.release(orcid, token)
