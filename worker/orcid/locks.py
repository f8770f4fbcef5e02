"""One write at a time per ORCID record, across every worker process (a Redis lock).

ORCID allows one non-idempotent call per record at a time; two workers placing different works
on one record would otherwise race (and at worst meet 409s). The lock is a Redis key set with
``NX`` and an expiry (so a dead worker's lock frees itself), released only by its holder (a
compare-and-delete script). Waiting is short; a longer wait re-runs the message later through
:class:`~worker.errors.Postpone`, which spends no retry.
"""

from __future__ import annotations

import random
import secrets
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


class RecordLocks:
    """``with locks.hold(orcid): ...``: exclusive writing to one ORCID record."""

    def __init__(
        self,
        redis_client: Any,
        *,
        ttl: float = 120.0,
        wait: float = 3.0,
        prefix: str = "pidsync:orcid:record-lock",
    ) -> None:
        self.redis = redis_client
        self.ttl_ms = int(ttl * 1000)
        self.wait = wait
        self.prefix = prefix
        self._release = redis_client.register_script(_RELEASE)

    def key(self, orcid: str) -> str:
        return f"{self.prefix}:{orcid}"

    def try_acquire(self, orcid: str) -> str | None:
        """The holder's token, or None when another holds the record."""
        token = secrets.token_hex(16)
        if self.redis.set(self.key(orcid), token, nx=True, px=self.ttl_ms):
            return token
        return None

    def release(self, orcid: str, token: str) -> None:
        self._release(keys=[self.key(orcid)], args=[token])

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
